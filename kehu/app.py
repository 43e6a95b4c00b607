"""The Starlette application: GraphQL (HTTP + websockets), GraphiQL, health, static assets."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionErrorMessage
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from authz.grants import GrantPresence
from core.settings import Settings
from kehu.auditing import AuditWriter, Checkpointer
from kehu.auth import AuthenticationError, authenticate
from kehu.policy_watch import PolicyWatcher
from kehu.wiring import GATEWAYS, wire
from kehu.worker import TimerWorker
from resolvers.contacts.recommendations import sync_products
from resolvers.outbox.senders import senders_from
from schema.schema import build_schema
from schema.shared.context import Context, Unauthenticated
from schema.shared.limits import UNAVAILABLE, UNAVAILABLE_MESSAGE, UNKNOWN_OUTCOME
from store import audit_chain, crypto
from store.db import error_code, is_outage, make_engine, make_session_factory, transaction
from store.staff import Staff
from workflows.deployment import ensure_deployed

log = logging.getLogger("kehu")
HERE = Path(__file__).parent

# ``extensions.code`` of an HTTP-level refusal (the request is no GraphQL request Kehu can run).
HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


def error_response(status: int, message: str) -> Response:
    """An HTTP refusal in the GraphQL error shape: ``{"errors": [{message, extensions.code}]}``."""
    body = {"errors": [{"message": message, "extensions": {"code": HTTP_ERROR_CODES[status]}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def http_refusal(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method a route does not take) in the
    GraphQL error shape, like every other answer; the ``Allow`` header of a 405 is kept."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code not in HTTP_ERROR_CODES:
        return Response(status_code=exc.status_code, headers=exc.headers)
    message = {
        404: "no such path; the API is at /graphql",
        405: "this path does not take this HTTP method",
    }.get(exc.status_code, "the request was refused")
    response = error_response(exc.status_code, message)
    response.headers.update(exc.headers or {})
    return response


def encode(data: object) -> bytes:
    """JSON of an answer. Text that is not valid Unicode (a lone surrogate some path let through)
    is written as ``?`` instead of failing the whole answer."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=False, default=str).encode(errors="replace")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# Request headers Kehu reads (besides the body's Content-Type), allowed in cross-origin requests.
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "X-Purpose")
# Response headers a browser client may read cross-origin (401 challenge, outage back-off).
CORS_EXPOSED_HEADERS = ("WWW-Authenticate", "Retry-After")

# The connection_init values Kehu reads; each must be text when present.
CONNECTION_KEYS = ("Authorization", "authorization", "X-Purpose", "x-purpose")


def connection_problem(params: Mapping[str, Any]) -> str | None:
    """Why ``connection_init`` values cannot be used (a key Kehu reads is not text), or None."""
    for key in CONNECTION_KEYS:
        if key in params and not isinstance(params[key], str):
            return f"{key} must be a string"
    return None


def _init_problem(message: Any) -> str | None:
    """``connection_problem`` of a ``connection_init`` message (a non-object payload is left to
    strawberry, which refuses it)."""
    payload = message.get("payload")
    return connection_problem(payload) if isinstance(payload, dict) else None


class KehuTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws: malformed ``connection_init`` values close with 4400 Bad Request."""

    async def handle_connection_init(self, message: Any) -> None:
        problem = _init_problem(message)
        if problem is not None:
            await self.websocket.close(code=4400, reason=problem)
            return
        await super().handle_connection_init(message)


class KehuWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """The legacy graphql-ws protocol: the same refusal, announced by ``connection_error``."""

    async def handle_connection_init(self, message: Any) -> None:
        problem = _init_problem(message)
        if problem is not None:
            await self.send_message(
                ConnectionErrorMessage(
                    type="connection_error", payload={"code": "BAD_REQUEST", "message": problem}
                )
            )
            await self.websocket.close(code=4400, reason=problem)
            return
        await super().handle_connection_init(message)


class KehuGraphQL(GraphQL):
    """strawberry's ASGI view, executing each operation synchronously in a worker thread.

    Resolvers use a plain SQLAlchemy session, so the whole operation (authentication, every
    resolver, the commit) runs in one thread; the event loop stays free for other requests.
    """

    graphql_transport_ws_handler_class = KehuTransportWSHandler
    graphql_ws_handler_class = KehuWSHandler

    def __init__(
        self,
        schema: Any,
        settings: Settings,
        session_factory: sessionmaker[Session],
        watcher: PolicyWatcher,
        auditor: AuditWriter,
    ) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.session_factory = session_factory
        self.watcher = watcher
        self.auditor = auditor
        self.grant_presence = GrantPresence(settings.policy_poll_seconds)
        self.ide_html = (HERE / "templates" / "graphiql.html").read_text()

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        return Context(
            settings=self.settings,
            session_factory=self.session_factory,
            policy=self.watcher.policy,
            policy_watcher=self.watcher,
            grant_presence=self.grant_presence,
            auditor=self.auditor,
            request=request,
        )

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        return HTMLResponse(self.ide_html)

    def encode_json(self, data: object) -> str:
        # Text, not bytes: websocket clients (graphql-transport-ws) expect text frames.
        return encode(data).decode()

    def parse_json(self, data: str | bytes) -> Any:
        """A request body (or a GET request's ``variables``/``extensions``) must be one JSON
        object in UTF-8 — strict JSON (no ``NaN``), not a batch (an array), not nested deeper
        than the parser can follow. Anything else is 400 ``BAD_REQUEST``."""
        try:
            value = json.loads(
                data.decode() if isinstance(data, bytes) else data, parse_constant=_refuse_constant
            )
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise HTTPException(400, "The request body is not valid JSON in UTF-8") from exc
        if not isinstance(value, dict):
            raise HTTPException(
                400, "The request must be a JSON object (batches are not supported)"
            )
        return value

    async def run(  # type: ignore[override]
        self, request: Any, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        """strawberry's HTTP refusals (bad body, unknown operation, wrong method) as JSON."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            if exc.status_code not in HTTP_ERROR_CODES:
                raise
            return error_response(exc.status_code, exc.reason)

    def create_response(  # type: ignore[override]
        self, response_data: Any, sub_response: Response
    ) -> Response:
        """HTTP answers are encoded to bytes once (no str round trip of a large page)."""
        response = Response(encode(response_data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        """Authenticate a websocket from ``connection_init`` {"Authorization": "Bearer …"}.

        The credentials stay with the connection: every event a subscription pushes checks
        them again (``Context.recheck``), so a deactivated caller or an expired token ends it.
        """
        params: Mapping[str, Any] = context.connection_params or {}
        problem = connection_problem(params)
        if problem is not None:  # the handlers below refuse this first; never used unchecked
            raise ConnectionRejectionError({"code": "BAD_REQUEST", "message": problem})
        header = params.get("Authorization") or params.get("authorization")
        if header is None and context.request is not None:
            header = context.request.headers.get("authorization")

        def reauthenticate(session: Session) -> Staff:
            try:
                staff = authenticate(session, self.settings, header)
            except AuthenticationError as exc:
                raise Unauthenticated(str(exc)) from exc
            session.expunge(staff)
            return staff

        def load() -> Staff:
            with self.session_factory() as session:
                return reauthenticate(session)

        try:
            staff = await run_in_threadpool(load)
        except Unauthenticated as exc:
            raise ConnectionRejectionError(
                {"code": "UNAUTHENTICATED", "message": exc.message}
            ) from exc
        context.reauthenticate = reauthenticate
        purpose = params.get("X-Purpose") or params.get("x-purpose")
        context.authorize(staff, purpose)
        return None

    async def execute_single(  # type: ignore[override]
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> ExecutionResult:
        allowed = OperationType.from_http(request_adapter.method)

        def run() -> ExecutionResult:
            try:
                try:
                    staff = authenticate(
                        context.session, self.settings, request.headers.get("authorization")
                    )
                except AuthenticationError as exc:
                    sub_response.status_code = 401
                    sub_response.headers["WWW-Authenticate"] = 'Bearer realm="kehu"'
                    return ExecutionResult(
                        data=None,
                        errors=[GraphQLError(str(exc), extensions={"code": "UNAUTHENTICATED"})],
                    )
                context.authorize(staff, request.headers.get("x-purpose"))
                return self.schema.execute_sync(
                    request_data.query,
                    root_value=root_value,
                    variable_values=request_data.variables,
                    context_value=context,
                    operation_name=request_data.operation_name,
                    allowed_operation_types=allowed,
                    operation_extensions=request_data.extensions,
                )
            finally:
                context.close()

        try:
            result = await run_in_threadpool(run)
        except CannotGetOperationTypeError as e:
            # Not the operation name itself: it is the caller's text, repeated to nobody.
            raise HTTPException(
                400, "operationName names no operation of the document (or several need one)"
            ) from e
        except InvalidOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason(request_adapter.method)) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request") from e
        except Exception as e:
            if not is_outage(e):
                raise
            result = unavailable_result(e)
        return answer_outage(result, sub_response, self.settings)


# Codes that mean "the database is unavailable" (see ``schema.shared.limits``): HTTP 503.
OUTAGE_CODES = frozenset({UNAVAILABLE, UNKNOWN_OUTCOME})


def unavailable_result(error: BaseException) -> ExecutionResult:
    """The answer when the database failed outside any resolver (authenticating the caller):
    nothing ran, so nothing was changed."""
    log.warning("database unavailable: %s", error_code(error))
    return ExecutionResult(
        data=None,
        errors=[GraphQLError(UNAVAILABLE_MESSAGE, extensions={"code": UNAVAILABLE})],
    )


def answer_outage(
    result: ExecutionResult, sub_response: Response, settings: Settings
) -> ExecutionResult:
    """A result with an UNAVAILABLE or UNKNOWN_OUTCOME error is answered 503 with Retry-After
    (the body keeps the GraphQL shape: whatever data there is, and the errors with their
    codes). The request's session was closed (``Context.close``) and the pool replaces lost
    connections (``pool_pre_ping``), so the first request after the database is back succeeds."""
    codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
    if codes & OUTAGE_CODES:
        sub_response.status_code = 503
        sub_response.headers["Retry-After"] = str(settings.retry_after_seconds)
    return result


class BodySizeLimit:
    """Refuse request bodies larger than ``limit`` bytes with 413, before they are parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"Request body larger than {self.limit} bytes")
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> Starlette:
    """Build the application (``kehu serve`` and the tests call this)."""
    settings = settings or Settings.from_env()
    crypto.configure(crypto.FieldCipher(settings.encryption_keys, settings.hash_keys))
    audit_chain.configure(settings.audit_keys)
    engine = engine or make_engine(settings.database_url, hide_parameters=True)
    # Background work (policy polling, audit batches) uses its own small pools: it never waits
    # for request connections, and request statement counts stay the request's own.
    watcher = PolicyWatcher(
        make_engine(settings.database_url, hide_parameters=True), settings.policy_poll_seconds
    )
    session_factory = make_session_factory(engine)
    auditor = AuditWriter(
        make_engine(settings.database_url, hide_parameters=True),
        settings.audit_flush_seconds,
        synchronous=settings.audit_reads == "sync",
    )
    wire()
    view = KehuGraphQL(build_schema(settings), settings, session_factory, watcher, auditor)
    # The bundled diagrams are deployed on first start (process owners deploy later versions).
    with transaction(session_factory) as session:
        ensure_deployed(session)
        # The product catalogue follows its reviewed file (REL-3).
        sync_products(session)
    timers = (
        TimerWorker(
            make_engine(settings.database_url, hide_parameters=True),
            settings.worker_poll_seconds,
            senders_from(settings.smtp, GATEWAYS),
        )
        if settings.embedded_worker
        else None
    )
    checkpoints = (
        Checkpointer(
            make_engine(settings.database_url, hide_parameters=True),
            settings.audit_checkpoint_dir,
            settings.audit_checkpoint_seconds,
        )
        if settings.embedded_worker and settings.audit_checkpoint_seconds
        else None
    )

    async def healthz(_request: Request) -> Response:
        def check() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(check)
        except Exception:
            log.exception("health check failed")
            return JSONResponse(
                {"status": "unavailable"},
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        return JSONResponse({"status": "ok"})

    # Stopped in this order: the audit writer last, so it writes what the others queued.
    background: list[TimerWorker | Checkpointer | PolicyWatcher | AuditWriter] = [
        b for b in (timers, checkpoints, watcher, auditor) if b is not None
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        for part in background:
            part.start()
        yield
        for part in background:
            await run_in_threadpool(part.close)
            part.engine.dispose()
        engine.dispose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={StarletteHTTPException: http_refusal},
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.policy_watcher = watcher
    app.state.auditor = auditor
    app.state.timers = timers
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        # Outermost: answers preflights itself, and a 413 from the size limit carries the
        # headers too. Bearer tokens, no cookies: credentials are not allowed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=600,
        )
    return app
