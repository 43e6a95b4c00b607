"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from authz.access import Access, Unauthenticated
from authz.fields import Effect
from authz.grants import GrantPresence
from authz.policy import AccessPolicy
from authz.rows import require_visible
from core.errors import NotFoundError
from core.settings import Settings
from store.staff import Staff

V = TypeVar("V")

__all__ = ["Context", "Unauthenticated"]


@dataclass
class Context:
    """Request-scoped state: one database session, the caller, what they may access
    (``access``, an ``authz.access.Access``), and the batch caches of the request."""

    settings: Settings
    session_factory: sessionmaker[Session]
    policy: AccessPolicy
    request: Any = None
    staff: Staff | None = None
    # Replaced by ``authorize`` once the caller is known: nothing is visible before that.
    access: Access = field(init=False)
    # Where READ audit entries go (kehu.auditing.AuditWriter); None: reads are not audited.
    auditor: Any = None
    # kehu.policy_watch.PolicyWatcher: applies a policy change here at once (``check()``).
    policy_watcher: Any = None
    # Who may hold share grants, remembered per process; None: always consider grants.
    grant_presence: GrantPresence | None = None
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
    # A mutation of this request committed: a later outage makes its answer, not its change,
    # fail (UNKNOWN_OUTCOME rather than UNAVAILABLE; ``schema.shared.limits``).
    committed: bool = False
    _batches: dict[str, dict[int, Any]] = field(default_factory=dict)
    _pending: dict[str, list[int]] = field(default_factory=dict)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    _session: Session | None = None

    def __post_init__(self) -> None:
        self.access = Access(self.policy, lambda: self.session)

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
        self.access.start_event()
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
        self.authorize(staff, self.access.purpose)
        return None

    def recheck(self, customer_id: int) -> str | None:
        """Before a subscription pushes an event about ``customer_id``: None when it may go out,
        otherwise why not (the caller then loses the socket).

        The caller is checked again (``recheck_caller``) and the customer must be visible under
        the live policy. Call after ``start_event``.
        """
        problem = self.recheck_caller()
        if problem is not None:
            return problem
        try:
            require_visible(self.session, customer_id, self.access.visible)
        except NotFoundError:
            return "the customer is no longer visible to you"
        return None

    def reload_caller(self) -> None:
        """Inside a change's transaction: decide ``access`` again from the caller's roles and
        the live policy as they are now, not as the request found them (a role taken or a rule
        removed meanwhile — by another request, or by an earlier mutation of this document)."""
        staff = self.session.get(Staff, self.actor.id, populate_existing=True)
        if staff is None or not staff.active:
            raise Unauthenticated("the caller is unknown or inactive")
        if self.policy_watcher is not None:
            self.policy_watcher.check()
        # Decisions are cached per roles and policy version: the same object when neither
        # changed, and then the request keeps its access (and what it noted for the read audit).
        if self.policy.decisions(staff.roles) is not self.access.decisions:
            self.authorize(staff, self.access.purpose)

    @property
    def actor(self) -> Staff:
        """The authenticated staff member (resolvers behind authentication only)."""
        if self.staff is None:
            raise Unauthenticated("authentication required")
        return self.staff

    def authorize(self, staff: Staff, purpose: str | None) -> None:
        """The caller is known: decide what this request may see and change (``access``)."""
        self.staff = staff
        self.access = Access.decide(
            self.policy, lambda: self.session, staff, purpose, self.grant_presence
        )

    def may_read_complaint_text(self, customer_id: int, type_name: str, field: str) -> bool:
        """Whether complaint text may be served (``Access.may_read_complaint_text``); what is
        served is remembered for the read audit."""
        allowed = self.access.may_read_complaint_text(customer_id, type_name, field)
        if allowed:
            self.complaint_text_shown.add(f"{type_name}.{field}")
        return allowed

    def note_value_shown(self, where: str, effect: Effect) -> None:
        """A personal value was served at ``where`` ("Type.field") with ``effect``."""
        rank = (Effect.DENIED, Effect.MASKED, Effect.FULL)
        before = self.values_shown.get(where, Effect.DENIED)
        self.values_shown[where] = max(before, effect, key=rank.index)

    def memo(self, key: tuple[Any, ...], make: Callable[[], V]) -> V:
        """One object per key and request (e.g. the node of a branch shared by many rows)."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = make()
        return found  # type: ignore[no-any-return]

    def pending(self, batch: str) -> list[int]:
        """Keys a list has announced for ``batch`` (e.g. the customers of a notifications page)."""
        return self._pending.setdefault(batch, [])

    def prime(self, name: str, values: dict[int, Any]) -> None:
        """Answer ``batched(name, key)`` with ``values[key]`` (rows a list already loaded)."""
        self._batches.setdefault(name, {}).update(values)

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
