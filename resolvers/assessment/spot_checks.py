"""Spot checks (KPI-2): a reproducible random sample of customer records, contacts or closed
complaints, assigned to inspectors, their findings, and the rectifications failures open.

**Population.** For a kind, a scope (one branch, or the bank) and a period of Beijing dates
(``start`` … ``end`` inclusive, from 00:00 Beijing on ``start`` to 00:00 Beijing the day after
``end``): CUSTOMER_RECORD — customers registered in the period whose branch is the scope's
(responsible: their relationship manager); CONTACT — contacts made in the period with customers
of the scope's branch (responsible: who made the contact); COMPLAINT — complaints closed in the
period and handled by the scope's branch (responsible: their handler). The ids are read in one
statement, ordered by id.

**Sample.** Each id is ranked by ``sha256("<seed>:<id>")`` (hex digest, ascending) and the
first ``size`` are drawn — the same seed over the same population gives the same sample on any
machine and Python version, and anyone can recompute it. The seed (given, or drawn with
``secrets``) and the population's size and digest (sha256 of its ids, comma-joined) are kept
with the check. ``rate`` draws ``ceil(rate × population)``. A seed is refused (SEED_NOT_ALLOWED)
from a member of staff of the checked branch: they leave it out and one is drawn.

**Inspectors** hold the ``spot_check:inspect`` right. An inspector never inspects their own
work (the item's responsible member of staff; also whoever registered a customer record, and
the member of staff a complaint is about) nor a record of their own branch; items go round
the given inspectors in drawing order, each to the next eligible one.

**Findings** are final when the check is completed; only then do the failed ones open
rectifications, and only then does the branch whose work was checked (its supervisor) see them.
A rectification's owner is the item's responsible member of staff (the one who ordered the
check when there is none); it is due at 00:00 Beijing after ``days[severity]`` natural days from
the completion date, overdue from that instant while still OPEN, and warned once by the worker.

Runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from core.text import blank
from resolvers.shared import unit_of_work, validation
from store.assessment import (
    RectificationStatus,
    Severity,
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckKind,
    SpotCheckRectification,
    SpotCheckStatus,
)
from store.audit import AuditCustomer, AuditEntry
from store.complaints import Complaint, ComplaintStatus
from store.contacts import Contact
from store.customers import Customer, Notification, NotificationKind
from store.staff import Staff

CHECKLIST_FILE = Path(__file__).with_name("checklists.toml")
MAX_SAMPLE = 1000
MAX_NOTE = 2000
# The longest period a check draws from.
MAX_PERIOD_DAYS = 366
SEED_LIMIT = 2**31  # a GraphQL Int


def checklist() -> dict[str, Any]:
    """The checklists in force (criteria per kind, days per severity)."""
    return tomllib.loads(CHECKLIST_FILE.read_text(encoding="utf-8"))


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[00:00 Beijing on ``start``, 00:00 Beijing the day after ``end``)."""
    first = datetime.combine(start, time(0), clock.BUSINESS_TIME)
    return first, datetime.combine(end + timedelta(days=1), time(0), clock.BUSINESS_TIME)


def check_period(start: date, end: date, problems: Problems) -> None:
    if end < start:
        problems.add(("end",), "OUT_OF_RANGE", "must not be before start")
    elif (end - start).days >= MAX_PERIOD_DAYS:
        problems.add(("end",), "OUT_OF_RANGE", f"a period of at most {MAX_PERIOD_DAYS} days")
    if end > clock.today():
        problems.add(("end",), "DATE_IN_FUTURE", "must not be after today")


