"""Branches and the demo staff of every role (idempotent)."""

from __future__ import annotations

from typing import Any

from faker import Faker
from sqlalchemy import Engine, func, insert, select

from core import clock
from store.staff import Branch, Role, Staff

# (code, name, city, area codes of districts the branch serves)
BRANCHES: list[tuple[str, str, str, list[str]]] = [
    ("HO", "总行", "北京市", ["110101", "110102"]),
    ("BJ01", "北京分行", "北京市", ["110105", "110108", "110106", "110107"]),
    ("SH01", "上海分行", "上海市", ["310101", "310104", "310105", "310112"]),
    ("GZ01", "广州分行", "广州市", ["440103", "440104", "440106", "440111"]),
    ("SZ01", "深圳分行", "深圳市", ["440303", "440304", "440305"]),
    ("HZ01", "杭州分行", "杭州市", ["330102", "330105", "330106"]),
    ("NJ01", "南京分行", "南京市", ["320102", "320104", "320105", "320106"]),
    ("CD01", "成都分行", "成都市", ["510104", "510105", "510106", "510107"]),
    ("WH01", "武汉分行", "武汉市", ["420102", "420103", "420104", "420106"]),
    ("XA01", "西安分行", "西安市", ["610102", "610103", "610104", "610113"]),
]

# Demo staff whose tokens `kehu token --demo` prints: (employee no, role, branch code).
DEMO_STAFF: list[tuple[str, Role, str]] = [
    ("RM0001", Role.RELATIONSHIP_MANAGER, "BJ01"),
    ("SUP0001", Role.BRANCH_SUPERVISOR, "BJ01"),
    ("CH0001", Role.COMPLAINT_HANDLER, "BJ01"),
    ("RISK0001", Role.RISK_OFFICER, "HO"),
    ("MKT0001", Role.MARKETING_ANALYST, "HO"),
    ("AUD0001", Role.AUDITOR, "HO"),
    ("SEC0001", Role.SECURITY_ADMIN, "HO"),
    ("PO0001", Role.PROCESS_OWNER, "HO"),
    ("HO0001", Role.HEAD_OFFICE, "HO"),
]
MANAGERS_PER_BRANCH = 4


def ensure_reference_data(engine: Engine) -> dict[str, Any]:
    """Branches and staff (idempotent); returns ids the customer generator needs."""
    now = clock.now()
    faker = Faker("zh_CN")
    faker.seed_instance(7)
    with engine.begin() as connection:
        existing = {code for (code,) in connection.execute(select(Branch.code))}
        for code, name, city, _areas in BRANCHES:
            if code not in existing:
                connection.execute(insert(Branch).values(code=code, name=name, city=city))
        branch_ids = {code: id_ for code, id_ in connection.execute(select(Branch.code, Branch.id))}
        staff_existing = {no for (no,) in connection.execute(select(Staff.employee_no))}
        wanted: list[dict[str, Any]] = []
        for employee_no, role, branch_code in DEMO_STAFF:
            wanted.append(
                {
                    "employee_no": employee_no,
                    "name": faker.name(),
                    "branch_id": branch_ids[branch_code],
                    "roles": [role.value],
                    "active": True,
                    "created_at": now,
                }
            )
        for code, *_ in BRANCHES:
            if code == "HO":
                continue
            for i in range(1, MANAGERS_PER_BRANCH + 1):
                wanted.append(
                    {
                        "employee_no": f"{code}RM{i:02d}",
                        "name": faker.name(),
                        "branch_id": branch_ids[code],
                        "roles": [Role.RELATIONSHIP_MANAGER.value],
                        "active": True,
                        "created_at": now,
                    }
                )
            for prefix, role in (("SUP", Role.BRANCH_SUPERVISOR), ("CH", Role.COMPLAINT_HANDLER)):
                wanted.append(
                    {
                        "employee_no": f"{code}{prefix}01",
                        "name": faker.name(),
                        "branch_id": branch_ids[code],
                        "roles": [role.value],
                        "active": True,
                        "created_at": now,
                    }
                )
        new = [w for w in wanted if w["employee_no"] not in staff_existing]
        if new:
            connection.execute(insert(Staff), new)
        managers: dict[int, list[int]] = {}
        for staff_id, branch_id, roles in connection.execute(
            select(Staff.id, Staff.branch_id, Staff.roles)
        ):
            if Role.RELATIONSHIP_MANAGER.value in roles:
                managers.setdefault(branch_id, []).append(staff_id)
        recorder = connection.scalar(select(Staff.id).where(Staff.employee_no == "RM0001"))
        staff_count = connection.scalar(select(func.count()).select_from(Staff))
    return {
        "branch_ids": branch_ids,
        "managers": managers,
        "recorder": recorder,
        "staff": staff_count,
    }
