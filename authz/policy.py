"""The access policy: Casbin rules turned into per-request decisions (SHARE-1, PLAT-3).

Security teams own ``authz/model.conf`` and ``authz/policy.csv``. This module answers, for a set
of roles: the effect (FULL, MASKED, DENIED) of every personal-data field, the row scopes, and the
purposes they may declare — each with the rule that decided it. Decisions are computed once per
(roles, policy version) and cached, so a request costs no ``enforce`` call once warm, whatever
its page size. The enforcer is pycasbin's ``SyncedEnforcer``: plain ``Enforcer`` returns wrong
allows while another thread reloads the policy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import casbin
from casbin.persist import Adapter, load_policy_line
from sqlalchemy import Engine, select

from authz.fields import PERSONAL_FIELDS, WRITTEN_FIELDS, Effect
from authz.masking import MASKS
from store.policy import PolicyRule

HERE = Path(__file__).parent
MODEL_FILE = HERE / "model.conf"
POLICY_FILE = HERE / "policy.csv"

ROW_SCOPES = ("own", "branch", "complaints", "bank", "consented")
# Rows a role may change (act ``write``): never by complaint assignment or consent.
WRITE_SCOPES = ("own", "branch", "bank")
# Rights to operations (act ``use``); every root field of the API declares one
# (schema.shared.rights).
RIGHTS = (
    "admin:explain",
    "admin:audit",
    "admin:policy",
    "admin:share",
    "admin:process",
    "admin:complaint_intake",
    "complaint:withdraw",
    "complaint:merge",
    "complaint:pause",
    "complaint:request_review",
    "complaint:oversee",
    "customer:create",
    "customer:watch",
    "consent:record",
    "share:request",
    "task:work",
    "task:reassign",
    "segment:classify",
    "segment:override",
    "segment:model",
    "segment:distribution",
    "segment:needs",
    "segment:risk_model",
    "segment:worklist",
    "segment:measures",
    "contact:log",
    "contact:cadence",
    "contact:recommend",
    "club:read",
    "club:event",
    "club:membership",
    "club:register",
    "survey:record",
    "survey:results",
    "survey:design",
    "kpi:read",
    "kpi:organise",
    "spot_check:draw",
    "spot_check:inspect",
    "spot_check:read",
    "spot_check:rectify",
    "evaluation:record",
    "evaluation:results",
    "scorecard:read",
    "scorecard:manage",
)
# The only roles a rule may let change customer data (act ``write``, right ``customer:create``):
# auditors, marketing, security admins, process owners and third parties never.
WRITER_ROLES = ("RELATIONSHIP_MANAGER", "BRANCH_SUPERVISOR", "HEAD_OFFICE", "RISK_OFFICER")
PURPOSES = (
    "CUSTOMER_SERVICE",
    "RELATIONSHIP_MANAGEMENT",
    "RISK_CONTROL",
    "COMPLAINT_HANDLING",
    "AUDIT",
)
_RANK = {Effect.DENIED: 0, Effect.MASKED: 1, Effect.FULL: 2}

# pycasbin logs the whole model and policy at INFO on every load and a WARNING per refused
# enforce (most decisions of a role are refusals). Its default (``enable_log=False``) only sets
# ``logger.disabled``, which any ``logging.config.dictConfig`` with disable_existing_loggers=False
# clears again (uvicorn's, at ``kehu serve``). Levels survive that: only errors get through.
# Kehu logs what matters itself (``kehu.policy``: versions applied, rules imported).
CASBIN_LOGGERS = ("casbin", "casbin.policy", "casbin.enforcer", "casbin.role")


def quiet_casbin_logging() -> None:
    for name in CASBIN_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


class AccessAction(StrEnum):
    """What a question about access asks: see a field, change it, or use a right."""

    READ = "READ"
    WRITE = "WRITE"
    USE = "USE"


@dataclass(frozen=True)
class Decision:
    """An effect and why: the deciding rule, or the reason no rule applied."""

    effect: Effect
    role: str | None
    rule: str

    def as_text(self) -> str:
        return f"{self.effect.value} — {self.rule}"


class AccessPolicy:
    """Field, row and purpose decisions from a Casbin model and policy."""

    def __init__(self, model: Path = MODEL_FILE, policy: Path | Adapter = POLICY_FILE) -> None:
        """Rules from a CSV file (reviews, tests, the CLI) or an adapter (the live database)."""
        source = str(policy) if isinstance(policy, Path) else policy
        quiet_casbin_logging()
        self.enforcer = casbin.SyncedEnforcer(str(model), source)
        self.version = 1
        self.enforce_calls = 0
        self._cache: dict[tuple[frozenset[str], int], RoleDecisions] = {}
        self._lock = threading.Lock()
        # SyncedEnforcer lets readers enforce concurrently, but each enforce compiles the matcher
        # with ast.parse, which CPython 3.11 does not allow from two threads at once ("AST
        # constructor recursion depth mismatch"). Enforce calls are rare (decisions are cached),
        # so they are simply serialised.
        self._enforce_lock = threading.Lock()
        self._groups_cache: dict[tuple[str, int], dict[str, str]] = {}

    # -- single decisions ------------------------------------------------------------------

    def _enforce(self, role: str, obj: str, act: str) -> tuple[bool, list[str]]:
        with self._enforce_lock:
            self.enforce_calls += 1
            allowed, rule = self.enforcer.enforce_ex(role, obj, act)
        return bool(allowed), list(rule)

    def field_decision(self, roles: Iterable[str], field: str) -> Decision:
        """The effect of ``field`` ("Type.field") for the union of ``roles``.

        Per role, deny overrides allow; across roles the most open effect wins. MASKED on a field
        without a mask is DENIED.
        """
        best = Decision(Effect.DENIED, None, "no rule allows it (denied by default)")
        for role in sorted(set(roles)):
            decision = self._role_field_decision(role, field)
            if _RANK[decision.effect] > _RANK[best.effect] or best.role is None:
                best = decision
        return best

    def _role_field_decision(self, role: str, field: str) -> Decision:
        full, rule = self._enforce(role, field, "full")
        if full:
            return Decision(Effect.FULL, role, _rule_text(rule))
        masked, masked_rule = self._enforce(role, field, "masked")
        if masked:
            if field not in MASKS:
                return Decision(
                    Effect.DENIED,
                    role,
                    f"{_rule_text(masked_rule)} — but {field} has no mask, so it is withheld",
                )
            because = f"; FULL refused by {_rule_text(rule)}" if rule else ""
            return Decision(Effect.MASKED, role, _rule_text(masked_rule) + because)
        reason = _rule_text(rule or masked_rule) if (rule or masked_rule) else "no rule allows it"
        return Decision(Effect.DENIED, role, reason)

    def explain(
        self, roles: Iterable[str], type_name: str, name: str, action: AccessAction
    ) -> Decision:
        """The answer to "may these roles …" with its deciding rule (explainAccess, the CLI).

        READ: the effect of field ``type_name.name``; WRITE: whether they may change it (FULL
        when allowed); USE: whether they hold the right ``type_name:name`` (``customer:create``).
        """
        if action is AccessAction.WRITE:
            return self.write_decision(roles, f"{type_name}.{name}")
        if action is AccessAction.USE:
            return self.allows(roles, f"{type_name}:{name}", "use")
        return self.field_decision(roles, f"{type_name}.{name}")

    def row_scopes(self, roles: Iterable[str], action: AccessAction) -> frozenset[str]:
        """The rows the roles may read (READ, USE) or change (WRITE)."""
        decisions = self.decisions(roles)
        return decisions.write_scopes if action is AccessAction.WRITE else decisions.row_scopes

    def write_decision(self, roles: Iterable[str], field: str) -> Decision:
        """May ``roles`` change ``field`` ("Type.field")? FULL when some role may, else DENIED."""
        return self.allows(roles, field, "write")

    def allows(self, roles: Iterable[str], obj: str, act: str) -> Decision:
        """A row scope ("rows:own", act "read" or "write"), purpose ("purpose:X", "declare"),
        right ("customer:create", "use") or field write ("Customer.phone", "write").

        The effect is FULL when allowed, DENIED otherwise.
        """
        for role in sorted(set(roles)):
            allowed, rule = self._enforce(role, obj, act)
            if allowed:
                return Decision(Effect.FULL, role, _rule_text(rule))
        return Decision(Effect.DENIED, None, "no rule allows it (denied by default)")

    # -- per-request decisions (cached) --------------------------------------------------------

    def check_expectations(self, lines: Iterable[str]) -> list[str]:
        """Failures of an expectations table (``role, object, expected`` per line).

        ``object`` is a field (FULL / MASKED / DENIED), or ALLOW / DENY for a row scope, a
        purpose, a right, or a write: ``write Customer.phone``, ``write rows:own``.
        """
        failures = []
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [part.strip() for part in line.split(",")]
            if len(parts) != 3:
                failures.append(f"line {number}: expected 'role, object, effect', got {line!r}")
                continue
            role, obj, expected = parts
            act, obj = _expectation_act(obj)
            if act is None:
                decision = self.field_decision([role], obj)
                actual = decision.effect.value
            else:
                decision = self.allows([role], obj, act)
                actual = "ALLOW" if decision.effect is Effect.FULL else "DENY"
            if actual != expected.upper():
                failures.append(
                    f"line {number}: {role} {obj}: expected {expected}, got {actual} "
                    f"({decision.rule})"
                )
        return failures

    def decisions(self, roles: Iterable[str]) -> RoleDecisions:
        """Everything a request of these roles needs, computed once per policy version."""
        key = (frozenset(roles), self.version)
        found = self._cache.get(key)
        if found is None:
            with self._lock:
                found = self._cache.get(key)
                if found is None:
                    found = self._cache[key] = self._compute(key[0])
        return found

    def _compute(self, roles: frozenset[str]) -> RoleDecisions:
        fields = {
            type_name: {
                graphql: self.field_decision(roles, f"{type_name}.{graphql}").effect
                for graphql in names.values()
            }
            for type_name, names in PERSONAL_FIELDS.items()
        }
        scopes = frozenset(
            scope
            for scope in ROW_SCOPES
            if self.allows(roles, f"rows:{scope}", "read").effect is Effect.FULL
        )
        purposes = frozenset(
            purpose
            for purpose in PURPOSES
            if self.allows(roles, f"purpose:{purpose}", "declare").effect is Effect.FULL
        )
        write_scopes = frozenset(
            scope
            for scope in WRITE_SCOPES
            if self.allows(roles, f"rows:{scope}", "write").effect is Effect.FULL
        )
        writable = frozenset(
            f"{type_name}.{graphql}"
            for type_name, names in WRITTEN_FIELDS.items()
            for graphql in names.values()
            if self.write_decision(roles, f"{type_name}.{graphql}").effect is Effect.FULL
        )
        rights = frozenset(
            right for right in RIGHTS if self.allows(roles, right, "use").effect is Effect.FULL
        )
        return RoleDecisions(fields, scopes, purposes, write_scopes, writable, rights)

    def field_groups(self) -> dict[str, str]:
        """Type.field → its group, from the policy's g2 rules (cached per version)."""
        key = ("groups", self.version)
        found = self._groups_cache.get(key)
        if found is None:
            with self._enforce_lock:
                pairs = self.enforcer.get_named_grouping_policy("g2")
            found = self._groups_cache[key] = {field: group for field, group in pairs}
        return found

    def reload(self) -> None:
        """Re-read the policy; cached decisions of older versions are no longer used."""
        self.enforcer.load_policy()
        with self._lock:
            self.version += 1
            self._cache.clear()


