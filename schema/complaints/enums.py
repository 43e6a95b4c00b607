"""The complaint domain's GraphQL enums, each value described in English and 中文."""

from __future__ import annotations

from enum import Enum

from schema.shared.base import bilingual_enum
from store import complaints as rows
from store.complaints import Category, Channel, ComplaintStatus, Complexity, SlaState
from store.outbox import OutboxStatus

ChannelEnum = bilingual_enum(
    Channel,
    "How a complaint arrived. 投诉渠道。",
    {
        "HOTLINE": "Customer service hotline 客服热线",
        "EMAIL": "E-mail 电子邮件",
        "ONLINE": "Online platform 线上平台",
        "BRANCH_COUNTER": "Branch counter 网点柜台",
        "REGULATOR_REFERRAL": "Referred by a regulator 监管转办",
    },
)
CategoryEnum = bilingual_enum(
    Category,
    "What a complaint is about. 投诉类别。",
    {
        "SERVICE_ATTITUDE": "Service attitude 服务态度",
        "FEES_AND_CHARGES": "Fees and charges 收费",
        "PRODUCT_MIS_SELLING": "Product mis-selling 产品销售",
        "ACCOUNT_AND_PAYMENT": "Accounts and payments 账户与支付",
        "LOANS_AND_CREDIT": "Loans and credit 贷款与信用",
        "CARDS": "Bank cards 银行卡",
        "DIGITAL_CHANNELS": "Mobile and online banking 电子渠道",
        "PERSONAL_INFORMATION": "Personal information 个人信息",
        "OTHER": "Other 其他",
    },
)
ComplaintStatusEnum = bilingual_enum(
    ComplaintStatus,
    "Where a complaint stands. 投诉状态。",
    {
        "REGISTERED": "Registered, waiting for a handler 已登记",
        "INVESTIGATING": "Being investigated 调查处理中",
        "DECIDED": "Decision delivered 已作出处理决定",
        "UNDER_REVIEW": "Under review by the superior unit 复核中",
        "CLOSED": "Closed 已办结",
        "WITHDRAWN": "Withdrawn by the customer 客户已撤回",
        "MERGED": "Merged into an earlier complaint of the same matter 已合并",
    },
)
PauseReasonEnum = bilingual_enum(
    rows.PauseReason,
    "Why the decision clock stands still (CMP-7). 中止计时原因。",
    {
        "APPRAISAL": "External appraisal or assessment 第三方鉴定、评估",
        "TESTING": "External testing 第三方检测",
        "MEDIATION": "Mediation 调解",
    },
)
ComplexityEnum = bilingual_enum(
    Complexity,
    "How long a complaint may take (natural days). 复杂程度。",
    {
        "STANDARD": "Standard: 15 days 一般（15日）",
        "COMPLEX": "Complex: 30 days 复杂（30日）",
        "ESPECIALLY_COMPLEX": "Especially complex, approved: 60 days 特别复杂（60日）",
    },
)
SlaStateEnum = bilingual_enum(
    SlaState,
    "Deadline health of a complaint (CMP-6). 时限状态。",
    {
        "ON_TRACK": "On track 正常",
        "AT_RISK": "Deadline near; supervisor warned 临期预警",
        "BREACHED": "A deadline was missed (overdue now, or a step done late); it stays "
        "recorded 已超期",
    },
)
ComplaintEventKind = bilingual_enum(
    rows.ComplaintEventKind,
    "What one step of a complaint's timeline records. 处理记录类型。",
    {
        "REGISTERED": "The complaint was registered 已登记",
        "HANDLER_ASSIGNED": "A handler was assigned 已指派处理人",
        "TASK_REROUTED": "A task the diagram gave the person complained about went to someone "
        "else (recusal) 任务因回避改派",
        "TASK_COMPLETED": "A task of the process was completed 任务已办理",
        "PLAN_MADE": "A resolution plan was made 已制定处理方案",
        "RESOLVED_ON_THE_SPOT": "Resolved on the spot 当场解决",
        "DEADLINE_EXTENDED": "The decision deadline was extended 处理期限已延长",
        "EXTENSION_APPROVED": "Head office approved a further extension 总行批准再延期",
        "EXTENSION_REFUSED": "An extension came after the deadline had passed; the deadline and "
        "its breach stay 延期晚于期限届满，不予延期",
        "DEADLINE_WARNING": "The supervisor was warned of a near deadline 临期预警",
        "DEADLINE_MISSED": "A deadline (the decision's, or a step's) was missed; escalated "
        "超期并升级",
        "REVIEW_DEADLINE_MISSED": "The review deadline was missed; escalated 复核超期并升级",
        "DELIVERY_FAILED": "A message could not be delivered to the customer 告知送达失败",
        "DELIVERY_RECORDED": "Staff recorded how a message was delivered 已登记送达",
        "PROGRESS_UPDATE_SENT": "The customer was told of the progress 已告知处理进展",
        "DECISION_DELIVERED": "The decision was delivered 已送达处理决定",
        "CALLED_BACK": "The customer was called back 已回访",
        "REVIEW_REQUESTED": "The customer requested a review 已申请复核",
        "REVIEWED": "The review was decided 复核已办结",
        "RECTIFICATION_RAISED": "A systemic issue went to head office 已提出整改",
        "RECTIFICATION_CLOSED": "The rectification was closed 整改已完成",
        "CLOSED": "The complaint was closed 已办结",
        "MAJOR_ESCALATED": "A major complaint went to head office at once 重大投诉已上报总行",
        "WITHDRAWN": "The customer withdrew the complaint 客户撤回投诉",
        "MERGED_INTO": "Merged into an earlier complaint 已并入其他投诉",
        "MERGED_FROM": "A repeated complaint was merged into this one 已合并重复投诉",
        "CLOCK_PAUSED": "The decision clock was paused 中止计时",
        "CLOCK_RESUMED": "The decision clock runs again 恢复计时",
    },
)
DeadlineStageEnum = bilingual_enum(
    rows.DeadlineStage,
    "Which clock of a complaint a deadline is (CMP-6). 时限类型。",
    {
        "DECISION": "The decision deadline in force (15/30/60 natural days) 处理决定期限",
        "ASSIGNMENT": "Assigning a handler 指派处理人",
        "CALL_BACK": "Calling the customer back 回访",
        "REVIEW_REQUEST": "The customer's window to ask for a review 复核申请期",
        "REVIEW_DECISION": "Deciding the review 复核决定",
        "RECTIFICATION": "Rectifying a systemic issue 整改",
        "OTHER_TASK": "Another step of the process 其他办理步骤",
        "SUPERVISION": "A branch supervisor supervising an overdue complaint 督办",
        "PROGRESS": "The next progress update to the customer 进展告知",
    },
)
DeadlineEndEnum = bilingual_enum(
    rows.DeadlineEnd,
    "Why a deadline stopped running. 时限结束原因。",
    {
        "MET": "The step was done in time 按时完成",
        "MISSED": "The step was done after the deadline 超期完成",
        "EXTENDED": "Replaced by an extension granted in time 已延期",
        "ENDED": "The step went away (e.g. the window closed) 已结束",
    },
)
CustomerMessageKind = bilingual_enum(
    rows.CustomerMessageKind,
    "What the bank told the customer. 告知类型。",
    {
        "ACKNOWLEDGEMENT": "The complaint was accepted 受理告知",
        "EXTENSION": "The deadline was extended 延期告知",
        "PROGRESS": "How the complaint is progressing 进展告知",
        "DECISION_NOTICE": "The decision 处理决定告知",
        "REVIEW_DECISION": "The review decision 复核决定告知",
        "CLOCK_PAUSED": "The clock stopped for an appraisal, testing or mediation 中止计时告知",
        "CLOCK_RESUMED": "The clock runs again, with the new last day 恢复计时告知",
        "MERGED": "A repeated complaint was merged into the earlier one 合并处理告知",
    },
)
CustomerMessageChannel = bilingual_enum(
    rows.CustomerMessageChannel,
    "How a message reached the customer. 送达方式。",
    {
        "SMS": "Text message 短信",
        "EMAIL": "E-mail 电子邮件",
        "WECHAT": "WeChat 微信",
        "LETTER": "Letter 信函",
        "PHONE": "Telephone 电话",
        "IN_PERSON": "In person 当面送达",
        "MOBILE_APP": "Mobile banking app 手机银行",
    },
)

