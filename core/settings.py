"""Settings from environment variables, with safe embedded defaults.

Every setting is a ``KEHU_*`` variable (see the table in README.md). A bad value stops the
process with :class:`SettingsError` naming the variable. In embedded mode (SQLite) secrets that
are not given are generated once into ``<var>/secrets.json`` (mode 0600) so a demo never runs
on a key that is published in the repository; on any other database they are required.
This module imports nothing from the project, so every floor may read settings.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable, never its value."""


def _parse_keys(name: str, raw: str) -> tuple[tuple[str, bytes], ...]:
    """Parse ``kid:base64key,kid2:base64key`` (first = active) into (kid, 32-byte key) pairs."""
    keys: list[tuple[str, bytes]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, encoded = part.partition(":")
        if not sep or not kid or not kid.isalnum():
            raise SettingsError(f"{name}: each entry must look like 'keyid:base64key'")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"{name}: key '{kid}' is not valid base64") from exc
        if len(key) != 32:
            raise SettingsError(f"{name}: key '{kid}' must be 32 bytes (256 bits)")
        if any(existing == kid for existing, _ in keys):
            raise SettingsError(f"{name}: key id '{kid}' appears twice")
        keys.append((kid, key))
    if not keys:
        raise SettingsError(f"{name}: at least one key is required")
    return tuple(keys)


