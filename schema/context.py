"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from authz.fields import FieldAccess, RevealAll
from kehu.settings import Settings
from resolvers.errors import ApiError
from store.staff import Staff

V = TypeVar("V")


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


@dataclass
class Context:
    """Request-scoped state: the caller, one database session, batch caches."""

    settings: Settings
    session_factory: sessionmaker[Session]
    request: Any = None
    staff: Staff | None = None
    auth_problem: str | None = None
    access: FieldAccess = field(default_factory=RevealAll)
    # Set by strawberry from the websocket ``connection_init`` payload (subscriptions).
    connection_params: dict[str, Any] | None = None
    # Customers presented in this request, in order: nested fields load for all of them at once.
    customer_ids: list[int] = field(default_factory=list)
    _batches: dict[str, dict[int, Any]] = field(default_factory=dict)
    _pending: dict[str, list[int]] = field(default_factory=dict)
    _memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
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

    @property
    def actor(self) -> Staff:
        """The authenticated staff member (resolvers behind authentication only)."""
        if self.staff is None:
            raise Unauthenticated(self.auth_problem or "authentication required")
        return self.staff

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
