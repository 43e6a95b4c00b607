"""Subscriptions keep to the right to see.

Every pushed ``customerChanges`` event re-checks the caller — still active, token not expired,
the live policy still giving them the customer — and closes the socket with 4403 otherwise.
Malformed ``connection_init`` values close it cleanly with 4400. Both websocket subprotocols.
"""

from __future__ import annotations

import base64
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from starlette.testclient import WebSocketTestSession

from core import clock
from kehu.auth import mint_token
from store.staff import Staff
from tests.conftest import Backend, branch_id, create_customer, policy_rule
from tests.test_customer_information import SNAPSHOT, _snapshot

SUBSCRIPTION = "subscription { customerChanges { fields customer { id name phone } } }"
NO_OWN_ROWS = {
    "role": "RELATIONSHIP_MANAGER",
    "object": "rows:own",
    "action": "read",
    "effect": "deny",
}
# The right to follow customers withdrawn (the caller may still see them).
NO_WATCH = {
    "role": "RELATIONSHIP_MANAGER",
    "object": "customer:watch",
    "action": "use",
    "effect": "deny",
}
_days = itertools.count(1)


class Client:
    """One subscriber speaking either websocket subprotocol."""

    def __init__(self, ws: WebSocketTestSession, protocol: str) -> None:
        self.ws = ws
        self.modern = protocol == "graphql-transport-ws"

    def init(self, payload: dict[str, Any]) -> None:
        self.ws.send_json({"type": "connection_init", "payload": payload})

    def subscribe(self) -> None:
        kind = "subscribe" if self.modern else "start"
        self.ws.send_json({"id": "1", "type": kind, "payload": {"query": SUBSCRIPTION}})

    def next_change(self) -> dict[str, Any]:
        message = self.ws.receive_json()
        assert message["type"] == ("next" if self.modern else "data"), message
        return dict(message["payload"]["data"]["customerChanges"])


@contextmanager
def subscribed(backend: Backend, protocol: str, token: str) -> Iterator[Client]:
    with backend.client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
        client = Client(ws, protocol)
        client.init({"Authorization": f"Bearer {token}", "X-Purpose": "RELATIONSHIP_MANAGEMENT"})
        assert ws.receive_json()["type"] == "connection_ack"
        client.subscribe()
        yield client


def _change(backend: Backend, customer: dict[str, Any], supervisor: str) -> None:
    as_of = (clock.now() - timedelta(days=next(_days))).date().isoformat()
    done = backend.gql(SNAPSHOT, _snapshot(customer["id"], as_of), staff=supervisor)
    assert done["recordFinancialSnapshot"]["errors"] == []


def _set_active(backend: Backend, employee_no: str, active: bool) -> None:
    with backend.engine.begin() as connection:
        connection.execute(
            Staff.__table__.update().where(Staff.employee_no == employee_no).values(active=active)
        )


@contextmanager
def _deactivated(backend: Backend, employee_no: str) -> Iterator[None]:
    _set_active(backend, employee_no, False)
    try:
        yield
    finally:
        _set_active(backend, employee_no, True)


@contextmanager
def _two_hours_later() -> Iterator[None]:
    with clock.travel_to(clock.now() + timedelta(hours=2), all_threads=True):
        yield


REVOCATIONS: dict[str, Callable[[Backend, str], Any]] = {
    "deactivated": lambda backend, manager: _deactivated(backend, manager),
    "token_expired": lambda backend, manager: _two_hours_later(),
    "policy_withdrew_rows": lambda backend, manager: policy_rule(backend, NO_OWN_ROWS),
    "policy_withdrew_watch": lambda backend, manager: policy_rule(backend, NO_WATCH),
}


def _followed_customer(
    backend: Backend, manager: str, supervisor: str
) -> tuple[dict[str, Any], str]:
    """A customer of ``manager`` in ``supervisor``'s branch, and a one-hour token of ``manager``."""
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff=manager)["me"]["id"],
        branch=branch_id(backend, supervisor),
    )
    return customer, mint_token(backend.settings, manager, ttl=timedelta(hours=1))


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
@pytest.mark.parametrize("revocation", sorted(REVOCATIONS))
def test_a_subscription_closes_with_4403_once_the_right_to_see_ends(
    backend: Backend, caplog: pytest.LogCaptureFixture, protocol: str, revocation: str
) -> None:
    manager, supervisor = "GZ01RM02", "GZ01SUP01"
    customer, token = _followed_customer(backend, manager, supervisor)
    with subscribed(backend, protocol, token) as client:
        _change(backend, customer, supervisor)
        first = client.next_change()
        assert first["customer"]["id"] == customer["id"]  # pushed while the right holds
        with REVOCATIONS[revocation](backend, manager):
            _change(backend, customer, supervisor)
            message = client.ws.receive()
            # Closed, not pushed: the customer's name and phone never reach the socket again.
            assert message["type"] == "websocket.close", message
            assert message["code"] == 4403
    assert not [r for r in caplog.records if r.exc_info], "closed cleanly, without a stack trace"


