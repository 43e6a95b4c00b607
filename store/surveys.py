"""Surveys (REL-5): versioned questionnaires, a survey request per customer and occasion (a
contact, a closed complaint, an attended club event), and the responses staff record.

A questionnaire's ``definition`` holds its questions (key, text, kind, required, choices with
points, the KPI an answer feeds) and, for a risk questionnaire, the score bands that map the
score to a risk tolerance. A published version never changes: a new version is a new row, and a
response keeps the version it answered. Free-text answers are what customers said about
themselves: sealed at rest (INFO-7).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=32, validate_strings=True)


class QuestionnairePurpose(StrEnum):
    SATISFACTION = "SATISFACTION"  # satisfaction and "would recommend" (KPIs)
    RISK_TOLERANCE = "RISK_TOLERANCE"  # the score sets the risk tolerance (INFO-1 source)


class QuestionKind(StrEnum):
    SCALE = "SCALE"  # 1 … 5
    YES_NO = "YES_NO"
    CHOICE = "CHOICE"
    TEXT = "TEXT"


class SurveyOccasion(StrEnum):
    CONTACT = "CONTACT"
    COMPLAINT = "COMPLAINT"  # once the complaint is closed
    CLUB_EVENT = "CLUB_EVENT"  # once the customer attended
    RISK_REVIEW = "RISK_REVIEW"  # a risk questionnaire, asked by staff (no other occasion)


# The KPIs an answer can feed (``SurveyAnswer.metric``).
METRIC_SATISFACTION = "SATISFACTION"
METRIC_RECOMMEND = "RECOMMEND"


class Questionnaire(Base):
    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50))
    version: Mapped[int]
    purpose: Mapped[QuestionnairePurpose] = mapped_column(_enum(QuestionnairePurpose))
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SurveyRequest(Base):
    """A questionnaire to put to a customer after an occasion (once per customer and occasion)."""

    __tablename__ = "survey_requests"
    __table_args__ = (
        UniqueConstraint("customer_id", "occasion", "occasion_id"),
        Index("ix_survey_requests_requested_at", "requested_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    occasion: Mapped[SurveyOccasion] = mapped_column(_enum(SurveyOccasion))
    # The contact, complaint or club event; for a risk review its number (answered reviews + 1:
    # one open review at a time, so two concurrent requests meet on the unique key).
    occasion_id: Mapped[int]
    # Null: opened by the system (after a complaint closed by its process).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The invitation sent to the customer through the outbox (REL-5: surveys are sent).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))


class SurveyResponse(Base):
    """A customer's answers to one request, as a member of staff recorded them."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_recorded_at", "recorded_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("survey_requests.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A risk questionnaire's score (0 … 100) and the assessment it recorded.
    score: Mapped[int | None]
    risk_assessment_id: Mapped[int | None] = mapped_column(ForeignKey("risk_assessments.id"))


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("response_id", "question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id"))
    question: Mapped[str] = mapped_column(String(50))
    # The KPI the question feeds, copied from the definition so aggregates need no JSON.
    metric: Mapped[str | None] = mapped_column(String(32), index=True)
    scale: Mapped[int | None]
    yes_no: Mapped[bool | None]
    choice: Mapped[str | None] = mapped_column(String(50))
    text: Mapped[str | None] = mapped_column(Encrypted("survey_answers.text"))
