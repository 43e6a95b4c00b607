"""What one request may see and change: the per-request access object (SHARE-1 … SHARE-5).

:class:`Access` is decided once the caller is known (``Access.decide``): the declared purpose and
whether the caller's roles allow it, the field effects (:class:`~authz.fields.PolicyAccess`), the
row scopes, the cached policy decisions (rights, write scopes, writable fields), and — per
customer presented — whether it is seen by scope, by a share grant or by consents, with the field
effects that grant or those consents give. Row conditions are SQL (``visible``, ``writable``,
``row_columns``): rows are filtered in the database, never fetched and discarded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, case, null, or_, select
from sqlalchemy.orm import Session

from authz import consents, grants
from authz.fields import PERSONAL_FIELDS, Effect, PolicyAccess
from authz.grants import GrantPresence
from authz.policy import AccessPolicy, RoleDecisions
from authz.rights import holds_right, purpose_problem
from authz.rows import complaints_visible_to, visible_to
from core import clock
from core.errors import ApiError, ForbiddenError
from store.sharing import ShareGrant
from store.staff import Staff


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class Access:
    """The access decisions of one request: before ``decide``, nothing is visible."""

    def __init__(
        self,
        policy: AccessPolicy,
        session: Callable[[], Session],
        staff: Staff | None = None,
        purpose: str | None = None,
        grant_presence: GrantPresence | None = None,
    ) -> None:
        self.policy = policy
        self._session = session
        self.staff = staff
        # The process's memory of who may hold grants; None: always consider grants.
        self.grant_presence = grant_presence
        self.purpose = (purpose or "").strip().upper() or None
        self.decisions: RoleDecisions | None = None
        self.row_scopes: frozenset[str] = frozenset()
        self.purpose_problem: str | None = None
        # Nothing is visible before the caller is known.
        self.fields = PolicyAccess({}, downgrade=True)
        if staff is not None:
            decisions = self.decisions = policy.decisions(staff.roles)
            self.row_scopes = decisions.row_scopes
            self.purpose_problem = purpose_problem(self.purpose, decisions)
            self.fields = PolicyAccess(decisions.fields, downgrade=self.purpose_problem is not None)
        # How each presented customer is seen: None (scope), "grant:3", "consent:3+7".
        self._modes: dict[int, str | None] = {}
        self._grant_accesses: dict[str, PolicyAccess] = {}
        # The field groups / data categories behind each entry of ``_grant_accesses``.
        self._granted: dict[str, frozenset[str]] = {}
        self._grant_subquery: Any = None
        self._consent_subquery: Any = None

    @classmethod
    def decide(
        cls,
        policy: AccessPolicy,
        session: Callable[[], Session],
        staff: Staff,
        purpose: str | None,
        grant_presence: GrantPresence | None = None,
    ) -> Access:
        """What ``staff`` may see and change in this request, declaring ``purpose``.

        Without a purpose the caller's roles allow, FULL fields are downgraded to MASKED
        (SHARE-1) and the response says so in ``extensions.access``.
        """
        return cls(policy, session, staff, purpose, grant_presence)

    @property
    def session(self) -> Session:
        return self._session()

    @property
    def actor(self) -> Staff:
        if self.staff is None:
            raise Unauthenticated("authentication required")
        return self.staff

    @property
    def allowed_purpose(self) -> str | None:
        """The declared purpose when the caller's roles may declare it, else None."""
        return self.purpose if self.purpose_problem is None else None

    def start_event(self) -> None:
        """Forget which customers were presented how (a subscription's next event)."""
        self._modes.clear()
        self._grant_accesses.clear()
        self._granted.clear()
        self._grant_subquery = None
        self._consent_subquery = None

    # -- rights ----------------------------------------------------------------------------

    def has_right(self, right: str) -> bool:
        """Whether the caller's roles hold ``right`` (a cached decision, no enforce call)."""
        self.actor  # noqa: B018 - authentication required
        return holds_right(self.decisions, right)

    # -- rows: own scopes plus share grants and consents in force (SHARE-2, SHARE-3) -------

    def _grant_column(self) -> Any:
        if self._grant_subquery is None:
            holds = self.grant_presence is None or self.grant_presence.may_hold(
                self.session, self.actor
            )
            self._grant_subquery = (
                grants.grant_for_customer(self.actor, clock.now()) if holds else null()
            )
        return self._grant_subquery

    def _consent_column(self) -> Any:
        if self._consent_subquery is None:
            # Only a purpose the role may declare and a consent names opens a row (SHARE-3).
            self._consent_subquery = (
                consents.consent_for_customer(self.actor, clock.now(), self.allowed_purpose)
                if "consented" in self.row_scopes
                else null()
            )
        return self._consent_subquery

    @property
    def visible(self) -> ColumnElement[bool]:
        """The customers this request may see: own scopes, a share grant, or a consent."""
        return or_(
            visible_to(self.actor, self.row_scopes),
            self._grant_column().is_not(None),
            self._consent_column().is_not(None),
        )

    @property
    def in_rows(self) -> ColumnElement[bool]:
        """The customers of the caller's own row scopes: never by a share grant or a consent
        (those open a customer for reading, for their purpose — not for recording about them)."""
        return visible_to(self.actor, self.row_scopes)

    @property
    def complaints_visible(self) -> ColumnElement[bool]:
        """The complaints this request may see: of customers it sees — by a row scope other
        than complaint assignment, a share grant or a consent — and those the caller handles.
        Handling one complaint opens its customer, not the customer's other complaints."""
        customers = or_(
            visible_to(self.actor, self.row_scopes - {"complaints"}),
            self._grant_column().is_not(None),
            self._consent_column().is_not(None),
        )
        return complaints_visible_to(self.actor, customers)

    @property
    def complaints_in_rows(self) -> ColumnElement[bool]:
        """The complaints this request may act on (withdraw, merge, pause, record a delivery):
        as :attr:`complaints_visible`, but never through a share grant or a consent — those
        open a customer for reading, for their purpose, not for changing their complaints."""
        return complaints_visible_to(
            self.actor, visible_to(self.actor, self.row_scopes - {"complaints"})
        )

    @property
    def writable(self) -> ColumnElement[bool]:
        """The customers this request may change: its write row scopes (never grants, consents)."""
        scopes = self.decisions.write_scopes if self.decisions else frozenset()
        return visible_to(self.actor, scopes)

    @property
    def row_columns(self) -> list[Any]:
        """Columns telling, per customer row, how it is seen: scope, grant or consent."""
        own = self.in_rows
        return [
            case((own, True), else_=False).label("in_scope"),
            self._grant_column().label("via_grant"),
            self._consent_column().label("via_consent"),
        ]

    def require_rows(self) -> None:
        """Refuse customer-level data to roles without any row scope or grant (aggregates only)."""
        if self.row_scopes:
            return
        holds = (
            self.grant_presence.may_hold(self.session, self.actor)
            if self.grant_presence is not None
            else grants.has_grants_in_force(self.session, self.actor)
        )
        if not holds:
            raise ForbiddenError("your roles may not see individual customers")

    def grants_in_force(self) -> list[ShareGrant]:
        """The share grants this caller may use now (one query; only when filters need it)."""
        return list(
            self.session.scalars(select(ShareGrant).where(grants.in_force(self.actor, clock.now())))
        )

    def consented_categories(self) -> list[frozenset[str]]:
        """Per customer this caller sees through consents, the data categories they give for
        the declared purpose (their union, SHARE-3); empty for callers no consent opens rows to.
        """
        purpose = self.allowed_purpose
        party = self.actor.third_party_id
        if "consented" not in self.row_scopes or party is None or purpose is None:
            return []
        return consents.consented_unions(self.session, party, purpose, clock.now())

    # -- fields: the roles', or a grant's or consents' -------------------------------------

    def effect(self, type_name: str, graphql_field: str) -> Effect:
        """The roles' effect on a field (FULL for fields that are not personal data)."""
        return self.fields.effect(type_name, graphql_field)

    def note_customer(self, row: Any) -> None:
        """Remember how a presented customer is seen: by scope (None), a grant or a consent.

        ``row`` (a result row) carries the ``row_columns``.
        """
        # By key: a Row's attribute access by column name is about ten times slower.
        values = row._mapping
        if values["in_scope"]:
            self._modes[values["id"]] = None
        elif values["via_grant"] is not None:
            self._modes[values["id"]] = f"grant:{values['via_grant']}"
        else:
            numbers = consents.consent_ids(values["via_consent"])
            self._modes[values["id"]] = "consent:" + "+".join(map(str, numbers))

    def access_for(self, customer_id: int) -> PolicyAccess:
        """The field effects for one customer's data: the roles', or its grant's or consents'.

        A grant reveals its field groups in full — if the declared purpose is the one it names;
        otherwise masked — and nothing else. Consents (all naming the declared purpose) reveal
        the union of their data categories, never more than the third party's role allows.
        """
        via = self._modes.get(customer_id)
        if via is None:
            return self.fields
        found = self._grant_accesses.get(via)
        if found is None:
            kind, _, numbers = via.partition(":")
            if kind == "grant":
                grant = grants.grants_by_id(self.session, [int(numbers)])[int(numbers)]
                granted, purposes = frozenset(grant.field_groups), {grant.purpose}
            else:
                ids = [int(n) for n in numbers.split("+")]
                found_consents = consents.consents_by_id(self.session, ids).values()
                granted = consents.consented_categories(found_consents)
                purposes = {c.purpose for c in found_consents}
            groups = self.policy.field_groups()
            role_cap = self.policy.decisions(self.actor.roles).fields
            effects = {
                type_name: {
                    field: Effect.FULL
                    if groups.get(f"{type_name}.{field}") in granted
                    and (kind == "grant" or role_cap[type_name][field] is not Effect.DENIED)
                    else Effect.DENIED
                    for field in names.values()
                }
                for type_name, names in PERSONAL_FIELDS.items()
            }
            found = PolicyAccess(effects, downgrade=purposes != {self.purpose})
            self._grant_accesses[via] = found
            self._granted[via] = granted
        return found

    def may_read_complaint_text(self, customer_id: int, type_name: str, field: str) -> bool:
        """Complaint timelines and messages (``COMPLAINT_TEXT``): who sees the complaint reads
        them — except a third party, which needs a consent naming the ``complaints`` group.

        A refusal is reported like a withheld personal field (null + FIELD_FORBIDDEN).
        """
        if self.actor.third_party_id is None:
            return True
        # Allow-list: a third party reads complaint text through such a consent, nothing else.
        via = self._modes.get(customer_id) or ""
        if via.startswith("consent:"):
            self.access_for(customer_id)
            if "complaints" in self._granted[via]:
                return True
        self.fields.withheld.add((type_name, field))
        return False

    def withhold(self, type_name: str, field: str) -> None:
        """Report ``type_name.field`` withheld (null + FIELD_FORBIDDEN on its selected paths),
        for fields outside the field policy (a third party and other staff members)."""
        self.fields.withheld.add((type_name, field))

    def withheld(self) -> set[tuple[str, str]]:
        """Fields withheld from at least one object, whichever access withheld them."""
        result = set(self.fields.withheld)
        for access in self._grant_accesses.values():
            result |= access.withheld
        return result

    def downgrades_applied(self) -> set[tuple[str, str]]:
        """Fields FULL by the policy that some object showed masked or withheld because the
        declared purpose does not allow them in full (whichever access presented it)."""
        result = set(self.fields.downgrades_applied)
        for access in self._grant_accesses.values():
            result |= access.downgrades_applied
        return result

    @property
    def used_via(self) -> list[str]:
        """The grants and consents this request's reads went through ("grant:3", "consent:7")."""
        return sorted(
            f"{kind}:{number}"
            for kind, _, numbers in (via.partition(":") for via in self._grant_accesses)
            for number in numbers.split("+")
        )
