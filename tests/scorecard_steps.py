"""A small fixed world for scorecard tests (KPI-2, KPI-3): a fresh branch with a supervisor and
three relationship managers in two teams, customers and one major complaint in one month, and
weights for that month only — so that every score can be computed by hand.

Staff A (team T1): 3 new customers, no complaint; B (T1): 1 customer; C (T2): 2 customers, one
of whom files a complaint (a major one — amount ≥ the major-complaint amount — on request). Weights (test only):

- STAFF: NEW_CUSTOMERS 0.6 (HIGHER, target 4, floor 0), COMPLAINT_COUNT 0.4 (LOWER, 0, 2)
  A 0.6 × 75 + 0.4 × 100 = 85.00; B 0.6 × 25 + 40 = 55.00; C 0.6 × 50 + 0.4 × 50 = 50.00
- TEAM: NEW_CUSTOMERS 0.5 (HIGHER, 10, 0), COMPLAINT_COUNT 0.5 (LOWER, 0, 4)
  T1 (4 new, 0 complaints) 0.5 × 40 + 0.5 × 100 = 70.00; T2 (2, 1) 0.5 × 20 + 0.5 × 75 = 47.50
- BRANCH: NEW_CUSTOMERS 0.5 (HIGHER, 12, 0): 6 new → 50.00; SATISFACTION_SCORE 0.5: no survey
  answers, no value (EMPTY_DENOMINATOR) and no score — NEW_CUSTOMERS carries the weight: 50.00
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from core import clock
from core.ids import global_id
from store.staff import Branch, Role, Staff
from tests.complaint_steps import submit
from tests.conftest import Backend, create_customer

_codes = itertools.count(1)

SET_WEIGHTS = """
mutation($input: SetScorecardWeightsInput!) {
  setScorecardWeights(input: $input) {
    weights { version validFrom validTo honours { title minScore } }
    errors { field code message }
  }
}
"""
ASSESS = """
mutation($input: AssessScorecardsInput!) {
  assessScorecards(input: $input) {
    version { period version weightVersion branchId reason computedBy }
    scorecardCount
    errors { field code message }
  }
}
"""
SCORECARDS = """
query($period: String!, $level: ScorecardLevel!, $scope: KpiScopeInput, $version: Int) {
  scorecards(period: $period, level: $level, scope: $scope, version: $version) {
    period level
    version { version weightVersion }
    versions { version reason }
    scorecards {
      subjectId label score rank customers majorComplaints
      lines { indicator weight value numerator denominator nullReason score }
      honours { title titleText rule }
      trainings { indicator courseCode courseTitle score }
    }
  }
}
"""


def weight(indicator: str, share: str, direction: str, target: str, floor: str) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "weight": share,
        "direction": direction,
        "target": target,
        "floor": floor,
    }


LEVELS = [
    {
        "level": "BRANCH",
        "indicators": [
            weight("NEW_CUSTOMERS", "0.5", "HIGHER", "12", "0"),
            weight("SATISFACTION_SCORE", "0.5", "HIGHER", "4.5", "3"),
        ],
    },
    {
        "level": "TEAM",
        "indicators": [
            weight("NEW_CUSTOMERS", "0.5", "HIGHER", "10", "0"),
            weight("COMPLAINT_COUNT", "0.5", "LOWER", "0", "4"),
        ],
    },
    {
        "level": "STAFF",
        "indicators": [
            weight("NEW_CUSTOMERS", "0.6", "HIGHER", "4", "0"),
            weight("COMPLAINT_COUNT", "0.4", "LOWER", "0", "2"),
        ],
    },
]
HONOURS = [
    {
        "title": "SERVICE_STAR",
        "level": "STAFF",
        "top": 3,
        "minScore": "50",
        "minCustomers": 2,
        "noMajorComplaint": True,
    },
    {
        "title": "EXCELLENT_TEAM",
        "level": "TEAM",
        "top": 1,
        "minScore": "70",
        "minCustomers": 0,
        "noMajorComplaint": True,
    },
]


def month_bounds(label: str) -> tuple[date, date]:
    year, month = (int(p) for p in label.split("-"))
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def set_weights(backend: Backend, label: str, **extra: Any) -> dict[str, Any]:
    first, last = month_bounds(label)
    values: dict[str, Any] = {
        "validFrom": first.isoformat(),
        "validTo": last.isoformat(),
        "summary": f"test weights for {label}",
        "levels": LEVELS,
        "honours": HONOURS,
    }
    values.update(extra)
    return dict(backend.gql(SET_WEIGHTS, {"input": values})["setScorecardWeights"])


@dataclass
class World:
    label: str  # the month, e.g. 2025-01
    branch_code: str
    branch_id: str
    supervisor: str  # employee numbers
    a: str
    b: str
    c: str
    staff_ids: dict[str, str]  # employee no → global Staff ID
    team_ids: dict[str, str]  # T1, T2 → global Team ID

    def in_period(self, day: int = 10) -> datetime:
        first, _ = month_bounds(self.label)
        return datetime(first.year, first.month, day, 3, 0, tzinfo=UTC)


def world(backend: Backend, label: str, major: bool = False) -> World:
    """The fixed world in month ``label`` (see the module docstring), weights included; with
    ``major`` C's complaint is a major one (it raises a head-office alert, so only where
    needed)."""
    suffix = f"{next(_codes)}{uuid.uuid4().hex[:4]}".upper()
    code = f"S{suffix}"[:8]
    numbers = {k: f"{code}{k}" for k in ("SUP", "RMA", "RMB", "RMC")}
    with backend.engine.begin() as connection:
        branch = connection.execute(
            insert(Branch)
            .values(code=code, name=f"考核测试支行{suffix}", city="北京市")
            .returning(Branch.id)
        ).scalar_one()
        for key, number in numbers.items():
            role = Role.BRANCH_SUPERVISOR if key == "SUP" else Role.RELATIONSHIP_MANAGER
            connection.execute(
                insert(Staff).values(
                    employee_no=number,
                    name=f"员工{key}",
                    branch_id=branch,
                    roles=[role.value],
                    active=True,
                    created_at=clock.now(),
                )
            )
        staff = dict(
            connection.execute(
                select(Staff.employee_no, Staff.id).where(Staff.branch_id == branch)
            ).all()
        )
    ids = {number: global_id("Staff", pk) for number, pk in staff.items()}
    branch_gid = global_id("Branch", branch)
    found = World(
        label,
        code,
        branch_gid,
        numbers["SUP"],
        numbers["RMA"],
        numbers["RMB"],
        numbers["RMC"],
        ids,
        {},
    )
    first, _ = month_bounds(label)
    with clock.travel_to(datetime(first.year, first.month, 1, 1, 0, tzinfo=UTC), all_threads=True):
        for team in ("T1", "T2"):
            made = backend.gql(
                """mutation($input: CreateTeamInput!) { createTeam(input: $input) {
                     team { id } errors { code } } }""",
                {"input": {"branchId": branch_gid, "code": team, "name": f"团队{team}"}},
            )["createTeam"]
            assert made["errors"] == []
            found.team_ids[team] = made["team"]["id"]
        for number, team in ((found.a, "T1"), (found.b, "T1"), (found.c, "T2")):
            moved = backend.gql(
                """mutation($input: MoveStaffToTeamInput!) { moveStaffToTeam(input: $input) {
                     errors { code } } }""",
                {"input": {"staffId": ids[number], "teamId": found.team_ids[team]}},
            )["moveStaffToTeam"]
            assert moved["errors"] == []
    with clock.travel_to(found.in_period(), all_threads=True):
        for number, count in ((found.a, 3), (found.b, 1), (found.c, 2)):
            for _ in range(count):
                customer = add_customer(backend, found, number)
        # C's second customer complains (major: the amount at the major threshold).
        amount = backend.settings.major_complaint_amount if major else Decimal("120.00")
        submit(
            backend, customer, staff="HO0001", complainedStaff=found.c, amountInDispute=str(amount)
        )
    assert set_weights(backend, label)["errors"] == []
    return found


def add_customer(backend: Backend, found: World, manager: str) -> dict[str, Any]:
    return create_customer(
        backend, branch=found.branch_id, relationshipManager=found.staff_ids[manager]
    )


def assess(backend: Backend, found: World, staff: str = "HO0001", **extra: Any) -> dict[str, Any]:
    values = {"period": found.label, "branchId": found.branch_id, **extra}
    return dict(backend.gql(ASSESS, {"input": values}, staff=staff)["assessScorecards"])


def scorecards(
    backend: Backend,
    found: World,
    level: str,
    staff: str = "HO0001",
    version: int | None = None,
) -> dict[str, Any]:
    variables = {
        "period": found.label,
        "level": level,
        "scope": {"level": "BRANCH", "id": found.branch_id},
        "version": version,
    }
    return dict(backend.gql(SCORECARDS, variables, staff=staff)["scorecards"])