OutboxStatusEnum = bilingual_enum(
    OutboxStatus,
    "Where a message to the customer is on its way (the outbox). 送达状态。",
    {
        "QUEUED": "Waiting for its channel (no gateway configured yet, or a retry due) 待发送",
        "SENT": "Taken by the channel; its delivery receipt is awaited 已发出",
        "DELIVERED": "The channel answered that it was delivered, or staff recorded how 已送达",
        "FAILED": "Refused by the channel, out of retries, or no address 送达失败",
        "CANCELLED": "Never sent: the complaint ended before it went out 已取消",
    },
)


class _ComplaintAlertKind(Enum):
    MAJOR_COMPLAINT = rows.ALERT_MAJOR
    NO_ELIGIBLE_HOLDER = rows.ALERT_NO_ELIGIBLE_HOLDER


ComplaintAlertKind = bilingual_enum(
    _ComplaintAlertKind,
    "What head office is alerted to (CMP-7). 总行提示类型。",
    {
        "MAJOR_COMPLAINT": "A major complaint was registered 重大投诉",
        "NO_ELIGIBLE_HOLDER": "A task of the complaint has nobody in the bank who may take it "
        "(its only holders are recused) 无可办理人员",
    },
)


class _ComplaintErrorCode(Enum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    TOO_LONG = "TOO_LONG"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NEGATIVE_AMOUNT = "NEGATIVE_AMOUNT"
    PROCESS_NOT_DEPLOYED = "PROCESS_NOT_DEPLOYED"
    PROCESS_STEP_FAILED = "PROCESS_STEP_FAILED"
    EXPRESSION_LIMIT = "EXPRESSION_LIMIT"
    INVALID_HANDLER = "INVALID_HANDLER"
    HANDLER_CONFLICT = "HANDLER_CONFLICT"
    INCONSISTENT = "INCONSISTENT"
    DEADLINE_TOO_LATE = "DEADLINE_TOO_LATE"
    DATE_IN_PAST = "DATE_IN_PAST"
    NOT_OPEN = "NOT_OPEN"
    DIFFERENT_CUSTOMERS = "DIFFERENT_CUSTOMERS"
    NOT_EARLIER = "NOT_EARLIER"
    CLOCK_ALREADY_PAUSED = "CLOCK_ALREADY_PAUSED"
    CLOCK_NOT_PAUSED = "CLOCK_NOT_PAUSED"
    PAUSE_NOT_ALLOWED = "PAUSE_NOT_ALLOWED"
    PAUSE_ALLOWANCE_USED = "PAUSE_ALLOWANCE_USED"
    RECURRED = "RECURRED"
    NO_ADDRESS = "NO_ADDRESS"
    PROOF_FROM_CHANNEL = "PROOF_FROM_CHANNEL"
    NOTICE_NOT_DELIVERED = "NOTICE_NOT_DELIVERED"
    REVIEW_WINDOW_CLOSED = "REVIEW_WINDOW_CLOSED"
    REVIEW_ALREADY_REQUESTED = "REVIEW_ALREADY_REQUESTED"
    NOT_DECIDED = "NOT_DECIDED"
    NOT_SUPERIOR_UNIT = "NOT_SUPERIOR_UNIT"
    INVALID_EXTENSION = "INVALID_EXTENSION"
    EXTENSION_NOT_APPROVED = "EXTENSION_NOT_APPROVED"


ComplaintErrorCode = bilingual_enum(
    _ComplaintErrorCode,
    "Why a complaint's submission, or an answer of one of its tasks, was refused. 投诉错误代码。",
    {
        "INVALID_ID": "Not the global ID of the expected type ID 无效",
        "NOT_FOUND": "No such object 对象不存在",
        "REQUIRED": "A required value is missing 缺少必填项",
        "INVALID": "The value is malformed 格式不正确",
        "TOO_LONG": "The text is too long 文本过长",
        "INVALID_AMOUNT": "Not a valid amount of money 金额无效",
        "NEGATIVE_AMOUNT": "The amount is negative 金额为负",
        "PROCESS_NOT_DEPLOYED": "The complaint process is not deployed 投诉流程未部署",
        "PROCESS_STEP_FAILED": "The complaint process failed at an element 流程步骤失败",
        "EXPRESSION_LIMIT": "An expression of the complaint process exceeded the sandbox's "
        "limits 表达式超出沙箱限制",
        "INVALID_HANDLER": "Not an active complaint handler 处理人无效",
        "HANDLER_CONFLICT": "The person (or, for the handler's tasks, the unit) complained "
        "about takes no part in the complaint: recusal 需回避",
        "INCONSISTENT": "Answers contradict each other 填写内容矛盾",
        "DEADLINE_TOO_LATE": "Beyond the allowed number of days 超出期限",
        "DATE_IN_PAST": "The date lies in the past 日期已过",
        "NOT_OPEN": "The complaint has ended (closed, withdrawn or merged) 投诉已终结",
        "DIFFERENT_CUSTOMERS": "Only complaints of the same customer can be merged 非同一客户",
        "NOT_EARLIER": "The complaint kept must be the earlier one 须并入较早受理的投诉",
        "CLOCK_ALREADY_PAUSED": "The clock is already paused 已在中止计时",
        "CLOCK_NOT_PAUSED": "The clock is not paused 未中止计时",
        "PAUSE_NOT_ALLOWED": "Only an undecided complaint before its deadline can pause "
        "只有未作出决定且未超期的投诉可以中止计时",
        "PAUSE_ALLOWANCE_USED": "The complaint has used all the paused days allowed "
        "中止计时天数已用尽",
        "RECURRED": "The issue recurred after the actions: not ready to close 问题复发，不能销项",
        "NO_ADDRESS": "The customer has no address on this channel 客户无此渠道联系方式",
        "PROOF_FROM_CHANNEL": "On this channel the channel's answer is the proof of delivery, "
        "not a text typed in 该渠道以渠道回执为送达凭证",
        "NOTICE_NOT_DELIVERED": "The decision notice has not reached the customer yet "
        "处理决定尚未送达",
        "REVIEW_WINDOW_CLOSED": "The 30 days to ask for a review, counted from receipt of the "
        "decision, are over 复核申请期限已过",
        "REVIEW_ALREADY_REQUESTED": "A review of this complaint was already requested 已申请复核",
        "NOT_DECIDED": "The complaint has no decision yet 尚未作出处理决定",
        "NOT_SUPERIOR_UNIT": "A review is decided by the superior unit of the handling branch "
        "复核由上级机构作出",
        "INVALID_EXTENSION": "An extension is to 30 or 60 days, never more 延期只能为30日或60日",
        "EXTENSION_NOT_APPROVED": "60 days need head office's recorded approval 再延期需总行批准",
    },
)


class _ComplaintOrderField(Enum):
    ACCEPTED_AT = "ACCEPTED_AT"
    DECISION_DUE_AT = "DECISION_DUE_AT"


ComplaintOrderField = bilingual_enum(
    _ComplaintOrderField,
    "Orderings of complaints. 投诉排序字段。",
    {
        "ACCEPTED_AT": "When it was accepted 受理时间",
        "DECISION_DUE_AT": "The decision deadline 处理期限",
    },
)


class _ComplaintDimension(Enum):
    CATEGORY = "CATEGORY"
    CHANNEL = "CHANNEL"
    UNIT = "UNIT"
    CAUSE = "CAUSE"
    MONTH = "MONTH"


ComplaintDimension = bilingual_enum(
    _ComplaintDimension,
    "How complaint statistics are grouped (CMP-5). 统计维度。",
    {
        "CATEGORY": "By category 按类别",
        "CHANNEL": "By channel 按渠道",
        "UNIT": "By the unit complained about (the handling branch when none was named) "
        "按被投诉机构",
        "CAUSE": "By cause 按原因",
        "MONTH": "By month of acceptance (Beijing time) 按受理月份",
    },
)
