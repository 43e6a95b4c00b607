"""The organisation the KPIs are scoped by (KPI-1): teams within branches, and which team each
member of staff belonged to when (history kept: a move ends one membership and starts another).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UTCDateTime


class Team(Base):
    """A team of a branch (e.g. 财富管理一组); staff belong to at most one team at a time."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamMembership(Base):
    """A staff member in a team from ``started_at`` until ``ended_at`` (null: still).

    At an instant T a member belongs to the team whose membership began before T and had not
    ended by T (``started_at < T <= ended_at``); one open membership per member at most.
    """

    __tablename__ = "team_memberships"
    __table_args__ = (
        Index("ix_team_memberships_staff", "staff_id", "started_at"),
        Index("ix_team_memberships_team", "team_id", "started_at"),
        Index(
            "uq_team_memberships_open",
            "staff_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moved_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