@dataclass(frozen=True)
class RoleDecisions:
    fields: Mapping[str, Mapping[str, Effect]]  # type → GraphQL field → effect
    row_scopes: frozenset[str]
    purposes: frozenset[str]
    write_scopes: frozenset[str]  # rows this role may change
    writable: frozenset[str]  # "Type.field" this role may change (authz.fields.WRITTEN_FIELDS)
    rights: frozenset[str]  # rights (RIGHTS) this role holds


class DatabaseAdapter(Adapter):  # type: ignore[misc]
    """Loads the live rules from ``policy_rules``; changes are written by ``resolvers.policy``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load_policy(self, model: Any) -> None:
        table = PolicyRule.__table__
        with self.engine.connect() as connection:
            rows = connection.execute(select(table).order_by(table.c.id)).all()
        for row in rows:
            values = [row.ptype, row.v0, row.v1] + ([row.v2, row.v3] if row.ptype == "p" else [])
            load_policy_line(", ".join(values), model)


def _expectation_act(obj: str) -> tuple[str | None, str]:
    """The act an expectation asks about (None: a field's read effect) and its object."""
    if obj.startswith("write "):
        return "write", obj.removeprefix("write ").strip()
    if ":" not in obj:
        return None, obj
    return {"rows": "read", "purpose": "declare"}.get(obj.split(":")[0], "use"), obj


def _rule_text(rule: list[str]) -> str:
    return "rule `p, " + ", ".join(rule) + "`" if rule else "no rule"