def _received_within(ws: WebSocketTestSession, seconds: float) -> dict[str, Any] | None:
    """The next message, or None when none came in time (a hang becomes a failure)."""
    got: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: got.append(ws.receive()), daemon=True)
    reader.start()
    reader.join(seconds)
    return got[0] if got else None


@pytest.mark.parametrize("revocation", ["deactivated", "token_expired", "policy_withdrew_watch"])
def test_a_quiet_subscription_closes_with_4403_without_waiting_for_an_event(
    backend: Backend, revocation: str
) -> None:
    """No event needs to come: the caller is checked every KEHU_SUBSCRIPTION_RECHECK_SECONDS."""
    manager, supervisor = "GZ01RM02", "GZ01SUP01"
    customer, token = _followed_customer(backend, manager, supervisor)
    with subscribed(backend, "graphql-transport-ws", token) as client:
        _change(backend, customer, supervisor)
        assert client.next_change()["customer"]["id"] == customer["id"]
        with REVOCATIONS[revocation](backend, manager):
            message = _received_within(client.ws, 10)
            assert message is not None, "the socket stayed open after the right ended"
            assert message["type"] == "websocket.close" and message["code"] == 4403


def test_the_subscription_keeps_pushing_while_the_right_holds(backend: Backend) -> None:
    manager, supervisor = "GZ01RM03", "GZ01SUP01"
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff=manager)["me"]["id"],
        branch=branch_id(backend, supervisor),
    )
    with subscribed(backend, "graphql-transport-ws", backend.token(manager)) as client:
        for _ in range(3):
            _change(backend, customer, supervisor)
            assert client.next_change()["customer"]["id"] == customer["id"]


MALFORMED = [123, 1.5, True, None, {"token": "x"}, ["Bearer x"]]


@pytest.mark.parametrize("key", ["Authorization", "authorization", "X-Purpose"])
@pytest.mark.parametrize("value", MALFORMED, ids=[type(v).__name__ for v in MALFORMED])
def test_a_non_string_connection_value_closes_with_4400(
    backend: Backend, caplog: pytest.LogCaptureFixture, key: str, value: Any
) -> None:
    payload = {"Authorization": f"Bearer {backend.token('RM0001')}", key: value}
    with caplog.at_level(logging.WARNING):
        for protocol in ("graphql-transport-ws", "graphql-ws"):
            with backend.client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
                ws.send_json({"type": "connection_init", "payload": payload})
                if protocol == "graphql-ws":  # that protocol answers before closing
                    error = ws.receive_json()
                    assert error["type"] == "connection_error"
                    assert error["payload"]["code"] == "BAD_REQUEST"
                message = ws.receive()
                assert message["type"] == "websocket.close", message
                assert message["code"] == 4400
                assert key in message.get("reason", "")
    assert not [r for r in caplog.records if r.exc_info], "no stack trace for bad input"


@pytest.mark.parametrize(
    "operation",
    [
        "{ customers(first: 5) { edges { node { name phone } } } }",
        'mutation { unwatchCustomer(input: {customerId: "Q3VzdG9tZXI6MQ=="}) { errors { code } } }',
    ],
    ids=["query", "mutation"],
)
def test_websockets_serve_subscriptions_only(backend: Backend, operation: str) -> None:
    # A socket keeps the credentials of its connection_init: queries and mutations go over
    # HTTP, where every request authenticates again.
    with backend.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": f"Bearer {backend.token('HO0001')}", "X-Purpose": "AUDIT"}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": operation}})
        message = ws.receive_json()
        assert message["type"] == "error", message
        assert "not allowed" in message["payload"][0]["message"]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_every_pushed_event_with_personal_data_is_audited_as_a_read(
    backend: Backend, protocol: str
) -> None:
    """A subscriber receives customers' names: each event is a READ entry, like a query's."""
    manager, supervisor = "GZ01RM03", "GZ01SUP01"
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff=manager)["me"]["id"],
        branch=branch_id(backend, supervisor),
    )

    def reads() -> list[Any]:
        backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
        with backend.engine.connect() as connection:
            return list(
                connection.execute(
                    text(
                        "SELECT operation, customer_ids, fields FROM audit_log "
                        "WHERE actor = :actor AND action = 'READ' ORDER BY id"
                    ),
                    {"actor": manager},
                )
            )

    before = len(reads())
    with subscribed(backend, protocol, backend.token(manager)) as client:
        for _ in range(2):
            _change(backend, customer, supervisor)
            assert client.next_change()["customer"]["name"] == "测试客户"
    pushed = reads()[before:]
    assert len(pushed) == 2
    for operation, customer_ids, fields in pushed:
        assert operation == "customerChanges"
        number = int(base64.b64decode(customer["id"]).decode().split(":")[1])
        # JSON text on SQLite, a decoded list on PostgreSQL.
        found = orjson.loads(customer_ids) if isinstance(customer_ids, str) else customer_ids
        assert found == [number]
        assert "Customer.name" in str(fields)
