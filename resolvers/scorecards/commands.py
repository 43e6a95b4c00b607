"""Scorecard changes (KPI-2, KPI-3): a new weight version, and an assessment that computes and
freezes the scorecards of a period.

Every function here runs inside the caller's unit of work and never commits.

An assessment takes a month or quarter that has ended, the weight version in force on its last
day, and for every branch, team and staff member in scope (the bank, or one branch) with at
least one customer at the period's end computes the level's indicators through the KPI
machinery (``resolvers.kpis.compute``, the same numbers as ``kpis``), normalises each, weighs
them, ranks each level and awards the honours of the version's rules — all stored as a new
version of the period's scorecards. Later corrections of the data change ``kpis``, never a
stored scorecard; assessing again writes the next version and keeps the old.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import ConflictError, UserInputError
from resolvers.kpis import compute
from resolvers.kpis.indicators import BY_CODE
from resolvers.kpis.periods import KpiPeriod, Window
from resolvers.kpis.scope import Attribution, Level, Scope, membership_at
from resolvers.scorecards import model
from resolvers.scorecards.queries import as_version, period_of, stored_versions
from resolvers.shared import unit_of_work, validation
from store.complaints import Complaint
from store.customers import Customer
from store.kpis import Team, TeamMembership
from store.scorecards import (
    Scorecard,
    ScorecardHonour,
    ScorecardLine,
    ScorecardRun,
    ScorecardWeightVersion,
)
from store.staff import Branch, Staff

# The indicator whose denominator counts a unit's customers at the period's end.
CUSTOMERS = BY_CODE["COMPLAINT_RATE"]


# -- weights ---------------------------------------------------------------------------------


def ensure_weights(session: Session, lock: bool = False) -> list[ScorecardWeightVersion]:
    """The stored versions, the reviewed file stored as version 1 into an empty database."""
    rows = stored_versions(session, lock=lock)
    if rows:
        return rows
    first = model.load_file()
    row = ScorecardWeightVersion(
        version=1,
        valid_from=first.valid_from,
        valid_to=first.valid_to,
        definition=first.definition(),
        summary=first.summary[:500] or model.WEIGHTS_FILE.name,
        changed_by="system",
        changed_at=clock.now(),
    )
    session.add(row)
    _flush(session, "the weights changed meanwhile; reload them and try again")
    return [row]


def _flush(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc


def set_weights(
    session: Session,
    changed_by: str,
    raw: Mapping[str, Any],
    valid_from: Any,
    valid_to: Any,
    summary: str,
) -> ScorecardWeightVersion:
    """A new weight version (checked), numbered after the newest. It must not overlap another
    version, except that an open-ended version that began before it ends the day before it
    begins (``OVERLAPPING_WEIGHT_VERSIONS`` naming ``validFrom`` otherwise) — and, when the
    new version has an end, resumes the day after it as a copy numbered next."""
    text = validation.text(summary, "summary", max_length=500)
    rows = ensure_weights(session, lock=True)
    definition = dict(raw)
    if definition.get("honours") is None:
        definition["honours"] = model.default_honours()
    number = max(r.version for r in rows) + 1
    checked = model.check_version(definition, number, valid_from, valid_to, text)
    closing = None
    for row in rows:
        ends_before = valid_to is not None and valid_to < row.valid_from
        starts_after = row.valid_to is not None and row.valid_to < valid_from
        if ends_before or starts_after:
            continue
        if row.valid_to is None and row.valid_from < valid_from and closing is None:
            closing = row
            continue
        raise UserInputError.one(
            ("validFrom",),
            "OVERLAPPING_WEIGHT_VERSIONS",
            f"overlaps weight version {row.version}",
        )
    resumed = None
    if closing is not None:
        closing.valid_to = valid_from - timedelta(days=1)
        if checked.valid_to is not None:
            # A version for a while (a campaign quarter) interrupts the standing one, which
            # resumes the day after it ends: a copy of it, numbered after the new version.
            resumed = ScorecardWeightVersion(
                version=number + 1,
                valid_from=checked.valid_to + timedelta(days=1),
                valid_to=None,
                definition=closing.definition,
                summary=f"version {closing.version} resumed after version {number}",
                changed_by=changed_by,
                changed_at=clock.now(),
            )
    row = ScorecardWeightVersion(
        version=number,
        valid_from=checked.valid_from,
        valid_to=checked.valid_to,
        definition=checked.definition(),
        summary=text,
        changed_by=changed_by,
        changed_at=clock.now(),
    )
    session.add_all([row] + ([resumed] if resumed is not None else []))
    _flush(session, "the weights changed meanwhile; reload them and try again")
    unit_of_work.note(
        session,
        f"scorecard weights version {number} from {checked.valid_from}"
        + (f" (version {closing.version} now ends {closing.valid_to})" if closing else "")
        + (f"; it resumes as version {number + 1}" if resumed else ""),
    )
    return row


# -- assessment ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One computation through the KPI machinery: ``scope``'s own scorecard (none for the
    bank) and, with ``child``, its children's from the same statements (the bank's branches, a
    team's members) — the same numbers as ``kpis`` gives for each of them."""

    scope: Scope
    child: Level | None


