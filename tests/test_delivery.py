"""Decision notices and their delivery (CMP-3, CMP-4): complete notices in Chinese, an outbox
delivered by a sender per channel (e-mail over a real SMTP server), proof that is the channel's
answer, retries with backoff, failures in the supervisor's view, the review window."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from core import clock
from core.settings import Settings, SettingsError
from kehu.cli import app
from kehu.worker import RunResult, run_once
from resolvers.outbox.delivery import MAX_ATTEMPTS
from resolvers.outbox.senders import Answer, DeliveryError, Outgoing, senders_from
from store.complaints import CustomerMessage
from store.staff import Branch, Role, Staff
from tests.complaint_steps import (
    DECISION,
    assign,
    bj_customer,
    complaint_pk,
    complete,
    do,
    fire_timers,
    investigation,
    kinds,
    read,
    submit,
    task_of,
)
from tests.conftest import Backend, _keys, branch_id, create_customer, settings_env

CUSTOMER_EMAIL = "zhang.wei@example.cn"


class Mailbox:
    """An aiosmtpd handler: keeps what arrived, or answers every message with ``reply``."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.reply = "250 2.0.0 Message accepted for delivery"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            self.envelopes.append(envelope)
            raw = envelope.original_content or envelope.content
            assert isinstance(raw, bytes)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(parsed)
        return self.reply


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on a free local port."""
    handler = Mailbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def sweep(backend: Backend, port: int, at: datetime, tmp: Path) -> RunResult:
    """``kehu worker --once --now <at>`` with KEHU_SMTP_* pointing at the local server."""
    smtp = Settings.from_env(smtp_env(backend, tmp, port, KEHU_SMTP_TIMEOUT_SECONDS="5")).smtp
    return run_once(backend.engine, at, senders=senders_from(smtp))


def email_customer(backend: Backend) -> dict[str, Any]:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    return create_customer(
        backend,
        relationshipManager=manager,
        branch=branch_id(backend, "SUP0001"),
        email=CUSTOMER_EMAIL,
        phone="13812345678",
    )


def investigated(backend: Backend, customer: dict[str, Any] | None = None) -> dict[str, Any]:
    complaint = submit(backend, customer or email_customer(backend))
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    return complaint


def decide_by(backend: Backend, complaint: dict[str, Any], channel: str) -> None:
    """Decide, sending the notice over a channel that answers for itself (no typed-in proof)."""
    notice = {k: v for k, v in DECISION.items() if k != "proof_of_delivery"}
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", {**notice, "channel": channel})


def smtp_env(backend: Backend, tmp: Path, port: int, **extra: str) -> dict[str, str]:
    """Settings of the backend's database with KEHU_SMTP_* pointing at the local server."""
    return settings_env(
        tmp,
        backend.settings.database_url,
        KEHU_SMTP_HOST="127.0.0.1",
        KEHU_SMTP_PORT=str(port),
        KEHU_SMTP_FROM="complaints@bank.example.cn",
        **extra,
    )


def message(state: dict[str, Any], kind: str) -> dict[str, Any]:
    return [m for m in state["messages"] if m["kind"] == kind][-1]


MESSAGES = """
query($id: ID!) { complaint(id: $id) { messages {
  kind channel content proofOfDelivery deliveryStatus deliveredAt attempts nextAttemptAt lastError
} timeline { kind details } } }
"""


def messages_of(backend: Backend, complaint: dict[str, Any]) -> dict[str, Any]:
    return dict(backend.gql(MESSAGES, {"id": complaint["id"]})["complaint"])


# Raw codes a customer must never read: an upper-case word of 3+ letters, or with "_".
CODE = re.compile(r"[A-Z][A-Z_]{2,}|[A-Z]+_[A-Z]+")


