"""The Chinese words for the codes that appear in what the customer reads (CMP-3, CMP-4).

A text to a customer never shows a code (``UPHELD``, ``DECISION_CHANGED``): every value a
message names is looked up here, and a value without a label (a form redeployed with a new
option) is refused rather than sent as a code.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import UserInputError
from store.complaints import CustomerMessageChannel, CustomerMessageKind

# What the decision says about the complaint (the decision notice form's ``outcome``).
OUTCOMES: Mapping[str, str] = {
    "UPHELD": "投诉事项属实，支持您的诉求",
    "PARTIALLY_UPHELD": "投诉事项部分属实，部分支持您的诉求",
    "NOT_UPHELD": "投诉事项不属实，不支持您的诉求",
}

# What the superior unit's review decided (the review form's ``review_outcome``).
REVIEW_OUTCOMES: Mapping[str, str] = {
    "DECISION_UPHELD": "维持原处理决定",
    "DECISION_CHANGED": "变更原处理决定",
}

# How a message reaches the customer (CustomerMessageChannel values).
CHANNELS: Mapping[str, str] = {
    "SMS": "短信",
    "EMAIL": "电子邮件",
    "WECHAT": "微信",
    "LETTER": "信函",
    "PHONE": "电话",
    "IN_PERSON": "当面送达",
    "MOBILE_APP": "手机银行",
}
if {channel.value for channel in CustomerMessageChannel} - set(CHANNELS):
    raise RuntimeError("a message channel has no Chinese name")

# Message kinds, as the subject of an e-mail or letter (CustomerMessageKind values).
MESSAGE_KINDS: Mapping[str, str] = {
    "ACKNOWLEDGEMENT": "投诉受理告知",
    "EXTENSION": "投诉处理延期告知",
    "PROGRESS": "投诉处理进展告知",
    "DECISION_NOTICE": "投诉处理决定书",
    "REVIEW_DECISION": "投诉复核决定告知",
    "CLOCK_PAUSED": "投诉处理中止计时告知",
    "CLOCK_RESUMED": "投诉处理恢复计时告知",
    "MERGED": "重复投诉合并处理告知",
}
# Every kind the store knows has its subject: a new kind without one fails at start-up, not
# when the first customer is told.
_UNLABELLED = {kind.value for kind in CustomerMessageKind} - set(MESSAGE_KINDS)
if _UNLABELLED:
    raise RuntimeError(f"message kinds without a Chinese subject: {sorted(_UNLABELLED)}")

HEAD_OFFICE = "总行"


def label(labels: Mapping[str, str], value: str, field: tuple[str, ...]) -> str:
    """The Chinese label of ``value``; a value without one is refused, naming ``field``."""
    found = labels.get(value)
    if found is None:
        raise UserInputError.one(field, "INVALID", "is not one of the known values")
    return found
