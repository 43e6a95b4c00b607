"""Proof of delivery that is not made up (CMP-3; 银行业保险业消费投诉处理管理办法 第三章): staff
record a delivery only where no automatic sender owns the message — a channel without a
sender (a letter, an SMS without a gateway), or a message whose automatic sending failed for
good — never one a sender is still retrying or whose receipt it awaits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core import clock
from kehu import wiring
from kehu.worker import run_once
from tests.complaint_steps import kinds
from tests.conftest import Backend
from tests.test_delivery import (  # noqa: F401 - mailbox is a fixture
    RECORD,
    Mailbox,
    SmsGateway,
    decide_by,
    investigated,
    mailbox,
    message,
    messages_of,
    sweep,
)


@pytest.fixture
def smtp_server(mailbox: tuple[Mailbox, int]) -> tuple[Mailbox, int]:  # noqa: F811
    """test_delivery's local SMTP server."""
    return mailbox


def _record(backend: Backend, complaint: dict[str, Any], kind: str) -> list[tuple[Any, str]]:
    payload = backend.gql(
        RECORD,
        {"input": {"complaint": complaint["id"], "kind": kind, "proof": "客户电话确认已收到"}},
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    )["recordMessageDelivery"]
    return [(e["field"], e["code"]) for e in payload["errors"]]


def test_cmp3_no_staff_proof_for_an_email_its_sender_is_retrying(
    backend: Backend, smtp_server: tuple[Mailbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    inbox.reply = "451 4.3.0 Mailbox busy, try again later"
    sweep(backend, port, clock.now() + timedelta(minutes=1), tmp_path)
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["attempts"]) == ("QUEUED", 1)
    assert _record(backend, complaint, "DECISION_NOTICE") == [(["proof"], "PROOF_FROM_CHANNEL")]
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["proofOfDelivery"]) == ("QUEUED", None)
    # The retry goes through: the server's answer is the proof.
    inbox.reply = "250 2.0.0 Message accepted for delivery"
    sweep(backend, port, clock.now() + timedelta(minutes=5), tmp_path)
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert notice["deliveryStatus"] == "DELIVERED"
    assert notice["proofOfDelivery"].startswith("SMTP 250")


def test_cmp3_no_staff_proof_while_a_gateway_owns_the_message(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway plugged in for SMS owns the SMS messages from the start (QUEUED, not tried
    yet) and while it waits for the status report (SENT)."""
    gateway = SmsGateway()
    monkeypatch.setitem(wiring.GATEWAYS, "SMS", gateway)
    complaint = investigated(backend)  # acknowledged by SMS
    ack = message(messages_of(backend, complaint), "ACKNOWLEDGEMENT")
    assert (ack["channel"], ack["deliveryStatus"], ack["attempts"]) == ("SMS", "QUEUED", 0)
    assert _record(backend, complaint, "ACKNOWLEDGEMENT") == [(["proof"], "PROOF_FROM_CHANNEL")]
    run_once(backend.engine, clock.now() + timedelta(minutes=1), senders={"SMS": gateway})
    assert message(messages_of(backend, complaint), "ACKNOWLEDGEMENT")["deliveryStatus"] == "SENT"
    assert _record(backend, complaint, "ACKNOWLEDGEMENT") == [(["proof"], "PROOF_FROM_CHANNEL")]
    assert "DELIVERY_RECORDED" not in kinds(messages_of(backend, complaint))


def test_cmp3_an_sms_without_a_gateway_waits_for_a_persons_record(backend: Backend) -> None:
    complaint = investigated(backend)  # no SMS gateway: the acknowledgement stays QUEUED
    run_once(backend.engine, clock.now() + timedelta(minutes=1), senders={})
    assert _record(backend, complaint, "ACKNOWLEDGEMENT") == []
    ack = message(messages_of(backend, complaint), "ACKNOWLEDGEMENT")
    assert (ack["deliveryStatus"], ack["proofOfDelivery"]) == ("DELIVERED", "客户电话确认已收到")


def test_cmp3_a_message_failed_for_good_may_be_delivered_by_staff(
    backend: Backend, smtp_server: tuple[Mailbox, int], tmp_path: Path
) -> None:
    """The server refused the e-mail for good (550): no sender owns it any more, so the handler
    may deliver the notice another way and record it; the failure stays in the timeline."""
    inbox, port = smtp_server
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    inbox.reply = "550 5.1.1 Mailbox unavailable"
    sweep(backend, port, clock.now() + timedelta(minutes=1), tmp_path)
    assert message(messages_of(backend, complaint), "DECISION_NOTICE")["deliveryStatus"] == "FAILED"
    assert _record(backend, complaint, "DECISION_NOTICE") == []
    state = messages_of(backend, complaint)
    notice = message(state, "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["proofOfDelivery"]) == (
        "DELIVERED",
        "客户电话确认已收到",
    )
    assert "DELIVERY_FAILED" in kinds(state) and "DELIVERY_RECORDED" in kinds(state)