def _jobs(
    session: Session, branch_id: int | None, at: datetime
) -> tuple[list[_Job], dict[int, Staff]]:
    """The computations of an assessment: the bank drilled down to its branches (or the one
    branch), each team with its members (membership at ``at``), each member of staff in no
    team of the scope on their own; and the staff in scope by id."""
    statement = select(Branch).order_by(Branch.id)
    if branch_id is not None:
        statement = statement.where(Branch.id == branch_id)
    branches = list(session.scalars(statement))
    ids = [b.id for b in branches]
    jobs = (
        [_Job(Scope(Level.BANK), Level.BRANCH)]
        if branch_id is None
        else [_Job(Scope(Level.BRANCH, b.id, b.id, label=b.name), None) for b in branches]
    )
    teams = list(
        session.scalars(
            select(Team).where(Team.branch_id.in_(ids)).order_by(Team.branch_id, Team.code)
        )
    )
    jobs += [_Job(Scope(Level.TEAM, t.id, t.branch_id, t.id, t.name), Level.STAFF) for t in teams]
    in_teams = {t.id for t in teams}
    members = dict(
        session.execute(
            select(TeamMembership.staff_id, TeamMembership.team_id).where(membership_at(at))
        ).all()
    )
    staff = {
        s.id: s
        for s in session.scalars(
            select(Staff)
            .where(Staff.branch_id.in_(ids), Staff.third_party_id.is_(None))
            .order_by(Staff.id)
        )
    }
    jobs += [
        _Job(Scope(Level.STAFF, s.id, s.branch_id, members.get(s.id), s.name), None)
        for s in staff.values()
        if members.get(s.id) not in in_teams
    ]
    return jobs, staff


def _major_complaints(
    session: Session, level: Level, window: Window, at: datetime
) -> dict[Any, int]:
    """Major complaints (CMP-7) accepted in the window, by the level's key (one statement; a
    second at staff level). A member of staff also answers for the major complaints about
    them (``complainedStaff``), whoever's customer made them — each complaint counted once."""
    attribution = Attribution(at)
    key = attribution.key(level)
    major = (
        Complaint.major.is_(True),
        Complaint.merged_into_id.is_(None),
        Complaint.accepted_at >= window.starts_at,
        Complaint.accepted_at < window.ends_at,
    )
    statement = select(key, func.count(Complaint.id)).select_from(Complaint)
    statement = statement.join(Customer, Customer.id == Complaint.customer_id)
    if level is Level.TEAM:
        statement = attribution.join_team(statement)
    statement = statement.where(*major).group_by(key)
    found = {k: int(n) for k, n in session.execute(statement).all()}
    if level is Level.STAFF:
        about = (
            select(Complaint.complained_staff_id, func.count(Complaint.id))
            .join(Customer, Customer.id == Complaint.customer_id)
            .where(
                *major,
                Complaint.complained_staff_id.is_not(None),
                # Already counted above when the person complained about is the manager.
                or_(
                    Customer.relationship_manager_id.is_(None),
                    Customer.relationship_manager_id != Complaint.complained_staff_id,
                ),
            )
            .group_by(Complaint.complained_staff_id)
        )
        for k, n in session.execute(about).all():
            found[k] = found.get(k, 0) + int(n)
    return found


def _ranks(cards: list[Scorecard]) -> None:
    """Competition ranks by score (1, 2, 2, 4); no score, no rank."""
    scores = [c.score for c in cards if c.score is not None]
    for card in cards:
        card.rank = None if card.score is None else 1 + sum(1 for s in scores if s > card.score)


def in_force(session: Session, period: KpiPeriod) -> model.WeightVersion:
    """The weight version in force on the period's last day (``NO_WEIGHTS`` naming
    ``period``)."""
    day = period.window.last_day
    for row in ensure_weights(session):
        version = as_version(row)
        if version.covers(day):
            return version
    raise UserInputError.one(("period",), "NO_WEIGHTS", "no weight version covers the period")


