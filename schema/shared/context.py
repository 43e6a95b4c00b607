"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, null, or_, select
from sqlalchemy.orm import Session, sessionmaker

from authz.fields import PERSONAL_FIELDS, Effect, PolicyAccess
from authz.policy import AccessPolicy, RoleDecisions
from authz.rows import require_visible, visible_to
from core import clock
from core.errors import ApiError, ForbiddenError, NotFoundError
from core.settings import Settings
from resolvers import sharing
from store.sharing import ShareGrant
from store.staff import Staff

V = TypeVar("V")


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


@dataclass
class Context:
    """Request-scoped state: the caller, one database session, batch caches."""

    settings: Settings
    session_factory: sessionmaker[Session]
    policy: AccessPolicy
    request: Any = None
    staff: Staff | None = None
    auth_problem: str | None = None
    # Filled by ``authorize`` once the caller is known: nothing is visible before that.
    access: PolicyAccess = field(default_factory=lambda: PolicyAccess({}, downgrade=True))
    row_scopes: frozenset[str] = frozenset()
    # The cached policy decisions of the caller's roles (rights, write scopes, writable fields).
    decisions: RoleDecisions | None = None
    purpose: str | None = None
    purpose_problem: str | None = None
    # Where READ audit entries go (kehu.auditing.AuditWriter); None: reads are not audited.
    auditor: Any = None
    # kehu.policy_watch.PolicyWatcher: applies a policy change here at once (``check()``).
    policy_watcher: Any = None
    # resolvers.sharing.GrantPresence of the process; None: always consider grants.
    grant_presence: Any = None
    # Set by strawberry from the websocket ``connection_init`` payload (subscriptions).
    connection_params: dict[str, Any] | None = None
    # Websockets (kehu.app): the caller loaded again from the connection's credentials, or
    # Unauthenticated when they no longer hold (inactive, unknown, token expired).
    reauthenticate: Callable[[Session], Staff] | None = None
    # Customers presented in this request, in order: nested fields load for all of them at once.
    customer_ids: list[int] = field(default_factory=list)
    # Customers whose complaints (free text they or handlers wrote) were presented (SHARE-4).
    complaint_customer_ids: list[int] = field(default_factory=list)
    # COMPLAINT_TEXT fields ("Complaint.timeline") served to the caller at least once.
    complaint_text_shown: set[str] = field(default_factory=set)
    # Values of personal fields served outside their own type ("CustomerChange.oldValue" of a
    # changed phone …), with the most open effect they were shown with (audited, SHARE-4).
    values_shown: dict[str, Effect] = field(default_factory=dict)
    _batches: dict[str, dict[int, Any]] = field(default_factory=dict)
    _pending: dict[str, list[int]] = field(default_factory=dict)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _modes: dict[int, str | None] = field(default_factory=dict)
    _grant_accesses: dict[str, PolicyAccess] = field(default_factory=dict)
    # The field groups / data categories behind each entry of ``_grant_accesses``.
    _granted: dict[str, frozenset[str]] = field(default_factory=dict)
    _grant_subquery: Any = None
    _consent_subquery: Any = None
    _session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.session_factory()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def start_event(self) -> None:
        """Forget per-request state before the next event of a long-lived subscription.

        A websocket keeps one context; without this its session would hold one database
        snapshot (and connection) for hours and batch caches would serve stale customers.
        """
        self.close()
        self.customer_ids.clear()
        self.complaint_customer_ids.clear()
        self.complaint_text_shown.clear()
        self.values_shown.clear()
        self._modes.clear()
        self._grant_accesses.clear()
        self._granted.clear()
        self._grant_subquery = None
        self._consent_subquery = None
        self._batches.clear()
        self._pending.clear()
        self._memo.clear()

    def recheck_caller(self) -> str | None:
        """For a long-lived subscription: None while the caller may go on, otherwise why not.

        The caller is loaded again from the socket's credentials (still active, token not
        expired) and the live policy version is applied to today's roles.
        """
        if self.reauthenticate is None:
            return "no credentials to check"
        try:
            staff = self.reauthenticate(self.session)
        except Unauthenticated as exc:
            return exc.message
        if self.policy_watcher is not None:
            self.policy_watcher.check()
        self.authorize(staff, self.purpose)
        return None

    def recheck(self, customer_id: int) -> str | None:
        """Before a subscription pushes an event about ``customer_id``: None when it may go out,
        otherwise why not (the caller then loses the socket, issue 8).

        The caller is checked again (``recheck_caller``) and the customer must be visible under
        the live policy. Call after ``start_event``.
        """
        problem = self.recheck_caller()
        if problem is not None:
            return problem
        try:
            require_visible(self.session, customer_id, self.visible)
        except NotFoundError:
            return "the customer is no longer visible to you"
        return None

    @property
    def actor(self) -> Staff:
        """The authenticated staff member (resolvers behind authentication only)."""
        if self.staff is None:
            raise Unauthenticated(self.auth_problem or "authentication required")
        return self.staff

    def authorize(self, staff: Staff, purpose: str | None) -> None:
        """Decide what this request may see: row scopes, field effects, the declared purpose.

        Without a purpose the caller's roles allow, FULL fields are downgraded to MASKED
        (SHARE-1) and the response says so in ``extensions.access``.
        """
        self.staff = staff
        self.purpose_problem = None
        decisions = self.decisions = self.policy.decisions(staff.roles)
        self.row_scopes = decisions.row_scopes
        self.purpose = (purpose or "").strip().upper() or None
        if self.purpose is None:
            self.purpose_problem = "no purpose declared (send the X-Purpose header)"
        elif self.purpose not in decisions.purposes:
            allowed = ", ".join(sorted(decisions.purposes)) or "none"
            self.purpose_problem = f"purpose {self.purpose} is not allowed for you ({allowed})"
        self.access = PolicyAccess(decisions.fields, downgrade=self.purpose_problem is not None)

    # -- rows: own scopes plus share grants in force (SHARE-2) ---------------------------------

    def _grant_column(self) -> Any:
        if self._grant_subquery is None:
            holds = self.grant_presence is None or self.grant_presence.may_hold(
                self.session, self.actor
            )
            self._grant_subquery = (
                sharing.grant_for_customer(self.actor, clock.now()) if holds else null()
            )
        return self._grant_subquery

    def _consent_column(self) -> Any:
        if self._consent_subquery is None:
            # Only a purpose the role may declare and a consent names opens a row (SHARE-3).
            purpose = self.purpose if self.purpose_problem is None else None
            self._consent_subquery = (
                sharing.consent_for_customer(self.actor, clock.now(), purpose)
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
    def writable(self) -> ColumnElement[bool]:
        """The customers this request may change: its write row scopes (never grants, consents)."""
        scopes = self.decisions.write_scopes if self.decisions else frozenset()
        return visible_to(self.actor, scopes)

    def has_right(self, right: str) -> bool:
        """Whether the caller's roles hold ``right`` (a cached decision, no enforce call)."""
        self.actor  # noqa: B018 - authentication required
        return self.decisions is not None and right in self.decisions.rights

    @property
    def row_columns(self) -> list[Any]:
        """Columns telling, per customer row, how it is seen: scope, grant or consent."""
        own = visible_to(self.actor, self.row_scopes)
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
            else sharing.has_grants_in_force(self.session, self.actor)
        )
        if not holds:
            raise ForbiddenError("your roles may not see individual customers")

    def note_customer(self, row: Any) -> None:
        """Remember how a presented customer is seen: by scope (None), a grant or a consent."""
        if row.in_scope:
            self._modes[row.id] = None
        elif row.via_grant is not None:
            self._modes[row.id] = f"grant:{row.via_grant}"
        else:
            numbers = sharing.consent_ids(row.via_consent)
            self._modes[row.id] = "consent:" + "+".join(map(str, numbers))

    def access_for(self, customer_id: int) -> PolicyAccess:
        """The field effects for one customer's data: the roles', or its grant's or consents'.

        A grant reveals its field groups in full — if the declared purpose is the one it names;
        otherwise masked — and nothing else. Consents (all naming the declared purpose) reveal
        the union of their data categories, never more than the third party's role allows.
        """
        via = self._modes.get(customer_id)
        if via is None:
            return self.access
        found = self._grant_accesses.get(via)
        if found is None:
            kind, _, numbers = via.partition(":")
            if kind == "grant":
                grant = sharing.grants_by_id(self.session, [int(numbers)])[int(numbers)]
                granted, purposes = frozenset(grant.field_groups), {grant.purpose}
            else:
                ids = [int(n) for n in numbers.split("+")]
                consents = sharing.consents_by_id(self.session, ids).values()
                granted = sharing.consented_categories(consents)
                purposes = {c.purpose for c in consents}
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
        allowed = True
        if self.actor.third_party_id is not None:
            # Allow-list: a third party reads complaint text through such a consent, nothing else.
            via = self._modes.get(customer_id) or ""
            allowed = via.startswith("consent:") and "complaints" in self._granted_by(
                customer_id, via
            )
        if allowed:
            self.complaint_text_shown.add(f"{type_name}.{field}")
        else:
            self.access.withheld.add((type_name, field))
        return allowed

    def note_value_shown(self, where: str, effect: Effect) -> None:
        """A personal value was served at ``where`` ("Type.field") with ``effect``."""
        rank = (Effect.DENIED, Effect.MASKED, Effect.FULL)
        before = self.values_shown.get(where, Effect.DENIED)
        self.values_shown[where] = max(before, effect, key=rank.index)

    def _granted_by(self, customer_id: int, via: str) -> frozenset[str]:
        self.access_for(customer_id)
        return self._granted[via]

    @property
    def used_via(self) -> list[str]:
        """The grants and consents this request's reads went through ("grant:3", "consent:7")."""
        return sorted(
            f"{kind}:{number}"
            for kind, _, numbers in (via.partition(":") for via in self._grant_accesses)
            for number in numbers.split("+")
        )

    def grants_in_force(self) -> list[Any]:
        """The share grants this caller may use now (one query; only when filters need it)."""
        return list(
            self.session.scalars(
                select(ShareGrant).where(sharing.in_force(self.actor, clock.now()))
            )
        )

    def consented_categories(self) -> list[frozenset[str]]:
        """Per customer this caller sees through consents, the data categories they give for
        the declared purpose (their union, SHARE-3); empty for callers no consent opens rows to.
        """
        purpose = self.purpose if self.purpose_problem is None else None
        party = self.actor.third_party_id
        if "consented" not in self.row_scopes or party is None or purpose is None:
            return []
        return sharing.consented_unions(self.session, party, purpose, clock.now())

    def withheld(self) -> set[tuple[str, str]]:
        """Fields withheld from at least one object, whichever access withheld them."""
        result = set(self.access.withheld)
        for access in self._grant_accesses.values():
            result |= access.withheld
        return result

    def memo(self, key: tuple[Any, ...], make: Callable[[], V]) -> V:
        """One object per key and request (e.g. the node of a branch shared by many rows)."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make()
        return found  # type: ignore[no-any-return]

    def pending(self, batch: str) -> list[int]:
        """Keys a list has announced for ``batch`` (e.g. the customers of a notifications page)."""
        return self._pending.setdefault(batch, [])

    def batched(
        self,
        name: str,
        key: int,
        load: Callable[[Session, Sequence[int]], dict[int, V]],
        keys: Iterable[int] | None = None,
    ) -> V | None:
        """``load`` once for every presented key not loaded yet, then answer ``key``.

        This is how nested lists stay one statement per relation whatever the page size.
        """
        cache = self._batches.setdefault(name, {})
        if key not in cache:
            wanted = [k for k in dict.fromkeys(keys or self.customer_ids) if k not in cache]
            if key not in wanted:
                wanted.append(key)
            loaded = load(self.session, wanted)
            for k in wanted:
                cache[k] = loaded.get(k)
        return cache[key]
