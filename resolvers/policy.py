"""Changing the live access policy (PLAT-3): validated, versioned and audited in one transaction.

Security admins add and remove rules and assign roles; ``kehu authz import`` replaces the rules
with a reviewed CSV file. Every change writes a ``policy_versions`` row and a CHANGE entry of the
audit log in the same transaction; every process reloads when it sees the new version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from authz.fields import POLICY_NOTE_FIELDS, WRITTEN_FIELDS
from authz.policy import PURPOSES, RIGHTS, ROW_SCOPES, WRITE_SCOPES, WRITER_ROLES
from core import clock
from core.errors import FieldError, NotFoundError, UserInputError
from resolvers.shared import unit_of_work
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from resolvers.shared.staff import staff_by_employee_number
from store.policy import PolicyRule, PolicyVersion
from store.staff import Role, Staff

FIELD_ACTIONS = ("full", "masked", "write")
# Personal-data fields, and the placement fields writes name (authz.fields.WRITTEN_FIELDS).
KNOWN_FIELDS = {
    f"{t}.{f}"
    for t, fields in (*WRITTEN_FIELDS.items(), *POLICY_NOTE_FIELDS.items())
    for f in fields.values()
}


@dataclass(frozen=True)
class Rule:
    """One policy line: ``p, role, object, action, effect`` or ``g2, Type.field, group``."""

    ptype: str
    v0: str
    v1: str
    v2: str = ""
    v3: str = ""

    def line(self) -> str:
        values = [self.ptype, self.v0, self.v1] + ([self.v2, self.v3] if self.ptype == "p" else [])
        return ", ".join(values)


def parse_lines(lines: Iterable[str]) -> list[Rule]:
    """Rules of a policy file; every malformed line is reported with its number."""
    rules: list[Rule] = []
    problems: list[FieldError] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(",")]
        if parts[0] == "p" and len(parts) == 5:
            rules.append(Rule("p", *parts[1:]))
        elif parts[0] == "g2" and len(parts) == 3:
            rules.append(Rule("g2", parts[1], parts[2]))
        else:
            problems.append(
                FieldError(
                    ("line", str(number)),
                    "MALFORMED_RULE",
                    "expected 'p, role, object, action, effect' or 'g2, Type.field, group'",
                )
            )
    groups = {rule.v1 for rule in rules if rule.ptype == "g2"}
    for index, rule in enumerate(rules):
        problems += [
            FieldError(("rules", str(index), *e.field), e.code, e.message)
            for e in check_rule(rule, groups)
        ]
    if problems:
        raise UserInputError(problems)
    return rules


def check_rule(rule: Rule, groups: set[str]) -> list[FieldError]:
    """What is wrong with a rule: unknown roles, fields, scopes, purposes, actions, effects."""
    problems: list[FieldError] = []

    def fail(field: str, code: str, message: str) -> None:
        problems.append(FieldError((field,), code, message))

    if rule.ptype == "g2":
        if rule.v0 not in KNOWN_FIELDS:
            fail("object", "UNKNOWN_FIELD", "is not a personal-data field (Type.field)")
        if not rule.v1.replace("_", "").isalnum():
            fail("group", "INVALID", "a group name is letters, digits and _")
        return problems
    if rule.v0 not in Role.__members__:
        fail("role", "UNKNOWN_ROLE", f"must be one of {', '.join(Role.__members__)}")
    kind, _, name = rule.v1.partition(":")
    expected_actions: tuple[str, ...]
    if kind == "rows" and name:
        expected_actions = ("read", "write")
        scopes = WRITE_SCOPES if rule.v2 == "write" else ROW_SCOPES
        if name not in scopes:
            fail("object", "UNKNOWN_SCOPE", f"row scopes are {', '.join(scopes)}")
    elif kind == "purpose" and name:
        expected_actions = ("declare",)
        if name not in PURPOSES:
            fail("object", "UNKNOWN_PURPOSE", f"purposes are {', '.join(PURPOSES)}")
    elif name:
        expected_actions = ("use",)
        if rule.v1 not in RIGHTS:
            fail("object", "UNKNOWN_RIGHT", f"rights are {', '.join(RIGHTS)}")
    else:
        expected_actions = FIELD_ACTIONS
        if rule.v1 not in KNOWN_FIELDS and rule.v1 not in groups:
            fail("object", "UNKNOWN_FIELD", "is not a personal-data field or a field group")
    if rule.v2 not in expected_actions:
        fail("action", "INVALID_ACTION", f"must be {' or '.join(expected_actions)} here")
    if rule.v3 not in ("allow", "deny"):
        fail("effect", "INVALID_EFFECT", "must be allow or deny")
    if rule.v3 == "allow":
        # Allow-lists (a deny rule is always accepted): only these roles ever change customer
        # data; a third party uses no operation (it would record its own consent) and sees no
        # rows but its consented customers (SHARE-3).
        writes = rule.v2 == "write" or rule.v1 == "customer:create"
        third_party = rule.v0 == Role.THIRD_PARTY.value
        if (writes and rule.v0 not in WRITER_ROLES) or (third_party and rule.v2 == "use"):
            fail(
                "role",
                "ROLE_NEVER_WRITES",
                f"only {', '.join(WRITER_ROLES)} change customer data; third parties use nothing",
            )
        elif third_party and kind == "rows" and name != "consented":
            fail("role", "ROLE_NOT_ALLOWED", "a third party sees its consented customers only")
    return problems


def current_version(session: Session) -> int:
    return int(session.scalar(select(func.max(PolicyVersion.version))) or 0)


def _record(
    session: Session, actor: str, actor_id: int | None, summary: str, detail: object
) -> int:
    """A new policy version, noted for the CHANGE entry of the unit of work."""
    version = current_version(session) + 1
    session.add(
        PolicyVersion(version=version, changed_at=clock.now(), changed_by=actor, summary=summary)
    )
    session.flush()
    unit_of_work.note(session, f"policy: {summary}", detail={"version": version, "change": detail})
    return version


def _groups(session: Session) -> set[str]:
    return set(session.scalars(select(PolicyRule.v1).where(PolicyRule.ptype == "g2")))


def _find(session: Session, rule: Rule) -> PolicyRule | None:
    return session.scalar(
        select(PolicyRule).where(
            PolicyRule.ptype == rule.ptype,
            PolicyRule.v0 == rule.v0,
            PolicyRule.v1 == rule.v1,
            PolicyRule.v2 == rule.v2,
            PolicyRule.v3 == rule.v3,
        )
    )


def import_rules(session: Session, rules: Sequence[Rule], actor: str) -> int:
    """Replace every live rule by ``rules``; returns the new version."""
    session.execute(delete(PolicyRule))
    if rules:
        session.execute(
            insert(PolicyRule),
            [{"ptype": r.ptype, "v0": r.v0, "v1": r.v1, "v2": r.v2, "v3": r.v3} for r in rules],
        )
    return _record(session, actor, None, f"import of {len(rules)} rules", len(rules))


def add_rule(session: Session, actor: Staff, rule: Rule) -> int:
    problems = check_rule(rule, _groups(session))
    if not problems and _find(session, rule) is not None:
        problems.append(FieldError(("rule",), "DUPLICATE", "this rule exists already"))
    if problems:
        raise UserInputError(problems)
    session.add(PolicyRule(ptype=rule.ptype, v0=rule.v0, v1=rule.v1, v2=rule.v2, v3=rule.v3))
    return _record(session, actor.employee_no, actor.id, f"add {rule.line()}", rule.line())


def remove_rule(session: Session, actor: Staff, rule: Rule) -> int:
    found = _find(session, rule)
    if found is None:
        raise UserInputError([FieldError(("rule",), "NOT_FOUND", "no such rule")])
    session.delete(found)
    return _record(session, actor.employee_no, actor.id, f"remove {rule.line()}", rule.line())


def set_role(session: Session, actor: Staff, employee_no: str, role: str, assigned: bool) -> int:
    """Give a staff member a role, or take it away."""
    if role not in Role.__members__:
        raise UserInputError(
            [FieldError(("role",), "UNKNOWN_ROLE", f"must be one of {', '.join(Role.__members__)}")]
        )
    staff = staff_by_employee_number(session, employee_no)
    if staff is None:
        raise NotFoundError("no staff member with this employee number")
    if staff.id == actor.id:
        # Four eyes: no one grants themselves rights (a security admin becoming a writer).
        raise UserInputError(
            [FieldError(("employeeNo",), "SELF_ASSIGNMENT", "another admin changes your roles")]
        )
    if assigned and (role == Role.THIRD_PARTY.value) != (staff.third_party_id is not None):
        # A third party's principal is THIRD_PARTY and nothing else (it never writes, never
        # sees rows as staff), and no staff member acts as a third party.
        raise UserInputError(
            [
                FieldError(
                    ("role",),
                    "ROLE_NOT_ALLOWED",
                    "third parties' principals hold THIRD_PARTY only, staff never",
                )
            ]
        )
    roles = set(staff.roles)
    roles = roles | {role} if assigned else roles - {role}
    staff.roles = sorted(roles)
    verb = "assign" if assigned else "unassign"
    return _record(
        session, actor.employee_no, actor.id, f"{verb} {role} to {employee_no}", [verb, role]
    )


def rule_page(session: Session, where: ColumnElement[bool], request: PageRequest) -> Page:
    """Live rules matching ``where``, in the order they were added."""
    statement = select(PolicyRule).where(where)
    return paginate(session, statement, [SortKey(PolicyRule.id)], request, lambda r: [r.id])


def version_page(session: Session, request: PageRequest) -> Page:
    """Versions of the live policy, newest first."""
    keys = [SortKey(PolicyVersion.version, True)]
    return paginate(session, select(PolicyVersion), keys, request, lambda v: [v.version])


def import_policy(session: Session, rules: Sequence[Rule], actor: str) -> int:
    """``import_rules`` as a unit of work of its own (the CLI, a first start), committed."""
    return unit_of_work.run(
        session,
        unit_of_work.Actor(name=actor),
        unit_of_work.SYSTEM,
        "importPolicy",
        lambda s: import_rules(s, rules, actor),
    )