def assess(
    session: Session,
    computed_by: str,
    label: str,
    branch_id: int | None = None,
    reason: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ScorecardRun:
    """Compute and freeze the scorecards of ``label`` for the bank or ``branch_id`` (see the
    module docstring); ``progress(done, total)`` after each unit."""
    now, today = clock.now(), clock.today()
    period = period_of(label, today)
    if period.window.end > today:
        raise UserInputError.one(("period",), "PERIOD_NOT_ENDED", "the period has not ended")
    why = None if reason is None else validation.text(reason, "reason", max_length=500)
    if branch_id is not None and session.get(Branch, branch_id) is None:
        raise UserInputError.one(("branchId",), "UNKNOWN_SCOPE", "no such branch")
    weights = in_force(session, period)
    window = period.window
    single = KpiPeriod(period.kind, window, window, window, (window,))
    at = window.ends_at
    jobs, staff = _jobs(session, branch_id, at)
    majors = {level: _major_complaints(session, level, window, at) for level in model.LEVELS}
    latest = session.scalar(
        select(func.max(ScorecardRun.version)).where(ScorecardRun.period == window.label)
    )
    run = ScorecardRun(
        period=window.label,
        version=(latest or 0) + 1,
        branch_id=branch_id,
        weight_version=weights.version,
        honour_rules=[rule.definition() for rule in weights.honours],
        reason=why,
        computed_by=computed_by,
        computed_at=now,
    )
    session.add(run)
    _flush(session, "the period was assessed meanwhile; read its scorecards and try again")
    cards: dict[Level, list[Scorecard]] = {level: [] for level in model.LEVELS}
    for done, job in enumerate(jobs, 1):
        levels = [job.scope.level, job.child]
        chosen = [w for level in model.LEVELS if level in levels for w in weights.levels[level]]
        indicators = list(dict.fromkeys([BY_CODE[w.indicator] for w in chosen] + [CUSTOMERS]))
        report = compute.compute(
            session,
            single,
            job.scope,
            indicators,
            now=now,
            today=today,
            visible=true(),
            drill_down=job.child is not None,
        )
        found = [] if job.scope.level is Level.BANK else [(job.scope, report.total)]
        for unit in report.children:
            if unit.key is None or (unit.level is Level.STAFF and unit.key not in staff):
                continue  # a branch's customers in no team; a member from outside the scope
            if unit.level is Level.STAFF:
                member = staff[unit.key]
                scope = Scope(Level.STAFF, member.id, member.branch_id, job.scope.key, unit.label)
            else:
                scope = Scope(unit.level, unit.key, unit.key, label=unit.label)
            found.append((scope, unit))
        for scope, unit in found:
            level = scope.level
            card = _card(run, scope, weights.levels[level], unit.values, majors[level])
            if card is not None:
                session.add(card)
                cards[level].append(card)
        if progress is not None:
            progress(done, len(jobs))
    for level_cards in cards.values():
        _ranks(level_cards)  # before the insert: a frozen row is written once
    session.flush()
    for level, level_cards in cards.items():
        for index, rule in enumerate(weights.honours):
            if rule.level is not level:
                continue
            for card in level_cards:
                if rule.awards(card.score, card.rank, card.customers, card.major_complaints):
                    session.add(
                        ScorecardHonour(
                            run_id=run.id, scorecard_id=card.id, title=rule.title.value, rule=index
                        )
                    )
    session.flush()
    count = sum(len(c) for c in cards.values())
    unit_of_work.note(
        session,
        f"scorecards of {window.label} assessed for "
        f"{'the bank' if branch_id is None else f'branch {branch_id}'}: version {run.version}, "
        f"weights version {weights.version}, {count} scorecards",
    )
    return run


def _card(
    run: ScorecardRun,
    scope: Scope,
    chosen: tuple[model.Weight, ...],
    values: Mapping[str, compute.Value],
    majors: dict[Any, int],
) -> Scorecard | None:
    """One unit's frozen scorecard (None: no customers at the period's end)."""
    customers = int(values[CUSTOMERS.code].current.denominator or 0)
    if customers == 0:
        return None
    card = Scorecard(
        run_id=run.id,
        level=scope.level.value,
        subject_id=scope.key,
        label=scope.label[:100],
        branch_id=scope.branch_id,
        team_id=scope.team_id if scope.level is Level.STAFF else None,
        customers=customers,
        major_complaints=majors.get(scope.key, 0),
    )
    scored: list[tuple[Decimal, Decimal | None]] = []
    for weight in chosen:
        figure = values[weight.indicator].current
        score = weight.score(figure.value)
        scored.append((weight.weight, score))
        card.lines.append(
            ScorecardLine(
                indicator=weight.indicator,
                weight=weight.weight,
                direction=weight.direction.value,
                target=weight.target,
                floor=weight.floor,
                value=figure.value,
                numerator=figure.numerator,
                denominator=figure.denominator,
                null_reason=figure.reason,
                score=score,
            )
        )
    card.score = model.total(scored)
    return card
