"""Branches and staff: who works where, in which roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from store.base import Base, UTCDateTime


class Role(StrEnum):
    RELATIONSHIP_MANAGER = "RELATIONSHIP_MANAGER"
    BRANCH_SUPERVISOR = "BRANCH_SUPERVISOR"
    COMPLAINT_HANDLER = "COMPLAINT_HANDLER"
    RISK_OFFICER = "RISK_OFFICER"
    MARKETING_ANALYST = "MARKETING_ANALYST"
    AUDITOR = "AUDITOR"
    SECURITY_ADMIN = "SECURITY_ADMIN"
    PROCESS_OWNER = "PROCESS_OWNER"
    HEAD_OFFICE = "HEAD_OFFICE"
    # An API client of an outside organisation; sees consented customers only (SHARE-3).
    THIRD_PARTY = "THIRD_PARTY"


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    # Role names (Role values); the access-control floor decides what each role may do.
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # Set for THIRD_PARTY principals: the organisation they act for.
    third_party_id: Mapped[int | None] = mapped_column(ForeignKey("third_parties.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    branch: Mapped[Branch] = relationship(lazy="joined", innerjoin=True)