def new_key_entry(kid: str) -> str:
    """A fresh ``kid:base64key`` entry, for operators rotating keys."""
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0 or (value == 0 and not allow_zero):
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _amount(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    """A positive amount of CNY with at most two decimal places."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = Decimal(raw.strip())
        exact = value.is_finite() and value > 0 and value == value.quantize(Decimal("0.01"))
    except ArithmeticError:
        exact = False
    if not exact:
        raise SettingsError(f"{name} must be a positive amount with at most 2 decimals")
    return value.quantize(Decimal("0.01"))


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the first is the default)."""
    raw = (env.get(name) or allowed[0]).strip().lower()
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail to customers is handed over (``KEHU_SMTP_*``)."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout_seconds: float = 30.0


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    """``KEHU_SMTP_HOST`` and ``KEHU_SMTP_FROM`` switch e-mail on; user and password go together."""
    host = (env.get("KEHU_SMTP_HOST") or "").strip()
    if not host:
        return None
    sender = (env.get("KEHU_SMTP_FROM") or "").strip()
    if "@" not in sender:
        raise SettingsError("KEHU_SMTP_FROM must be an e-mail address when KEHU_SMTP_HOST is set")
    user = env.get("KEHU_SMTP_USER") or None
    password = env.get("KEHU_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        raise SettingsError("KEHU_SMTP_USER and KEHU_SMTP_PASSWORD must be set together")
    port = _int(env, "KEHU_SMTP_PORT", 25)
    if port > 65535:
        raise SettingsError("KEHU_SMTP_PORT must be at most 65535")
    return SmtpSettings(
        host=host,
        port=port,
        sender=sender,
        user=user,
        password=password,
        starttls=_bool(env, "KEHU_SMTP_STARTTLS", False),
        timeout_seconds=_float(env, "KEHU_SMTP_TIMEOUT_SECONDS", 30.0),
    )


@dataclass(frozen=True)
class Settings:
    """All configuration of one Kehu process."""

    database_url: str
    var_dir: Path
    jwt_secret: str
    jwt_issuer: str = "kehu"
    token_ttl_minutes: int = 480
    # No token is accepted whose exp - iat exceeds this (minted or forged with the secret).
    token_max_lifetime_minutes: int = 720
    # Clock skew tolerated on a token's time claims: accepted until exp + leeway, refused when
    # issued more than leeway seconds in the future.
    token_leeway_seconds: int = 5
    encryption_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    hash_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # HMAC keys of the audit chain and its checkpoints: never stored in the database, so a
    # database writer cannot re-chain edited entries. Every key an entry names must stay here.
    audit_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    # Browser origins (scheme://host[:port]) allowed to call the API cross-origin; empty: CORS off.
    cors_origins: tuple[str, ...] = ()
    max_depth: int = 12
    max_tokens: int = 3000
    max_aliases: int = 30
    max_cost: int = 50_000
    max_body_bytes: int = 1_000_000
    # While the database is unreachable, answers are 503 with this Retry-After (seconds).
    retry_after_seconds: int = 5
    graphiql: bool = True
    introspection: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    notification_poll_seconds: float = 1.0
    # An idle subscription checks its caller (active, token in force) this often, so a
    # deactivated caller's socket closes even when no event comes.
    subscription_recheck_seconds: float = 30.0
    policy_poll_seconds: float = 2.0
    audit_flush_seconds: float = 0.5
    # "buffered": READ entries are written by a background thread; "sync": before the answer.
    audit_reads: str = "buffered"
    audit_checkpoint_dir: Path = Path("var/audit-checkpoints")
    # How often `kehu worker` (and an embedded server) writes a signed checkpoint; 0: never.
    audit_checkpoint_seconds: float = 300.0
    # Timers of waiting process instances: fired by a thread of the server (embedded mode) or
    # by `kehu worker` processes (production).
    embedded_worker: bool = True
    worker_poll_seconds: float = 5.0
    # A major complaint (重大投诉, CMP-7) speaks for at least this many people or disputes at
    # least this amount (CNY): flagged and escalated to head office at intake.
    major_complaint_persons: int = 20
    major_complaint_amount: Decimal = Decimal("1000000.00")
    # E-mail to customers goes through this SMTP server; no host: e-mails wait in the outbox.
    smtp: SmtpSettings | None = field(default=None, repr=False)
    # KPI cells describing fewer customers are suppressed for aggregate-only callers (KPI-1).
    kpi_minimum_cell: int = 10

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); SettingsError on bad input."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("KEHU_VAR_DIR") or "var").resolve()
        database_url = env.get("KEHU_DATABASE_URL") or f"sqlite:///{var_dir / 'kehu.db'}"
        if not database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError(
                "KEHU_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL"
            )
        embedded = database_url.startswith("sqlite")
        generated = _embedded_secrets(var_dir) if embedded else {}

        def secret(name: str) -> str:
            value = env.get(name) or generated.get(name)
            if not value:
                raise SettingsError(f"{name} is required when KEHU_DATABASE_URL is not SQLite")
            return value

        token_ttl = _int(env, "KEHU_TOKEN_TTL_MINUTES", 480)
        token_max = _int(env, "KEHU_TOKEN_MAX_LIFETIME_MINUTES", 720)
        if token_ttl > token_max:
            raise SettingsError(
                "KEHU_TOKEN_TTL_MINUTES must not exceed KEHU_TOKEN_MAX_LIFETIME_MINUTES "
                f"({token_max})"
            )
        jwt_secret = secret("KEHU_JWT_SECRET")
        if len(jwt_secret) < 32:
            raise SettingsError("KEHU_JWT_SECRET must be at least 32 characters")
        return cls(
            database_url=database_url,
            var_dir=var_dir,
            jwt_secret=jwt_secret,
            jwt_issuer=env.get("KEHU_JWT_ISSUER") or "kehu",
            token_ttl_minutes=token_ttl,
            token_max_lifetime_minutes=token_max,
            token_leeway_seconds=_token_leeway(env),
            cors_origins=_origins(env, "KEHU_CORS_ORIGINS"),
            encryption_keys=_parse_keys("KEHU_ENCRYPTION_KEYS", secret("KEHU_ENCRYPTION_KEYS")),
            hash_keys=_parse_keys("KEHU_HASH_KEYS", secret("KEHU_HASH_KEYS")),
            max_depth=_int(env, "KEHU_MAX_DEPTH", 12),
            max_tokens=_int(env, "KEHU_MAX_TOKENS", 3000),
            max_aliases=_int(env, "KEHU_MAX_ALIASES", 30),
            max_cost=_int(env, "KEHU_MAX_COST", 50_000),
            max_body_bytes=_int(env, "KEHU_MAX_BODY_BYTES", 1_000_000),
            retry_after_seconds=_int(env, "KEHU_RETRY_AFTER_SECONDS", 5),
            graphiql=_bool(env, "KEHU_GRAPHIQL", True),
            introspection=_bool(env, "KEHU_INTROSPECTION", True),
            host=env.get("KEHU_HOST") or "127.0.0.1",
            port=_int(env, "KEHU_PORT", 8000),
            notification_poll_seconds=_float(env, "KEHU_NOTIFICATION_POLL_SECONDS", 1.0),
            subscription_recheck_seconds=_float(env, "KEHU_SUBSCRIPTION_RECHECK_SECONDS", 30.0),
            policy_poll_seconds=_float(env, "KEHU_POLICY_POLL_SECONDS", 2.0),
            audit_keys=_parse_keys("KEHU_AUDIT_KEYS", secret("KEHU_AUDIT_KEYS")),
            audit_flush_seconds=_float(env, "KEHU_AUDIT_FLUSH_SECONDS", 0.5),
            audit_reads=_choice(env, "KEHU_AUDIT_READS", ("buffered", "sync")),
            audit_checkpoint_dir=Path(
                env.get("KEHU_AUDIT_CHECKPOINT_DIR") or var_dir / "audit-checkpoints"
            ).resolve(),
            audit_checkpoint_seconds=_float(
                env, "KEHU_AUDIT_CHECKPOINT_SECONDS", 300.0, allow_zero=True
            ),
            embedded_worker=_bool(env, "KEHU_EMBEDDED_WORKER", embedded),
            worker_poll_seconds=_float(env, "KEHU_WORKER_POLL_SECONDS", 5.0),
            major_complaint_persons=_int(env, "KEHU_MAJOR_COMPLAINT_PERSONS", 20, minimum=2),
            major_complaint_amount=_amount(
                env, "KEHU_MAJOR_COMPLAINT_AMOUNT", Decimal("1000000.00")
            ),
            smtp=_smtp(env),
            kpi_minimum_cell=_int(env, "KEHU_KPI_MINIMUM_CELL", 10, minimum=2),
        )


MAX_TOKEN_LEEWAY_SECONDS = 300


def _token_leeway(env: Mapping[str, str]) -> int:
    """``KEHU_TOKEN_LEEWAY_SECONDS``: 0 … 300 (five minutes at most: more is not clock skew)."""
    name = "KEHU_TOKEN_LEEWAY_SECONDS"
    leeway = _int(env, name, 5, minimum=0)
    if leeway > MAX_TOKEN_LEEWAY_SECONDS:
        raise SettingsError(f"{name} must be at most {MAX_TOKEN_LEEWAY_SECONDS}")
    return leeway


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins ``https://app.example.cn`` (scheme, host, optional port)."""
    origins: list[str] = []
    for part in (env.get(name) or "").split(","):
        origin = part.strip().rstrip("/")
        if not origin:
            continue
        scheme, sep, rest = origin.partition("://")
        if (
            scheme.lower() not in {"http", "https"}
            or not sep
            or not rest
            or any(c in rest for c in "/?#@* ")
        ):
            raise SettingsError(
                f"{name}: each entry must be an origin like https://app.example.cn "
                "(scheme, host and optional port; no path or wildcard)"
            )
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def _embedded_secrets(var_dir: Path) -> dict[str, str]:
    """Load, or create once, the secrets of an embedded (SQLite) installation.

    A secret added by a later version (e.g. ``KEHU_AUDIT_KEYS``) is generated into an existing
    file too, so an installation keeps working after an upgrade.
    """
    path = var_dir / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "KEHU_JWT_SECRET": lambda: secrets.token_urlsafe(48),
        "KEHU_ENCRYPTION_KEYS": lambda: new_key_entry("k1"),
        "KEHU_HASH_KEYS": lambda: new_key_entry("h1"),
        "KEHU_AUDIT_KEYS": lambda: new_key_entry("a1"),
    }
    missing = {name: make() for name, make in fresh.items() if name not in values}
    if not missing:
        return values
    values.update(missing)
    var_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name("secrets.json.new")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
    os.replace(partial, path)  # atomic: a crash never leaves half a file of secrets
    return values