def test_cmp3_blank_notice_fields_are_refused_and_nothing_is_written(backend: Backend) -> None:
    complaint = investigated(backend)
    task = task_of(backend, "SH01CH01", complaint, "Task_DecisionNotice")
    blank = {**DECISION, "verified_facts": "  ", "basis": "\u3000\t", "reasons": " \n "}
    blank["proof_of_delivery"] = "   "
    errors = complete(backend, "SH01CH01", task, blank)
    assert sorted((tuple(e["field"]), e["code"]) for e in errors) == [
        (("data", "basis"), "REQUIRED"),
        (("data", "proof_of_delivery"), "REQUIRED"),
        (("data", "reasons"), "REQUIRED"),
        (("data", "verified_facts"), "REQUIRED"),
    ]
    without_reasons = {k: v for k, v in DECISION.items() if k != "reasons"}
    errors = complete(backend, "SH01CH01", task, without_reasons)
    # The form asks for the reasons too (a missing answer is the form's error).
    assert [(e["field"], e["code"]) for e in errors] == [(["data", "reasons"], "FORM_INVALID")]
    state = read(backend, complaint)
    assert state["status"] == "INVESTIGATING" and state["decidedAt"] is None
    assert "DECISION_NOTICE" not in [m["kind"] for m in state["messages"]]
    assert "DECISION_DELIVERED" not in kinds(state)


def test_cmp3_the_notice_is_chinese_and_always_states_the_remedies(backend: Backend) -> None:
    complaint = investigated(backend)
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    notice = message(read(backend, complaint), "DECISION_NOTICE")
    content = notice["content"]
    assert "处理理由：收费前未履行告知义务，应予退还" in content
    assert "处理结果：投诉事项属实，支持您的诉求。" in content
    for remedy in ("申请复核", "申请调解", "申请仲裁", "提起诉讼"):
        assert remedy in content
    # BJ01 has no parent branch: head office reviews.
    assert "30日内向总行申请复核" in content
    assert CODE.findall(content) == []
    assert notice["proofOfDelivery"] == DECISION["proof_of_delivery"]


def test_cmp4_review_decision_text_names_the_outcome_in_chinese(backend: Backend) -> None:
    complaint = investigated(backend)
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    call_back = {"satisfaction_score": 2, "satisfied": False}
    do(backend, "RM0001", complaint, "Task_CallBack", call_back)
    do(backend, "RM0001", complaint, "Task_ReviewRequest", {"review_requested": True})
    review = {"review_outcome": "DECISION_CHANGED", "explanation": "补退利息"}
    do(backend, "HO0001", complaint, "Task_Review", review)
    content = message(read(backend, complaint), "REVIEW_DECISION")["content"]
    assert "复核结论：变更原处理决定。" in content and "提起诉讼" in content
    assert CODE.findall(content) == []


def test_cmp3_email_notice_is_delivered_over_smtp_with_its_answer_as_proof(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    inbox, port = mailbox
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["proofOfDelivery"]) == ("QUEUED", None)
    # Nothing is sent until the worker's sweep runs; nothing is delivered without a server.
    assert inbox.received == []
    at = clock.now() + timedelta(minutes=1)
    result = sweep(backend, port, at, tmp_path)
    assert result.messages.failed == 0
    arrived = [m for m in inbox.received if complaint["reference"] in str(m["Subject"])]
    assert len(arrived) == 1
    mail = arrived[0]
    assert mail["To"] == CUSTOMER_EMAIL
    assert mail["From"] == "complaints@bank.example.cn"
    assert str(mail["Subject"]) == f"投诉处理决定书（编号 {complaint['reference']}）"
    body = mail.get_content()
    assert "核实情况：开户时未书面告知账户管理费" in body and "提起诉讼" in body
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert notice["deliveryStatus"] == "DELIVERED" and notice["attempts"] == 1
    assert notice["proofOfDelivery"].startswith("SMTP 250 2.0.0 Message accepted for delivery")
    assert mail["Message-ID"] in notice["proofOfDelivery"]
    assert datetime.fromisoformat(notice["deliveredAt"]) == at
    # A second sweep sends nothing again.
    sweep(backend, port, at + timedelta(hours=1), tmp_path)
    assert len([m for m in inbox.received if complaint["reference"] in str(m["Subject"])]) == 1