def population(kind: SpotCheckKind, branch_id: int | None, start: date, end: date) -> Any:
    """The statement of the population: (subject, customer, branch, responsible) by subject."""
    since, until = period_bounds(start, end)
    statement: Any
    if kind is SpotCheckKind.CUSTOMER_RECORD:
        statement = select(
            Customer.id, Customer.id, Customer.branch_id, Customer.relationship_manager_id
        ).where(Customer.created_at >= since, Customer.created_at < until)
        branch_column: Any = Customer.branch_id
        order: Any = Customer.id
    elif kind is SpotCheckKind.CONTACT:
        statement = (
            select(Contact.id, Contact.customer_id, Customer.branch_id, Contact.staff_id)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(Contact.contacted_at >= since, Contact.contacted_at < until)
        )
        branch_column, order = Customer.branch_id, Contact.id
    else:
        statement = select(
            Complaint.id, Complaint.customer_id, Complaint.branch_id, Complaint.handler_id
        ).where(
            Complaint.status == ComplaintStatus.CLOSED,
            Complaint.closed_at >= since,
            Complaint.closed_at < until,
        )
        branch_column, order = Complaint.branch_id, Complaint.id
    if branch_id is not None:
        statement = statement.where(branch_column == branch_id)
    return statement.order_by(order)


def rank(seed: int, subject_id: int) -> str:
    """A subject's place in the draw of ``seed``: lower is drawn first."""
    return hashlib.sha256(f"{seed}:{subject_id}".encode()).hexdigest()


def draw(rows: Sequence[Any], seed: int, size: int) -> list[Any]:
    """The ``size`` rows of lowest rank."""
    return sorted(rows, key=lambda row: rank(seed, row[0]))[:size]


def digest(ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()


@dataclass(frozen=True)
class NewSpotCheck:
    kind: SpotCheckKind
    branch_id: int | None
    start: date
    end: date
    size: int | None
    rate: Decimal | None
    seed: int | None
    inspector_ids: Sequence[int]


def _sample_size(given: NewSpotCheck, available: int, problems: Problems) -> int:
    if (given.size is None) == (given.rate is None):
        problems.add(("size",), "REQUIRED", "give either a size or a rate")
        return 0
    if given.rate is not None:
        # NaN and sNaN are neither in nor out of range: comparing them raises.
        if not given.rate.is_finite() or not Decimal(0) < given.rate <= Decimal(1):
            problems.add(("rate",), "OUT_OF_RANGE", "a rate above 0 and at most 1")
            return 0
        size = math.ceil(given.rate * available)
        if size > MAX_SAMPLE:
            problems.add(("rate",), "OUT_OF_RANGE", f"draws more than {MAX_SAMPLE} records")
            return 0
        return size
    assert given.size is not None
    if given.size < 1 or given.size > MAX_SAMPLE:
        problems.add(("size",), "OUT_OF_RANGE", f"1 … {MAX_SAMPLE}")
        return 0
    if given.size > available:
        problems.add(("size",), "ABOVE_POPULATION", "larger than the population")
        return 0
    return given.size


def _inspectors(
    session: Session, ids: Sequence[int], may_inspect: Any, problems: Problems
) -> list[Staff]:
    if not ids:
        problems.add(("inspectorIds",), "REQUIRED", "name at least one inspector")
        return []
    if len(set(ids)) != len(ids):
        problems.add(("inspectorIds",), "DUPLICATE", "an inspector is named twice")
        return []
    found = {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(ids)))}
    inspectors = []
    for i, pk in enumerate(ids):
        staff = found.get(pk)
        if staff is None or not staff.active or not may_inspect(staff):
            problems.add(("inspectorIds", str(i)), "INVALID_INSPECTOR", "not an active inspector")
        else:
            inspectors.append(staff)
    return inspectors


def _eligible(
    inspector: Staff, branch_id: int, responsible_id: int | None, involved: set[int]
) -> bool:
    """Never one's own work (nor a record one is otherwise party to), never one's own
    branch's records."""
    return (
        inspector.id != responsible_id
        and inspector.id not in involved
        and inspector.branch_id != branch_id
    )


