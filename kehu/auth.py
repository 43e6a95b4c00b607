"""Authentication: bearer JWTs signed by Kehu (HS256), checked for signature, issuer, audience,
expiry and a bounded lifetime (``KEHU_TOKEN_MAX_LIFETIME_MINUTES``); time claims tolerate
``KEHU_TOKEN_LEEWAY_SECONDS`` of clock skew."""

from __future__ import annotations

from datetime import timedelta

import jwt
from sqlalchemy.orm import Session

from core import clock
from core.settings import Settings
from resolvers.shared.staff import staff_by_employee_number
from store.staff import Staff

ALGORITHM = "HS256"
AUDIENCE = "kehu-api"


class AuthenticationError(Exception):
    """The request carries no usable credentials; the message is safe to show."""


def mint_token(settings: Settings, employee_no: str, ttl: timedelta | None = None) -> str:
    """A signed token for a staff member (``kehu token``); never longer-lived than the maximum."""
    issued = clock.now()
    lifetime = ttl if ttl is not None else timedelta(minutes=settings.token_ttl_minutes)
    if lifetime > timedelta(minutes=settings.token_max_lifetime_minutes):
        raise ValueError(
            "a token may live at most KEHU_TOKEN_MAX_LIFETIME_MINUTES "
            f"({settings.token_max_lifetime_minutes} minutes)"
        )
    claims = {
        "sub": employee_no,
        "iss": settings.jwt_issuer,
        "aud": AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def employee_no_from(settings: Settings, authorization: str | None) -> str:
    """Check an ``Authorization: Bearer …`` header and return the token's subject."""
    if not authorization:
        raise AuthenticationError("authentication required: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=AUDIENCE,
            # Time claims follow core.clock, the one clock of the service (checked below).
            options={
                "require": ["exp", "iat", "iss", "sub", "aud"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidIssuerError as exc:
        raise AuthenticationError("the token was not issued by this service") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthenticationError("the token is not valid") from exc
    issued, expires = _seconds(claims["iat"]), _seconds(claims["exp"])
    now = clock.now().timestamp()
    leeway = settings.token_leeway_seconds
    if issued > now + leeway:
        raise AuthenticationError("the token was issued in the future")
    if expires - issued > settings.token_max_lifetime_minutes * 60:
        raise AuthenticationError("the token's lifetime exceeds the maximum this service accepts")
    if expires + leeway < now:
        raise AuthenticationError("the token has expired")
    return str(claims["sub"])


def _seconds(claim: object) -> float:
    """A time claim (NumericDate: a JSON number of seconds) within a sane range, or refused."""
    # bool is an int in Python, but `true` is not a time; text, NaN and infinity are not either.
    if isinstance(claim, bool) or not isinstance(claim, int | float) or not 0 <= claim < 2**40:
        raise AuthenticationError("the token is not valid")
    return float(claim)


def authenticate(session: Session, settings: Settings, authorization: str | None) -> Staff:
    """The active staff member a request's bearer token names."""
    employee_no = employee_no_from(settings, authorization)
    staff = staff_by_employee_number(session, employee_no)
    if staff is None or not staff.active:
        raise AuthenticationError("the token's staff member is unknown or inactive")
    return staff