def test_cmp3_kehu_worker_once_sends_the_due_email(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    """``kehu worker --once --now`` reads KEHU_SMTP_* and delivers what is due."""
    inbox, port = mailbox
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    env = smtp_env(
        backend,
        tmp_path,
        port,
        KEHU_ENCRYPTION_KEYS=_keys(backend.settings.encryption_keys),
        KEHU_HASH_KEYS=_keys(backend.settings.hash_keys),
        KEHU_AUDIT_KEYS=_keys(backend.settings.audit_keys),
    )
    at = (clock.now() + timedelta(minutes=1)).isoformat()
    result = CliRunner().invoke(app, ["worker", "--once", "--now", at], env=env)
    assert result.exit_code == 0, result.output
    assert re.search(r"Messages: [1-9]\d* delivered, \d+ to retry, 0 failed\.", result.output)
    assert [m["To"] for m in inbox.received if complaint["reference"] in str(m["Subject"])] == [
        CUSTOMER_EMAIL
    ]
    assert message(messages_of(backend, complaint), "DECISION_NOTICE")["deliveryStatus"] == (
        "DELIVERED"
    )


def test_cmp3_sms_without_a_gateway_stays_queued_never_delivered(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    _inbox, port = mailbox
    complaint = investigated(backend)
    decide_by(backend, complaint, "SMS")
    sweep(backend, port, clock.now() + timedelta(days=3), tmp_path)
    state = messages_of(backend, complaint)
    for kind in ("ACKNOWLEDGEMENT", "DECISION_NOTICE"):
        sent = message(state, kind)
        assert sent["channel"] == "SMS"
        assert (sent["deliveryStatus"], sent["proofOfDelivery"], sent["attempts"]) == (
            "QUEUED",
            None,
            0,
        )
    # No call-back about a decision the customer has not received (the window has no start).
    task = task_of(backend, "RM0001", complaint, "Task_CallBack")
    errors = complete(backend, "RM0001", task, {"satisfaction_score": 5, "satisfied": True})
    assert [(e["field"], e["code"], e["complaintCode"]) for e in errors] == [
        (["data", "satisfied"], "DOMAIN_RULE", "NOTICE_NOT_DELIVERED")
    ]


RECORD = """
mutation($input: RecordMessageDeliveryInput!) {
  recordMessageDelivery(input: $input) {
    complaint { messages { kind deliveryStatus proofOfDelivery deliveredAt } }
    errors { field code message }
  }
}
"""


def test_cmp3_staff_record_a_delivery_the_channel_could_not_make(backend: Backend) -> None:
    """A letter while no postal gateway is plugged in: it waits QUEUED until the handler
    records the registered letter's receipt; that record is the proof, and the review window
    counts from it."""
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
        address="北京市海淀区中关村大街1号",
    )
    complaint = investigated(backend, customer)
    decide_by(backend, complaint, "LETTER")
    refused = backend.gql(
        RECORD,
        {"input": {"complaint": complaint["id"], "kind": "DECISION_NOTICE", "proof": "   "}},
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    )["recordMessageDelivery"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(["proof"], "REQUIRED")]
    delivered_at = clock.now() + timedelta(days=2)
    with clock.travel_to(delivered_at, all_threads=True):
        answer = backend.gql(
            RECORD,
            {
                "input": {
                    "complaint": complaint["id"],
                    "kind": "DECISION_NOTICE",
                    "proof": "挂号信回执 XA123456789CN",
                }
            },
            staff="SH01CH01",
            purpose="COMPLAINT_HANDLING",
        )["recordMessageDelivery"]
    assert answer["errors"] == []
    notice = message(answer["complaint"], "DECISION_NOTICE")
    assert notice["deliveryStatus"] == "DELIVERED"
    assert notice["proofOfDelivery"] == "挂号信回执 XA123456789CN"
    assert datetime.fromisoformat(notice["deliveredAt"]) == delivered_at
    again = backend.gql(
        RECORD,
        {"input": {"complaint": complaint["id"], "kind": "DECISION_NOTICE", "proof": "x"}},
        staff="SH01CH01",
        purpose="COMPLAINT_HANDLING",
    )["recordMessageDelivery"]
    assert [(e["field"], e["code"]) for e in again["errors"]] == [(["kind"], "NOT_FOUND")]
    with clock.travel_to(delivered_at + timedelta(days=1), all_threads=True):
        call_back = {"satisfaction_score": 3, "satisfied": False}
        do(backend, "RM0001", complaint, "Task_CallBack", call_back)
    until = clock.end_of_business_day(clock.business_date(delivered_at) + timedelta(days=30))
    tasks = read(backend, complaint)["currentTasks"]
    assert [(t["elementId"], t["dueAt"]) for t in tasks] == [
        ("Task_ReviewRequest", until.isoformat())
    ]
    assert "DELIVERY_RECORDED" in kinds(read(backend, complaint))


class SmsGateway:
    """A gateway plugged in through the documented adapter interface (``send`` -> ``Answer``)."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.sent: list[Outgoing] = []
        self.asked: list[int] = []

    def send(self, message: Outgoing) -> Answer:
        if self.refuse:
            raise DeliveryError("gateway: number not in service", permanent=True)
        self.sent.append(message)
        return Answer(proof=f"gateway receipt R-{message.id}", delivered=False)

    def receipt(self, message: Outgoing, sent_proof: str) -> Answer | None:
        """The status report arrives once the handset confirmed (here: at the second ask)."""
        self.asked.append(message.id)
        if self.asked.count(message.id) < 2:
            return None
        return Answer(proof=f"{sent_proof}; status report DELIVRD", delivered=True)


def test_cmp3_a_plugged_in_gateway_sends_and_its_receipt_is_the_proof(backend: Backend) -> None:
    complaint = investigated(backend)  # acknowledged by SMS: the customer has a mobile number
    gateway = SmsGateway()
    run_once(backend.engine, clock.now() + timedelta(minutes=1), senders={"SMS": gateway})
    ack = message(messages_of(backend, complaint), "ACKNOWLEDGEMENT")
    mine = [m for m in gateway.sent if complaint["reference"] in m.subject]
    assert [(m.recipient, m.subject) for m in mine] == [
        ("13812345678", f"投诉受理告知（编号 {complaint['reference']}）")
    ]
    # The gateway took it and will report delivery later: SENT, its receipt as proof.
    assert (ack["deliveryStatus"], ack["proofOfDelivery"]) == (
        "SENT",
        f"gateway receipt R-{mine[0].id}",
    )
    assert ack["deliveredAt"] is None
    # Each sweep asks the gateway for its status report: none at the first ask (right after
    # sending); at the next sweep the report says delivered, and it becomes the proof.
    later = clock.now() + timedelta(minutes=2)
    run_once(backend.engine, later, senders={"SMS": gateway})
    ack = message(messages_of(backend, complaint), "ACKNOWLEDGEMENT")
    assert (ack["deliveryStatus"], ack["proofOfDelivery"]) == (
        "DELIVERED",
        f"gateway receipt R-{mine[0].id}; status report DELIVRD",
    )
    assert datetime.fromisoformat(ack["deliveredAt"]) == later
    refused = investigated(backend)
    run_once(
        backend.engine, clock.now() + timedelta(minutes=1), senders={"SMS": SmsGateway(refuse=True)}
    )
    ack = message(messages_of(backend, refused), "ACKNOWLEDGEMENT")
    assert (ack["deliveryStatus"], ack["lastError"]) == ("FAILED", "gateway: number not in service")


def test_cmp3_proof_is_not_typed_in_for_a_channel_that_answers_itself(backend: Backend) -> None:
    complaint = investigated(backend, bj_customer(backend))  # no e-mail address
    task = task_of(backend, "SH01CH01", complaint, "Task_DecisionNotice")
    errors = complete(backend, "SH01CH01", task, {**DECISION, "channel": "EMAIL"})
    assert sorted((tuple(e["field"]), e["complaintCode"]) for e in errors) == [
        (("data", "channel"), "NO_ADDRESS"),
        (("data", "proof_of_delivery"), "PROOF_FROM_CHANNEL"),
    ]
    assert read(backend, complaint)["decidedAt"] is None


def test_cmp3_a_refusing_server_is_retried_with_backoff_then_failed_and_shown(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    inbox, port = mailbox
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    inbox.reply = "451 4.3.0 Mailbox busy, try again later"
    start = clock.now() + timedelta(minutes=1)
    sweep(backend, port, start, tmp_path)
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["attempts"]) == ("QUEUED", 1)
    assert notice["lastError"] == "SMTP 451" and notice["proofOfDelivery"] is None
    due = start + timedelta(minutes=1)
    assert datetime.fromisoformat(notice["nextAttemptAt"]) == due
    # One second before the retry is due nothing is attempted; at the instant it is.
    sweep(backend, port, due - timedelta(seconds=1), tmp_path)
    assert message(messages_of(backend, complaint), "DECISION_NOTICE")["attempts"] == 1
    at = due
    for attempt in range(2, MAX_ATTEMPTS + 1):
        sweep(backend, port, at, tmp_path)
        notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
        assert notice["attempts"] == attempt
        if attempt < MAX_ATTEMPTS:
            wait = datetime.fromisoformat(notice["nextAttemptAt"]) - at
            assert wait == timedelta(minutes=2 ** (attempt - 1))
            at += wait
    state = messages_of(backend, complaint)
    notice = message(state, "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["nextAttemptAt"]) == ("FAILED", None)
    failed = [s for s in state["timeline"] if s["kind"] == "DELIVERY_FAILED"]
    assert failed[-1]["details"] == {"message": "DECISION_NOTICE", "channel": "EMAIL"}
    # The supervisor of the branch sees the failure on the complaint.
    seen = backend.gql(MESSAGES, {"id": complaint["id"]}, staff="SUP0001")["complaint"]
    assert "DELIVERY_FAILED" in [s["kind"] for s in seen["timeline"]]
    assert inbox.received == [] or all(
        complaint["reference"] not in str(m["Subject"]) for m in inbox.received
    )


def test_cmp3_a_permanent_refusal_fails_at_once(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    inbox, port = mailbox
    complaint = investigated(backend)
    decide_by(backend, complaint, "EMAIL")
    inbox.reply = "550 5.1.1 Mailbox unavailable"
    sweep(backend, port, clock.now() + timedelta(minutes=1), tmp_path)
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    assert (notice["deliveryStatus"], notice["attempts"]) == ("FAILED", 1)
    assert notice["lastError"] == "SMTP 550"
    # The branch supervisor's list of complaints whose customer was not reached.
    listed = backend.gql(
        "{ complaints(first: 100, where: {deliveryFailed: {eq: true}}) { edges { node { id } } } }",
        staff="SUP0001",
        purpose="COMPLAINT_HANDLING",
    )["complaints"]["edges"]
    assert complaint["id"] in {e["node"]["id"] for e in listed}
    fine = investigated(backend)
    listed = backend.gql(
        "{ complaints(first: 100, where: {deliveryFailed: {eq: false}}) { edges { node { id } } } }",
        staff="SUP0001",
        purpose="COMPLAINT_HANDLING",
    )["complaints"]["edges"]
    ids = {e["node"]["id"] for e in listed}
    assert fine["id"] in ids and complaint["id"] not in ids


def _decided_by_email_on_jan_3(
    backend: Backend, port: int, tmp: Path, satisfied: bool = False
) -> dict[str, Any]:
    """Decided on 2027-01-03 10:00 Beijing, delivered by e-mail 5 minutes later, called back on
    01-23 (the issue's case)."""
    decided = datetime(2027, 1, 3, 2, 0, tzinfo=UTC)
    with clock.travel_to(decided - timedelta(days=2), all_threads=True):
        complaint = investigated(backend)
    with clock.travel_to(decided, all_threads=True):
        decide_by(backend, complaint, "EMAIL")
    sweep(backend, port, decided + timedelta(minutes=5), tmp)
    with clock.travel_to(datetime(2027, 1, 23, 3, 0, tzinfo=UTC), all_threads=True):
        call_back = {"satisfaction_score": 5 if satisfied else 2, "satisfied": satisfied}
        do(backend, "RM0001", complaint, "Task_CallBack", call_back)
    return complaint


# The window's end: 30 natural days after receipt (01-03) is 02-02; it ends 02-03 00:00 Beijing.
WINDOW_END = datetime(2027, 2, 2, 16, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_cmp4_review_window_counts_from_delivery_of_the_notice(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    """Decided on 01-03, called back on 01-23: the window ends with 02-02 (Beijing), 30
    natural days after the notice reached the customer — not 02-22, 30 days after the call-back."""
    _inbox, port = mailbox
    late = _decided_by_email_on_jan_3(backend, port, tmp_path)
    tasks = read(backend, late)["currentTasks"]
    assert [(t["elementId"], t["dueAt"]) for t in tasks] == [
        ("Task_ReviewRequest", WINDOW_END.isoformat())
    ]
    # At the end instant a request is refused, even before the timer has closed the window.
    with clock.travel_to(WINDOW_END, all_threads=True):
        task = task_of(backend, "RM0001", late, "Task_ReviewRequest")
        errors = complete(backend, "RM0001", task, {"review_requested": True})
    assert [(e["field"], e["complaintCode"]) for e in errors] == [
        (["data", "review_requested"], "REVIEW_WINDOW_CLOSED")
    ]
    fire_timers(backend, WINDOW_END - SECOND)
    assert read(backend, late)["status"] == "DECIDED"
    fire_timers(backend, WINDOW_END + SECOND)
    state = read(backend, late)
    assert state["status"] == "CLOSED" and state["currentTasks"] == []
    # One second before the end, a request is taken.
    in_time = _decided_by_email_on_jan_3(backend, port, tmp_path)
    with clock.travel_to(WINDOW_END - SECOND, all_threads=True):
        do(backend, "RM0001", in_time, "Task_ReviewRequest", {"review_requested": True})
    state = read(backend, in_time)
    assert state["status"] == "UNDER_REVIEW"
    # The review is decided within 30 natural days of the request (ends 03-05 00:00 Beijing).
    assert state["reviewDueAt"] == datetime(2027, 3, 4, 16, 0, tzinfo=UTC).isoformat()


def test_cmp4_a_satisfied_customer_may_still_ask_for_a_review(
    backend: Backend, mailbox: tuple[Mailbox, int], tmp_path: Path
) -> None:
    _inbox, port = mailbox
    complaint = _decided_by_email_on_jan_3(backend, port, tmp_path, satisfied=True)
    with clock.travel_to(datetime(2027, 1, 30, 3, 0, tzinfo=UTC), all_threads=True):
        do(backend, "RM0001", complaint, "Task_ReviewRequest", {"review_requested": True})
        state = read(backend, complaint)
    assert state["status"] == "UNDER_REVIEW" and state["satisfactionScore"] == 5
    step = [s for s in state["timeline"] if s["kind"] == "REVIEW_REQUESTED"][-1]
    assert step["details"] == {"reviewer": "总行"}
    assert [t["elementId"] for t in state["currentTasks"]] == ["Task_Review"]


def _sub_branch(backend: Backend) -> tuple[str, str]:
    """海淀支行 under 北京分行, with its own supervisor and manager (created once)."""
    with backend.engine.begin() as connection:
        bj01 = connection.execute(select(Branch.id).where(Branch.code == "BJ01")).scalar_one()
        found = connection.execute(select(Branch.id).where(Branch.code == "BJ0101")).scalar()
        if found is None:
            found = connection.execute(
                insert(Branch)
                .values(code="BJ0101", name="海淀支行", city="北京市", parent_id=bj01)
                .returning(Branch.id)
            ).scalar_one()
            for number, role in (
                ("HD01SUP01", Role.BRANCH_SUPERVISOR),
                ("HD01RM01", Role.RELATIONSHIP_MANAGER),
            ):
                connection.execute(
                    insert(Staff).values(
                        employee_no=number,
                        name="测试员工",
                        branch_id=found,
                        roles=[role.value],
                        active=True,
                        created_at=clock.now(),
                    )
                )
    manager = backend.gql("{ me { id } }", staff="HD01RM01")["me"]["id"]
    return branch_id(backend, "HD01SUP01"), manager


def test_cmp4_the_review_goes_to_the_parent_branch_of_the_handling_branch(
    backend: Backend,
) -> None:
    branch, manager = _sub_branch(backend)
    customer = create_customer(backend, relationshipManager=manager, branch=branch)
    complaint = submit(backend, customer, staff="HO0001")
    do(backend, "HD01SUP01", complaint, "Task_AssignHandler", {"handler": "SH01CH01"})
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    notice = message(read(backend, complaint), "DECISION_NOTICE")["content"]
    assert "30日内向北京分行申请复核" in notice
    do(
        backend,
        "HD01RM01",
        complaint,
        "Task_CallBack",
        {"satisfaction_score": 1, "satisfied": False},
    )
    do(backend, "HD01RM01", complaint, "Task_ReviewRequest", {"review_requested": True})
    state = read(backend, complaint)
    assert [(t["elementId"], t["candidateRole"]) for t in state["currentTasks"]] == [
        ("Task_Review", "BRANCH_SUPERVISOR")
    ]
    # Head office is not the superior unit here; the parent branch's supervisor is.
    with pytest.raises(AssertionError, match="has no Task_Review"):
        task_of(backend, "HO0001", complaint, "Task_Review")
    with pytest.raises(AssertionError, match="has no Task_Review"):
        task_of(backend, "HD01SUP01", complaint, "Task_Review")
    review = {"review_outcome": "DECISION_UPHELD", "explanation": "原处理决定事实清楚"}
    do(backend, "SUP0001", complaint, "Task_Review", review)
    state = read(backend, complaint)
    assert state["status"] == "CLOSED" and state["reviewOutcome"] == "DECISION_UPHELD"
    reviewed = [s for s in state["timeline"] if s["kind"] == "REVIEWED"][-1]
    assert reviewed["actor"] == "SUP0001"


def test_cmp4_a_notice_told_before_the_outbox_counts_from_when_it_was_recorded(
    backend: Backend,
) -> None:
    """A complaint decided before the upgrade (its notice has no outbox row) is not stuck at the
    call-back: its window counts from when the notice was recorded, as it did then."""
    complaint = investigated(backend)
    do(backend, "SH01CH01", complaint, "Task_DecisionNotice", DECISION)
    told = datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Beijing, 12-31
    with backend.engine.begin() as connection:
        connection.execute(
            update(CustomerMessage)
            .where(
                CustomerMessage.complaint_id == complaint_pk(backend, complaint),
                CustomerMessage.kind == "DECISION_NOTICE",
            )
            .values(outbox_id=None, sent_at=told)
        )
    do(backend, "RM0001", complaint, "Task_CallBack", {"satisfaction_score": 2, "satisfied": False})
    tasks = read(backend, complaint)["currentTasks"]
    # 30 natural days after 12-31 is 01-30; the window ends 01-31 00:00 Beijing.
    until = datetime(2027, 1, 30, 16, 0, tzinfo=UTC)
    assert [(t["elementId"], t["dueAt"]) for t in tasks] == [
        ("Task_ReviewRequest", until.isoformat())
    ]


def _check_login(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"kehu", b"s3cret")
    return AuthResult(success=ok)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("password", ["s3cret", "wrong"])
def test_cmp3_smtp_login_with_the_configured_credentials(
    backend: Backend, tmp_path: Path, password: str
) -> None:
    """KEHU_SMTP_USER/PASSWORD log in; a refused login is the bank's configuration, so the
    message waits for a retry instead of failing for good."""
    inbox = Mailbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_check_login,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        complaint = investigated(backend)
        decide_by(backend, complaint, "EMAIL")
        env = smtp_env(backend, tmp_path, port, KEHU_SMTP_USER="kehu", KEHU_SMTP_PASSWORD=password)
        at = clock.now() + timedelta(minutes=1)
        run_once(backend.engine, at, senders=senders_from(Settings.from_env(env).smtp))
    finally:
        controller.stop()
    notice = message(messages_of(backend, complaint), "DECISION_NOTICE")
    arrived = [m for m in inbox.received if complaint["reference"] in str(m["Subject"])]
    if password == "s3cret":
        assert notice["deliveryStatus"] == "DELIVERED" and len(arrived) == 1
    else:
        # Refused (535), smtplib tries its other mechanisms and the server hangs up: either way
        # the message waits for the next attempt instead of failing for good.
        assert notice["deliveryStatus"] == "QUEUED" and notice["lastError"].startswith("SMTP")
        assert datetime.fromisoformat(notice["nextAttemptAt"]) == at + timedelta(minutes=1)
        assert arrived == []


def test_cmp3_smtp_settings_are_checked_naming_the_variable(tmp_path: Path) -> None:
    base = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    assert Settings.from_env(base).smtp is None
    with pytest.raises(SettingsError, match="KEHU_SMTP_FROM"):
        Settings.from_env({**base, "KEHU_SMTP_HOST": "smtp.bank.cn"})
    with pytest.raises(SettingsError, match="KEHU_SMTP_USER and KEHU_SMTP_PASSWORD"):
        Settings.from_env(
            {
                **base,
                "KEHU_SMTP_HOST": "smtp.bank.cn",
                "KEHU_SMTP_FROM": "a@bank.cn",
                "KEHU_SMTP_USER": "kehu",
            }
        )
    smtp = Settings.from_env(
        {
            **base,
            "KEHU_SMTP_HOST": "smtp.bank.cn",
            "KEHU_SMTP_FROM": "a@bank.cn",
            "KEHU_SMTP_PORT": "587",
            "KEHU_SMTP_STARTTLS": "true",
            "KEHU_SMTP_USER": "kehu",
            "KEHU_SMTP_PASSWORD": "secret",
        }
    ).smtp
    assert smtp is not None and (smtp.port, smtp.starttls, smtp.user) == (587, True, "kehu")
    assert "secret" not in repr(smtp)


WITHDRAW = """mutation($input: WithdrawComplaintInput!) { withdrawComplaint(input: $input) {
    complaint { status } errors { field code } } }"""


def test_cmp7_a_withdrawn_complaints_waiting_messages_are_cancelled_not_sent(
    backend: Backend,
) -> None:
    """The acknowledgement still waited for an SMS gateway when the customer withdrew: it is
    CANCELLED, and the gateway plugged in afterwards never sends it (nothing follows an ended
    complaint); a message the channel already took still gets its delivery report."""
    sent = investigated(backend)
    gateway = SmsGateway()
    run_once(backend.engine, clock.now() + timedelta(minutes=1), senders={"SMS": gateway})
    waiting = submit(backend, email_customer(backend))
    assert message(messages_of(backend, waiting), "ACKNOWLEDGEMENT")["deliveryStatus"] == "QUEUED"
    for complaint in (waiting, sent):
        done = backend.gql(
            WITHDRAW, {"input": {"id": complaint["id"], "reason": "客户已与网点协商解决"}}
        )["withdrawComplaint"]
        assert (done["errors"], done["complaint"]["status"]) == ([], "WITHDRAWN")
    run_once(backend.engine, clock.now() + timedelta(minutes=2), senders={"SMS": gateway})
    assert [m for m in gateway.sent if waiting["reference"] in m.subject] == []
    ack = message(messages_of(backend, waiting), "ACKNOWLEDGEMENT")
    assert (ack["deliveryStatus"], ack["proofOfDelivery"]) == ("CANCELLED", None)
    assert message(messages_of(backend, sent), "ACKNOWLEDGEMENT")["deliveryStatus"] == "DELIVERED"