def _involved(session: Session, kind: SpotCheckKind, sample: Sequence[Any]) -> dict[int, set[int]]:
    """Staff party to a drawn record besides its responsible member, by subject id: who
    registered a customer record (the actor of the first CHANGE audit entry naming the
    customer — customers keep no creator column) and who a complaint is about."""
    ids = [row[0] for row in sample]
    found: dict[int, set[int]] = {i: set() for i in ids}
    if kind is SpotCheckKind.CUSTOMER_RECORD:
        first = (
            select(AuditCustomer.customer_id, func.min(AuditCustomer.entry_id).label("entry_id"))
            .join(AuditEntry, AuditEntry.id == AuditCustomer.entry_id)
            .where(AuditCustomer.customer_id.in_(ids), AuditEntry.action == "CHANGE")
            .group_by(AuditCustomer.customer_id)
            .subquery()
        )
        rows: Any = session.execute(
            select(first.c.customer_id, AuditEntry.actor_id).join(
                AuditEntry, AuditEntry.id == first.c.entry_id
            )
        )
    elif kind is SpotCheckKind.COMPLAINT:
        rows = session.execute(
            select(Complaint.id, Complaint.complained_staff_id).where(Complaint.id.in_(ids))
        )
    else:
        return found
    for subject, staff_id in rows:
        if staff_id is not None:
            found[subject].add(staff_id)
    return found


