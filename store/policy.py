"""The live access policy: Casbin rules and their versions (PLAT-3).

``authz/policy.csv`` is the reviewed source; ``kehu authz import`` (or the first start on an
empty database) copies it here, and the security admins' mutations change it. Every change adds
a row to ``policy_versions``; each process reloads when it sees a newer version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, UTCDateTime


class PolicyRule(Base):
    __tablename__ = "policy_rules"
    __table_args__ = (UniqueConstraint("ptype", "v0", "v1", "v2", "v3"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ptype: Mapped[str] = mapped_column(String(4))  # p or g2
    v0: Mapped[str] = mapped_column(String(100))
    v1: Mapped[str] = mapped_column(String(100))
    v2: Mapped[str] = mapped_column(String(20), default="")
    v3: Mapped[str] = mapped_column(String(10), default="")

    def as_line(self) -> str:
        values = [self.ptype, self.v0, self.v1] + ([self.v2, self.v3] if self.ptype == "p" else [])
        return ", ".join(values)


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(300))
