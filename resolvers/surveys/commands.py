"""Survey commands (REL-5): request a survey after an occasion (once per customer and occasion)
— by staff, or by itself after a logged contact (``surveys.toml`` says which), a closed
complaint or an attended club event — send the customer its invitation through the outbox over
their preferred channel at their preferred time, and record a customer's answers, checked
question by question against the questionnaire version asked. A risk questionnaire's score
records a risk assessment with the questionnaire as its source (INFO-1) — through
``record_risk_assessment``, so the customer is classified again (SEG-3) in the same
transaction; a preference question records the preference the same way.

Runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from core.text import blank
from resolvers.care import calendar as care_calendar
from resolvers.customers import information
from resolvers.customers.history import SourceDraft
from resolvers.outbox import commands as outbox
from resolvers.shared import unit_of_work, validation
from store.club import ClubRegistration
from store.complaints import Complaint, ComplaintStatus
from store.contacts import Contact, ContactChannel, ContactPurpose
from store.customers import (
    ContactMethod,
    ContactTime,
    CreditStatus,
    Customer,
    Preferences,
    RiskAssessment,
    RiskTolerance,
    SourceKind,
)
from store.outbox import OutboxMessage, OutboxStatus
from store.staff import Staff
from store.surveys import (
    QuestionKind,
    Questionnaire,
    QuestionnairePurpose,
    SurveyAnswer,
    SurveyOccasion,
    SurveyRequest,
    SurveyResponse,
)

MAX_TEXT = 2000
# The questionnaire an occasion asks by default.
DEFAULT_CODE = {
    SurveyOccasion.CONTACT: "SATISFACTION",
    SurveyOccasion.COMPLAINT: "SATISFACTION",
    SurveyOccasion.CLUB_EVENT: "SATISFACTION",
    SurveyOccasion.RISK_REVIEW: "RISK",
}
# Preferences a choice question may record (the questionnaire names one in "preference").
PREFERENCES = {"contact_method": ContactMethod}
SURVEYS_FILE = Path(__file__).parent / "surveys.toml"
_WORKDAY_TIMES = (
    ContactTime.WORKDAY_MORNING,
    ContactTime.WORKDAY_AFTERNOON,
    ContactTime.WORKDAY_EVENING,
)


@dataclass(frozen=True)
class SurveyPlan:
    """``surveys.toml``, checked: which contacts open a survey, and the invitation texts."""

    contact_purposes: frozenset[ContactPurpose]
    contact_channels: frozenset[ContactChannel]
    quiet_days: int
    subject: str
    signature: str
    bodies: dict[SurveyOccasion, str]


def parse_plan(data: dict[str, Any]) -> SurveyPlan:
    after = data["after_contact"]
    invitation = data["invitation"]
    bodies = {SurveyOccasion(k): str(v) for k, v in invitation["body"].items()}
    if set(bodies) != set(SurveyOccasion):
        raise ValueError("surveys.toml: an invitation body for every occasion")
    quiet_days = int(after["quiet_days"])
    if not 0 <= quiet_days <= 366:
        raise ValueError("surveys.toml: quiet_days is 0 … 366")
    return SurveyPlan(
        contact_purposes=frozenset(ContactPurpose(p) for p in after["purposes"]),
        contact_channels=frozenset(ContactChannel(c) for c in after["channels"]),
        quiet_days=quiet_days,
        subject=str(invitation["subject"]),
        signature=str(invitation["signature"]).format(bank=invitation["bank"]),
        bodies=bodies,
    )


@cache
def plan(path: Path = SURVEYS_FILE) -> SurveyPlan:
    return parse_plan(tomllib.loads(path.read_text(encoding="utf-8")))


def invitation_time(contact_time: ContactTime | None, now: datetime) -> datetime:
    """The first send time at or after ``now`` of the customer's preferred contact time (the
    care plan's send times, Beijing): on a weekday for a workday time, on Saturday or Sunday for
    WEEKEND, on any day otherwise."""
    at = care_calendar.plan().send_time(contact_time.value if contact_time else None)
    today = clock.business_date(now)
    for ahead in range(8):
        day = today + timedelta(days=ahead)
        weekend = day.weekday() >= 5
        if (contact_time is ContactTime.WEEKEND and not weekend) or (
            contact_time in _WORKDAY_TIMES and weekend
        ):
            continue
        moment = datetime.combine(day, at, clock.BUSINESS_TIME).astimezone(UTC)
        if moment >= now:
            return moment
    raise AssertionError("a week holds every kind of day")  # pragma: no cover


def _invite(
    session: Session, request: SurveyRequest, questionnaire: Questionnaire
) -> OutboxMessage:
    """Queue the invitation to the customer over their preferred channel, for their preferred
    time. A satisfaction or risk survey is service, not marketing: an opt-out does not stop it."""
    customer = session.get_one(Customer, request.customer_id)
    preferences = session.get(Preferences, customer.id)
    contact_time = preferences.contact_time if preferences else None
    texts = plan()
    body = texts.bodies[request.occasion].format(name=customer.name, title=questionnaire.title)
    message = outbox.queue_preferred(
        session, customer, preferences, texts.subject, body + texts.signature
    )
    if message.status is OutboxStatus.QUEUED:
        message.next_attempt_at = invitation_time(contact_time, clock.now())
    request.message_id = message.id
    return message


def latest(session: Session, code: str) -> Questionnaire | None:
    """The newest published version of a questionnaire."""
    return session.scalar(
        select(Questionnaire)
        .where(Questionnaire.code == code)
        .order_by(Questionnaire.version.desc())
        .limit(1)
    )


def _occasion_problem(
    session: Session, customer_id: int, occasion: SurveyOccasion, occasion_id: int | None
) -> tuple[str, str] | None:
    """Why the occasion does not allow a survey of this customer (code, message), or None.
    An occasion of another customer answers as one that does not exist."""
    if occasion is SurveyOccasion.RISK_REVIEW:
        return None if occasion_id is None else ("INVALID", "a risk review names no occasion")
    if occasion_id is None:
        return ("REQUIRED", "name the contact, complaint or club event")
    if occasion is SurveyOccasion.CONTACT:
        found = session.scalar(
            select(Contact.id).where(Contact.id == occasion_id, Contact.customer_id == customer_id)
        )
        return None if found else ("NOT_FOUND", "no contact with this customer of this ID")
    if occasion is SurveyOccasion.COMPLAINT:
        status = session.scalar(
            select(Complaint.status).where(
                Complaint.id == occasion_id, Complaint.customer_id == customer_id
            )
        )
        if status is None:
            return ("NOT_FOUND", "no complaint of this customer with this ID")
        return None if status is ComplaintStatus.CLOSED else ("NOT_CLOSED", "ask once it closed")
    attended = session.scalar(
        select(ClubRegistration.attended_at).where(
            ClubRegistration.event_id == occasion_id, ClubRegistration.customer_id == customer_id
        )
    )
    return None if attended else ("NOT_ATTENDED", "ask customers who came")


def _existing(
    session: Session, customer_id: int, occasion: SurveyOccasion, occasion_id: int | None
) -> SurveyRequest | None:
    """The request already made for the occasion (for a risk review: the open one)."""
    found = select(SurveyRequest).where(
        SurveyRequest.customer_id == customer_id, SurveyRequest.occasion == occasion
    )
    if occasion is SurveyOccasion.RISK_REVIEW:
        return session.scalar(found.where(SurveyRequest.answered_at.is_(None)))
    return session.scalar(found.where(SurveyRequest.occasion_id == occasion_id))


def request_survey(
    session: Session,
    actor: Staff | None,
    customer_id: int,
    occasion: SurveyOccasion,
    occasion_id: int | None,
) -> tuple[SurveyRequest, bool]:
    """The survey request of a customer for an occasion, and whether it is new: asking again
    for the same occasion answers with the first request — also when the two calls run at once
    (the second's insert fails on the unique key inside a savepoint and it answers with the
    first's request). A risk review is one open request at a time (answered, the next review is
    a new request). A new request's invitation is queued in the outbox at once. ``actor`` None:
    opened by the system (a complaint closed by its process)."""
    problem = _occasion_problem(session, customer_id, occasion, occasion_id)
    if problem is not None:
        raise UserInputError.one(("occasionId",), *problem)
    found = _existing(session, customer_id, occasion, occasion_id)
    if found is not None:
        return found, False
    if occasion is SurveyOccasion.RISK_REVIEW:
        # The open review is number (answered reviews + 1): two concurrent calls compute the
        # same number whichever commits first, so the unique key makes them one review.
        occasion_id = 1 + (
            session.scalar(
                select(func.count()).where(
                    SurveyRequest.customer_id == customer_id,
                    SurveyRequest.occasion == occasion,
                    SurveyRequest.answered_at.is_not(None),
                )
            )
            or 0
        )
    questionnaire = latest(session, DEFAULT_CODE[occasion])
    if questionnaire is None:
        raise UserInputError.one(("occasion",), "NOT_FOUND", "no questionnaire is published")
    assert occasion_id is not None
    created = SurveyRequest(
        customer_id=customer_id,
        questionnaire_id=questionnaire.id,
        occasion=occasion,
        occasion_id=occasion_id,
        requested_by_id=actor.id if actor else None,
        requested_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(created)
            session.flush()
    except IntegrityError:
        # A concurrent call made the request first (its transaction committed while this one
        # waited on the unique key): answer with it, as a repeated call does.
        found = _existing(session, customer_id, occasion, occasion_id)
        if found is None:
            raise
        return found, False
    _invite(session, created, questionnaire)
    session.flush()
    unit_of_work.note(session, f"survey requested: {occasion.value}", customer_ids=[customer_id])
    return created, True


def after_contact(session: Session, actor: Staff, contact: Contact) -> SurveyRequest | None:
    """The survey a logged contact opens by itself (REL-5), or None: only for the purposes and
    channels of ``surveys.toml``, and not when the customer was asked a satisfaction survey
    (any occasion but a risk review, answered or not) in the quiet period — a request made
    exactly ``quiet_days`` ago still keeps it quiet."""
    rules = plan()
    if contact.purpose not in rules.contact_purposes:
        return None
    if contact.channel not in rules.contact_channels:
        return None
    since = clock.now() - timedelta(days=rules.quiet_days)
    asked = session.scalar(
        select(SurveyRequest.id)
        .where(
            SurveyRequest.customer_id == contact.customer_id,
            SurveyRequest.occasion != SurveyOccasion.RISK_REVIEW,
            SurveyRequest.requested_at >= since,
        )
        .limit(1)
    )
    if asked is not None:
        return None
    request, _ = request_survey(
        session, actor, contact.customer_id, SurveyOccasion.CONTACT, contact.id
    )
    return request


@dataclass(frozen=True)
class GivenAnswer:
    question: str
    scale: int | None = None
    yes_no: bool | None = None
    choice: str | None = None
    text: str | None = None


_VALUE_OF = {
    QuestionKind.SCALE: ("scale", "scale"),
    QuestionKind.YES_NO: ("yes_no", "yesNo"),
    QuestionKind.CHOICE: ("choice", "choice"),
    QuestionKind.TEXT: ("text", "text"),
}


def _checked_answer(
    question: dict[str, Any], given: GivenAnswer, at: tuple[str, ...], problems: Problems
) -> SurveyAnswer | None:
    kind = QuestionKind(question["kind"])
    attribute, field = _VALUE_OF[kind]
    for other, other_field in _VALUE_OF.values():
        if other != attribute and getattr(given, other) is not None:
            problems.add((*at, other_field), "INVALID", f"a {kind.value} question takes {field}")
    value = getattr(given, attribute)
    if kind is QuestionKind.TEXT and value is not None:
        if blank(value):
            value = None
        else:
            try:
                value = validation.text(value, (*at, field), max_length=MAX_TEXT)
            except UserInputError as exc:
                problems.extend(exc)
                return None
    if value is None:
        if question.get("required"):
            problems.add((*at, field), "REQUIRED", "this question must be answered")
        return None
    if kind is QuestionKind.SCALE and not 1 <= value <= 5:
        problems.add((*at, field), "OUT_OF_RANGE", "must be 1 … 5")
        return None
    if kind is QuestionKind.CHOICE and value not in {c["value"] for c in question["choices"]}:
        problems.add((*at, field), "UNKNOWN_CHOICE", "not one of the question's choices")
        return None
    return SurveyAnswer(
        question=question["key"], metric=question.get("metric"), **{attribute: value}
    )


def _answers(questionnaire: Questionnaire, given: Sequence[GivenAnswer]) -> list[SurveyAnswer]:
    """The answers checked against the questionnaire, or every problem at once."""
    problems = Problems()
    questions = {q["key"]: q for q in questionnaire.definition["questions"]}
    seen: set[str] = set()
    answers: list[SurveyAnswer] = []
    for i, answer in enumerate(given):
        at = ("answers", str(i))
        question = questions.get(answer.question)
        if question is None:
            problems.add((*at, "question"), "UNKNOWN_QUESTION", "not a question of this survey")
            continue
        if answer.question in seen:
            problems.add((*at, "question"), "DUPLICATE", "answered twice")
            continue
        seen.add(answer.question)
        checked = _checked_answer(question, answer, at, problems)
        if checked is not None:
            answers.append(checked)
    for key, question in questions.items():
        if question.get("required") and key not in seen:
            problems.add(("answers",), "REQUIRED", f"question {key} must be answered")
    problems.raise_if_any()
    return answers


def risk_score(questionnaire: Questionnaire, answers: Sequence[SurveyAnswer]) -> int:
    """0 … 100: the points of the answers over the most points the questions give."""
    got = most = 0
    by_key = {a.question: a for a in answers}
    for question in questionnaire.definition["questions"]:
        answer = by_key.get(question["key"])
        if question["kind"] == QuestionKind.CHOICE.value:
            points = {c["value"]: int(c.get("points", 0)) for c in question["choices"]}
            most += max(points.values())
            got += points.get(answer.choice, 0) if answer and answer.choice else 0
        elif question["kind"] == QuestionKind.SCALE.value and "points_per_step" in question:
            step = int(question["points_per_step"])
            most += 4 * step
            got += (answer.scale - 1) * step if answer and answer.scale else 0
    return 0 if most == 0 else got * 100 // most


def tolerance_of(questionnaire: Questionnaire, score: int) -> RiskTolerance:
    """The risk tolerance of the last band whose lower bound the score reaches."""
    bands = sorted(questionnaire.definition["bands"], key=lambda b: int(b["from"]))
    reached = [b for b in bands if score >= int(b["from"])]
    return RiskTolerance(reached[-1]["tolerance"] if reached else bands[0]["tolerance"])


def record_response(
    session: Session, actor: Staff, request: SurveyRequest, given: Sequence[GivenAnswer]
) -> SurveyResponse:
    """Record the answers to a survey request (once)."""
    if request.answered_at is not None:
        raise UserInputError.one(("requestId",), "ALREADY_ANSWERED", "this survey was answered")
    questionnaire = session.get_one(Questionnaire, request.questionnaire_id)
    answers = _answers(questionnaire, given)
    now = clock.now()
    response = SurveyResponse(
        request_id=request.id,
        customer_id=request.customer_id,
        questionnaire_id=questionnaire.id,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(response)
    session.flush()
    for answer in answers:
        answer.response_id = response.id
        session.add(answer)
    request.answered_at = now
    source = SourceDraft(
        kind=SourceKind.QUESTIONNAIRE,
        detail=f"{questionnaire.code} v{questionnaire.version} 问卷 #{response.id}",
    )
    _record_preferences(session, actor, request.customer_id, questionnaire, answers, source)
    if questionnaire.purpose is QuestionnairePurpose.RISK_TOLERANCE:
        response.score = risk_score(questionnaire, answers)
        assessment = _assess(
            session, actor, request.customer_id, questionnaire, response.score, source
        )
        response.risk_assessment_id = assessment.id
    session.flush()
    unit_of_work.note(
        session,
        f"survey answered: {questionnaire.code} v{questionnaire.version}",
        customer_ids=[request.customer_id],
    )
    return response


def _record_preferences(
    session: Session,
    actor: Staff,
    customer_id: int,
    questionnaire: Questionnaire,
    answers: Sequence[SurveyAnswer],
    source: SourceDraft,
) -> None:
    by_key = {a.question: a for a in answers}
    values: dict[str, Any] = {}
    for question in questionnaire.definition["questions"]:
        preference = question.get("preference")
        answer = by_key.get(question["key"])
        if preference in PREFERENCES and answer is not None and answer.choice is not None:
            values[preference] = PREFERENCES[preference](answer.choice)
    if values:
        information.record_preferences(session, actor, customer_id, values, source)


def _assess(
    session: Session,
    actor: Staff,
    customer_id: int,
    questionnaire: Questionnaire,
    score: int,
    source: SourceDraft,
) -> RiskAssessment:
    """A risk assessment from the questionnaire's score; the credit score and status are not
    the questionnaire's to change, so the latest assessment's carry over."""
    previous = session.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.customer_id == customer_id)
        .order_by(RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
        .limit(1)
    )
    return information.record_risk_assessment(
        session,
        actor,
        customer_id,
        risk_tolerance=tolerance_of(questionnaire, score),
        credit_status=previous.credit_status if previous else CreditStatus.NORMAL,
        questionnaire_score=score,
        credit_score=previous.credit_score if previous else None,
        assessed_at=None,
        source=source,
    )


@dataclass(frozen=True)
class NewChoice:
    value: str
    label: str
    points: int = 0


@dataclass(frozen=True)
class NewQuestion:
    key: str
    text: str
    kind: QuestionKind
    required: bool
    metric: str | None = None
    preference: str | None = None
    choices: Sequence[NewChoice] = ()
    points_per_step: int | None = None


@dataclass(frozen=True)
class NewQuestionnaire:
    code: str
    purpose: QuestionnairePurpose
    title: str
    questions: Sequence[NewQuestion]
    bands: Sequence[tuple[int, RiskTolerance]] = ()


# The kind each KPI metric needs.
METRIC_KINDS = {"SATISFACTION": QuestionKind.SCALE, "RECOMMEND": QuestionKind.YES_NO}
MAX_QUESTIONS = 50


def _identifier(value: str, at: tuple[str, ...], problems: Problems, upper: bool) -> str:
    cleaned = value.strip()
    allowed = cleaned.replace("_", "").isalnum() and cleaned.isascii()
    cased = cleaned == (cleaned.upper() if upper else cleaned.lower())
    if not cleaned:
        problems.add(at, "REQUIRED", "must not be empty")
    elif len(cleaned) > 50:
        problems.add(at, "TOO_LONG", "must be at most 50 characters")
    elif not (allowed and cased):
        problems.add(
            at,
            "INVALID",
            "letters, digits and _ only" + (" (upper case)" if upper else " (lower case)"),
        )
    return cleaned


def _question_problems(index: int, question: NewQuestion, problems: Problems) -> dict[str, Any]:
    at = ("questions", str(index))
    key = _identifier(question.key, (*at, "key"), problems, upper=False)
    text = ""
    try:
        text = validation.text(question.text, (*at, "text"), max_length=500)
    except UserInputError as exc:
        problems.extend(exc)
    kind = question.kind
    if question.metric is not None and METRIC_KINDS[question.metric] is not kind:
        problems.add((*at, "metric"), "INVALID", "this metric needs another question kind")
    values = [c.value for c in question.choices]
    if kind is QuestionKind.CHOICE:
        if len(values) < 2:
            problems.add((*at, "choices"), "REQUIRED", "a choice question needs two choices")
        if len(set(values)) != len(values):
            problems.add((*at, "choices"), "DUPLICATE", "choice values must differ")
        for i, choice in enumerate(question.choices):
            _identifier(choice.value, (*at, "choices", str(i), "value"), problems, upper=True)
            if blank(choice.label):
                problems.add((*at, "choices", str(i), "label"), "REQUIRED", "must not be empty")
            if not 0 <= choice.points <= 100:
                problems.add((*at, "choices", str(i), "points"), "OUT_OF_RANGE", "0 … 100")
    elif values:
        problems.add((*at, "choices"), "INVALID", "only a choice question has choices")
    if question.preference is not None:
        allowed = {m.value for m in PREFERENCES[question.preference]}
        if kind is not QuestionKind.CHOICE:
            problems.add((*at, "preference"), "INVALID", "a preference is a choice question")
        elif not set(values) <= allowed:
            problems.add((*at, "choices"), "UNKNOWN_CHOICE", "not a value of the preference")
    if question.points_per_step is not None and (
        kind is not QuestionKind.SCALE or not 0 <= question.points_per_step <= 25
    ):
        problems.add((*at, "pointsPerStep"), "INVALID", "a scale question's points, 0 … 25")
    raw: dict[str, Any] = {
        "key": key,
        "text": text,
        "kind": kind.value,
        "required": question.required,
    }
    if question.metric is not None:
        raw["metric"] = question.metric
    if question.preference is not None:
        raw["preference"] = question.preference
    if question.choices:
        raw["choices"] = [
            {"value": c.value.strip(), "label": c.label.strip(), "points": c.points}
            for c in question.choices
        ]
    if question.points_per_step is not None:
        raw["points_per_step"] = question.points_per_step
    return raw


def publish(session: Session, given: NewQuestionnaire) -> Questionnaire:
    """A new version of a questionnaire (version 1 for a new code); earlier versions stay as
    they were, with the responses that answered them."""
    problems = Problems()
    code = _identifier(given.code, ("code",), problems, upper=True)
    title = ""
    try:
        title = validation.text(given.title, "title", max_length=200)
    except UserInputError as exc:
        problems.extend(exc)
    if not 1 <= len(given.questions) <= MAX_QUESTIONS:
        problems.add(("questions",), "OUT_OF_RANGE", f"1 … {MAX_QUESTIONS} questions")
    questions = [_question_problems(i, q, problems) for i, q in enumerate(given.questions)]
    keys = [q.key.strip() for q in given.questions]
    if len(set(keys)) != len(keys):
        problems.add(("questions",), "DUPLICATE", "question keys must differ")
    definition: dict[str, Any] = {"questions": questions}
    if given.purpose is QuestionnairePurpose.RISK_TOLERANCE:
        starts = [start for start, _ in given.bands]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)) or starts[-1] > 100:
            problems.add(("bands",), "INVALID", "bands start at 0 and rise, up to 100")
        definition["bands"] = [{"from": s, "tolerance": t.value} for s, t in given.bands]
    elif given.bands:
        problems.add(("bands",), "INVALID", "only a risk questionnaire has bands")
    previous = latest(session, code) if code else None
    if previous is not None and previous.purpose is not given.purpose:
        problems.add(("purpose",), "INVALID", "a questionnaire keeps its purpose across versions")
    problems.raise_if_any()
    created = Questionnaire(
        code=code,
        version=1 if previous is None else previous.version + 1,
        purpose=given.purpose,
        title=title,
        definition=definition,
        published_at=clock.now(),
    )
    session.add(created)
    session.flush()
    unit_of_work.note(session, f"questionnaire published: {code} v{created.version}")
    return created