def create(session: Session, actor: Staff, given: NewSpotCheck, may_inspect: Any) -> SpotCheck:
    """Draw a spot check's sample and assign its items (everything, or nothing and every
    problem at once)."""
    problems = Problems()
    check_period(given.start, given.end, problems)
    if given.seed is not None and not 0 <= given.seed < SEED_LIMIT:
        problems.add(("seed",), "OUT_OF_RANGE", "0 … 2147483647")
    if (
        given.seed is not None
        and given.branch_id is not None
        and actor.branch_id == given.branch_id
    ):
        # The ranking is public: whoever picks the seed picks the sample. The checked branch's
        # own staff (its supervisor) get a seed drawn for them instead.
        problems.add(("seed",), "SEED_NOT_ALLOWED", "a check of your own branch draws its seed")
    inspectors = _inspectors(session, given.inspector_ids, may_inspect, problems)
    problems.raise_if_any()
    rows: list[Any] = [
        tuple(row)
        for row in session.execute(population(given.kind, given.branch_id, given.start, given.end))
    ]
    if not rows:
        raise UserInputError.one(("start",), "EMPTY_POPULATION", "nothing to sample in the period")
    size = _sample_size(given, len(rows), problems)
    problems.raise_if_any()
    seed = secrets.randbelow(SEED_LIMIT) if given.seed is None else given.seed
    sample = draw(rows, seed, size)
    involved = _involved(session, given.kind, sample)
    assignments: list[int] = []
    turn = 0
    for position, (subject, _, branch_id, responsible_id) in enumerate(sample):
        chosen = next(
            (
                inspectors[(turn + k) % len(inspectors)]
                for k in range(len(inspectors))
                if _eligible(
                    inspectors[(turn + k) % len(inspectors)],
                    branch_id,
                    responsible_id,
                    involved[subject],
                )
            ),
            None,
        )
        if chosen is None:
            problems.add(
                ("inspectorIds",),
                "NO_ELIGIBLE_INSPECTOR",
                f"sample item {position + 1}: every inspector named works on it or in its branch",
            )
            continue
        assignments.append(chosen.id)
        turn = inspectors.index(chosen) + 1
    problems.raise_if_any()
    lists = checklist()
    check = SpotCheck(
        kind=given.kind,
        branch_id=given.branch_id,
        period_start=given.start,
        period_end=given.end,
        seed=seed,
        sample_size=size,
        population_size=len(rows),
        population_digest=digest([row[0] for row in rows]),
        checklist={
            "version": lists["version"],
            "criteria": lists[given.kind.value],
            "days": lists["days"],
        },
        status=SpotCheckStatus.OPEN,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(check)
    session.flush()
    session.execute(
        insert(SpotCheckItem),
        [
            {
                "check_id": check.id,
                "position": position,
                "subject_id": subject,
                "customer_id": customer,
                "branch_id": branch,
                "responsible_id": responsible,
                "inspector_id": inspector,
            }
            for position, ((subject, customer, branch, responsible), inspector) in enumerate(
                zip(sample, assignments, strict=True), start=1
            )
        ],
    )
    unit_of_work.note(
        session,
        f"spot check drawn: {given.kind.value}, {size} of {len(rows)}, seed {seed}",
        customer_ids=sorted({row[1] for row in sample}),
    )
    return check


@dataclass(frozen=True)
class GivenFinding:
    criterion: str
    passed: bool
    severity: Severity | None = None
    note: str | None = None


def record_findings(
    session: Session, actor: Staff, item: SpotCheckItem, given: Sequence[GivenFinding]
) -> list[SpotCheckFinding]:
    """The inspector's answer to every criterion of the item's checklist, once, while the
    check is open."""
    check = session.get_one(SpotCheck, item.check_id)
    if check.status is not SpotCheckStatus.OPEN:
        raise UserInputError.one(("itemId",), "CHECK_COMPLETED", "the check is completed")
    if item.inspected_at is not None:
        raise UserInputError.one(("itemId",), "ALREADY_RECORDED", "findings are recorded")
    criteria = [c["code"] for c in check.checklist["criteria"]]
    problems = Problems()
    seen: set[str] = set()
    findings = []
    for i, finding in enumerate(given):
        at = ("findings", str(i))
        if finding.criterion not in criteria:
            problems.add((*at, "criterion"), "UNKNOWN_CRITERION", "not on this checklist")
            continue
        if finding.criterion in seen:
            problems.add((*at, "criterion"), "DUPLICATE", "answered twice")
            continue
        seen.add(finding.criterion)
        if finding.passed and finding.severity is not None:
            problems.add((*at, "severity"), "INVALID", "a passed criterion has no severity")
        if not finding.passed and finding.severity is None:
            problems.add((*at, "severity"), "REQUIRED", "a failed criterion needs a severity")
        note = None
        if finding.note is not None and not blank(finding.note):
            try:
                note = validation.text(finding.note, (*at, "note"), max_length=MAX_NOTE)
            except UserInputError as exc:
                problems.extend(exc)
        if (
            not finding.passed
            and note is None
            and not any(e.field == (*at, "note") for e in problems.errors)
        ):
            problems.add((*at, "note"), "REQUIRED", "say what failed")
        findings.append(
            SpotCheckFinding(
                item_id=item.id,
                criterion=finding.criterion,
                passed=finding.passed,
                severity=finding.severity,
                note=note,
            )
        )
    missing = [c for c in criteria if c not in seen]
    if missing:
        problems.add(("findings",), "REQUIRED", f"criteria not answered: {', '.join(missing)}")
    problems.raise_if_any()
    session.add_all(findings)
    item.inspected_at = clock.now()
    session.flush()
    failed = sum(not f.passed for f in findings)
    unit_of_work.note(
        session,
        f"spot check findings: {len(findings) - failed} passed, {failed} failed",
        customer_ids=[item.customer_id],
    )
    return findings


def due_at(completed: datetime, days: int) -> datetime:
    """00:00 Beijing after ``days`` natural days counted from the day after the completion
    date (completed on the 20th, 7 days: the 27th is the last day, due at 00:00 on the 28th)."""
    return clock.end_of_business_day(clock.business_date(completed) + timedelta(days=days))


def complete(session: Session, check: SpotCheck) -> list[SpotCheckRectification]:
    """Make the findings final and open a rectification for each failed one."""
    if check.status is SpotCheckStatus.COMPLETED:
        raise UserInputError.one(("id",), "ALREADY_COMPLETED", "the check is completed")
    items = list(session.scalars(select(SpotCheckItem).where(SpotCheckItem.check_id == check.id)))
    waiting = sum(item.inspected_at is None for item in items)
    if waiting:
        raise UserInputError.one(("id",), "FINDINGS_MISSING", f"{waiting} items not inspected")
    now = clock.now()
    check.status, check.completed_at = SpotCheckStatus.COMPLETED, now
    by_id = {item.id: item for item in items}
    failed = session.scalars(
        select(SpotCheckFinding)
        .where(SpotCheckFinding.item_id.in_(by_id), SpotCheckFinding.passed.is_(False))
        .order_by(SpotCheckFinding.id)
    )
    days = check.checklist["days"]
    opened = []
    for finding in failed:
        item = by_id[finding.item_id]
        assert finding.severity is not None
        opened.append(
            SpotCheckRectification(
                finding_id=finding.id,
                check_id=check.id,
                owner_id=item.responsible_id or check.created_by_id,
                due_at=due_at(now, int(days[finding.severity.value])),
                status=RectificationStatus.OPEN,
            )
        )
    session.add_all(opened)
    session.flush()
    unit_of_work.note(session, f"spot check completed: {len(opened)} rectifications opened")
    return opened


def rectify(session: Session, row: SpotCheckRectification, note: str) -> None:
    """The owner says it is put right."""
    if row.status is not RectificationStatus.OPEN:
        code = "ALREADY_CLOSED" if row.status is RectificationStatus.VERIFIED else "NOT_OPEN"
        raise UserInputError.one(("id",), code, "not open for rectification")
    row.rectification_note = validation.text(note, "note", max_length=MAX_NOTE)
    row.status, row.rectified_at = RectificationStatus.RECTIFIED, clock.now()
    unit_of_work.note(session, "spot check rectified")


def verify(session: Session, actor: Staff, row: SpotCheckRectification, accepted: bool) -> None:
    """The inspector closes a rectification, or reopens it (due as before)."""
    if row.status is RectificationStatus.VERIFIED:
        raise UserInputError.one(("id",), "ALREADY_CLOSED", "the rectification is closed")
    if row.status is not RectificationStatus.RECTIFIED:
        raise UserInputError.one(("id",), "NOT_RECTIFIED", "the owner has not rectified it")
    if accepted:
        row.status, row.verified_at, row.verified_by_id = (
            RectificationStatus.VERIFIED,
            clock.now(),
            actor.id,
        )
    else:
        row.status, row.reopened = RectificationStatus.OPEN, row.reopened + 1
    unit_of_work.note(
        session, "spot check rectification " + ("verified" if accepted else "reopened")
    )


def overdue(now: datetime) -> ColumnElement[bool]:
    """Open rectifications whose due instant has come."""
    return (SpotCheckRectification.status == RectificationStatus.OPEN) & (
        SpotCheckRectification.due_at <= now
    )


def warn_overdue(session: Session, now: datetime) -> int:
    """Warn each overdue rectification's owner once (a notification filed under SPOT_CHECK,
    naming the customer whose record it concerns); returns how many were warned."""
    due = list(
        session.execute(
            select(SpotCheckRectification, SpotCheckItem.customer_id, Customer.version)
            .join(SpotCheckFinding, SpotCheckFinding.id == SpotCheckRectification.finding_id)
            .join(SpotCheckItem, SpotCheckItem.id == SpotCheckFinding.item_id)
            .join(Customer, Customer.id == SpotCheckItem.customer_id)
            .where(overdue(now), SpotCheckRectification.overdue_warned_at.is_(None))
            .order_by(SpotCheckRectification.id)
            .with_for_update(of=SpotCheckRectification, skip_locked=True)
        )
    )
    if not due:
        return 0
    for row, _, _ in due:
        row.overdue_warned_at = now
    session.execute(
        insert(Notification),
        [
            {
                "recipient_id": row.owner_id,
                "customer_id": customer_id,
                "customer_version": version,
                "information_kind": NotificationKind.SPOT_CHECK,
                "fields": ["SpotCheckRectification.dueAt"],
                "summary": f"抽查整改事项 #{row.id} 已逾期（{row.due_at:%Y-%m-%d %H:%M} UTC 到期）",
                "created_at": now,
                "read_at": None,
            }
            for row, customer_id, version in due
        ],
    )
    unit_of_work.note(session, f"spot check rectifications overdue: {len(due)} warned")
    return len(due)


def run_due(session_scope: Callable[[], Any], now: datetime) -> int:
    """The worker's pass: warn the overdue rectifications not warned yet, as one unit of work
    of the timers worker (nothing written, no CHANGE entry, when none is due)."""
    waiting = select(SpotCheckRectification.id).where(
        overdue(now), SpotCheckRectification.overdue_warned_at.is_(None)
    )
    with session_scope() as session:
        if session.scalar(waiting.limit(1)) is None:
            return 0
        with clock.travel_to(now):
            return unit_of_work.run(
                session,
                unit_of_work.WORKER,
                unit_of_work.TIMERS,
                "timer:spot_check_overdue",
                lambda s: warn_overdue(s, now),
                nested=True,
            )
