"""Enums of sharing: error codes, statuses, processing methods, access effects."""

from __future__ import annotations

from enum import Enum

from authz.fields import Effect
from authz.policy import AccessAction
from schema.shared.base import bilingual_enum
from store.sharing import ProcessingMethod, ShareGrantStatus, ShareRequestStatus


class _SharingErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    INVALID_ID = "INVALID_ID"
    TOO_LONG = "TOO_LONG"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    UNKNOWN_PURPOSE = "UNKNOWN_PURPOSE"
    UNKNOWN_GROUP = "UNKNOWN_GROUP"
    EXPIRED = "EXPIRED"
    NOT_OF_YOUR_BRANCH = "NOT_OF_YOUR_BRANCH"
    OVERLAPPING = "OVERLAPPING"
    EVIDENCE_REQUIRED = "EVIDENCE_REQUIRED"
    AGREEMENT_REQUIRED = "AGREEMENT_REQUIRED"
    AGREEMENT_NOT_IN_FORCE = "AGREEMENT_NOT_IN_FORCE"
    CONTACT_REQUIRED = "CONTACT_REQUIRED"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_EMAIL = "INVALID_EMAIL"


SharingErrorCode = bilingual_enum(
    _SharingErrorCode,
    "Why a sharing or consent input was refused. 共享与授权同意输入错误代码。",
    {
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed or inconsistent 格式或取值不正确",
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "TOO_LONG": "Too long: text, or a grant's period 文本或期限过长",
        "DUPLICATE": "The same record exists already 记录重复",
        "NOT_FOUND": "The referenced record does not exist 记录不存在",
        "UNKNOWN_ROLE": "Not a staff role a grant may go to 非可授权的员工角色",
        "UNKNOWN_PURPOSE": "Not a known purpose 未知的用途",
        "UNKNOWN_GROUP": "Not a known field group / data category 未知的字段组",
        "EXPIRED": "The end lies in the past 截止时间已过",
        "NOT_OF_YOUR_BRANCH": "A customer of another branch 非本网点客户",
        "OVERLAPPING": "A grant in force shares this already 已有生效的相同授权",
        "EVIDENCE_REQUIRED": "Proof of the consent is required 须保存授权同意凭证",
        "AGREEMENT_REQUIRED": "A confidentiality agreement is required 须有保密协议",
        "AGREEMENT_NOT_IN_FORCE": "The confidentiality agreement is not in force 保密协议未生效",
        "CONTACT_REQUIRED": "A mobile number or e-mail is required 须提供手机号码或电子邮箱",
        "INVALID_PHONE": "Not a mainland mobile number 手机号码无效",
        "INVALID_EMAIL": "Not an e-mail address 电子邮箱无效",
    },
)

ShareRequestStatusEnum = bilingual_enum(
    ShareRequestStatus,
    "Where a data share request stands. 数据对外提供申请状态。",
    {
        "PENDING": "Being approved (consent check, security review) 审批中",
        "APPROVED": "Approved: the data may be handed over 已批准",
        "DENIED": "Refused (no consent in force, or by security) 已拒绝",
    },
)

ShareGrantStatusEnum = bilingual_enum(
    ShareGrantStatus,
    "Whether a share grant works now. 共享授权状态。",
    {
        "SCHEDULED": "Valid from a later time 尚未生效",
        "IN_FORCE": "Works now 生效中",
        "EXPIRED": "Past its expiry 已过期",
        "REVOKED": "Revoked 已撤销",
    },
)

ProcessingMethodEnum = bilingual_enum(
    ProcessingMethod,
    "How the recipient will handle the data (PIPL art. 4, 23). 个人信息处理方式。",
    {
        "COLLECTION": "Collection 收集",
        "STORAGE": "Storage 存储",
        "USE": "Use 使用",
        "PROCESSING": "Processing, e.g. analysis 加工",
        "TRANSMISSION": "Transmission 传输",
        "PROVISION": "Provision to others 提供",
        "DISCLOSURE": "Public disclosure 公开",
        "DELETION": "Deletion 删除",
    },
)

EffectEnum = bilingual_enum(
    Effect,
    "What a caller sees of a personal-data field. 字段访问效果。",
    {"FULL": "Shown in full 明文", "MASKED": "Masked 脱敏显示", "DENIED": "Withheld 不予显示"},
)

AccessActionEnum = bilingual_enum(
    AccessAction,
    "What an access question asks. 访问类型。",
    {
        "READ": "See a field 查看字段",
        "WRITE": "Change a field (FULL: allowed) 修改字段",
        "USE": "Use a right `type:field`, e.g. customer:create (FULL: allowed) 使用权限",
    },
)
