"""Authentication: bearer JWTs, 401 without a valid one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from core import clock
from kehu.auth import mint_token
from store.staff import Staff
from tests.conftest import Backend

ME = "{ me { employeeNo name roles branch { code name } } }"


def test_me_returns_the_signed_in_staff_member(backend: Backend) -> None:
    me = backend.gql(ME, staff="SUP0001")["me"]
    assert me["employeeNo"] == "SUP0001"
    assert me["roles"] == ["BRANCH_SUPERVISOR"]
    assert me["branch"]["code"] == "BJ01"


def _unauthenticated(response: object) -> str:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    return body["errors"][0]["message"]


def test_no_token_is_401_unauthenticated(backend: Backend) -> None:
    message = _unauthenticated(backend.post(ME, staff=""))
    assert "Bearer" in message


def test_token_with_a_wrong_signature_is_refused(backend: Backend) -> None:
    forged = jwt.encode(
        {"sub": "HO0001", "iss": "kehu", "aud": "kehu-api", "iat": 1, "exp": 2**40},
        "some-other-secret-some-other-secret-0000",
        algorithm="HS256",
    )
    _unauthenticated(backend.post(ME, staff="", headers={"Authorization": f"Bearer {forged}"}))


def test_expired_token_is_refused(backend: Backend) -> None:
    old = clock.now() - timedelta(hours=10)
    with clock.travel_to(old):
        token = mint_token(backend.settings, "RM0001", ttl=timedelta(hours=1))
    message = _unauthenticated(
        backend.post(ME, staff="", headers={"Authorization": f"Bearer {token}"})
    )
    assert "expired" in message


def test_expiry_leeway_is_the_setting_default_five_seconds(backend: Backend) -> None:
    leeway = backend.settings.token_leeway_seconds
    assert leeway == 5  # the default (KEHU_TOKEN_LEEWAY_SECONDS unset); it used to be 30 s
    expires = int(clock.now().timestamp()) - 60
    token = _signed(backend, iat=expires - 3600, exp=expires)
    # The service's clock (all threads: the request runs in a worker thread) is set exactly.
    with clock.travel_to(datetime.fromtimestamp(expires + leeway - 1, UTC), all_threads=True):
        assert _me_with(backend, token).status_code == 200  # type: ignore[attr-defined]
    with clock.travel_to(datetime.fromtimestamp(expires + leeway, UTC), all_threads=True):
        assert _me_with(backend, token).status_code == 200  # type: ignore[attr-defined]
    with clock.travel_to(datetime.fromtimestamp(expires + leeway + 1, UTC), all_threads=True):
        assert "expired" in _unauthenticated(_me_with(backend, token))
    # 30 s after exp (the old leeway) is refused too.
    with clock.travel_to(datetime.fromtimestamp(expires + 30, UTC), all_threads=True):
        assert "expired" in _unauthenticated(_me_with(backend, token))


def test_token_from_another_issuer_is_refused(backend: Backend) -> None:
    claims = {"sub": "RM0001", "iss": "someone-else", "aud": "kehu-api", "iat": 1, "exp": 2**40}
    token = jwt.encode(claims, backend.settings.jwt_secret, algorithm="HS256")
    message = _unauthenticated(
        backend.post(ME, staff="", headers={"Authorization": f"Bearer {token}"})
    )
    assert "issued" in message


def test_inactive_staff_cannot_sign_in(backend: Backend) -> None:
    token = backend.token("MKT0001")
    with backend.engine.begin() as connection:
        connection.execute(
            Staff.__table__.update().where(Staff.employee_no == "MKT0001").values(active=False)
        )
    try:
        _unauthenticated(backend.post(ME, staff="", headers={"Authorization": f"Bearer {token}"}))
    finally:
        with backend.engine.begin() as connection:
            connection.execute(
                Staff.__table__.update().where(Staff.employee_no == "MKT0001").values(active=True)
            )


def test_healthz_needs_no_token(backend: Backend) -> None:
    response = backend.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _signed(backend: Backend, **claims: object) -> str:
    now = int(clock.now().timestamp())
    base: dict[str, object] = {
        "sub": "RM0001",
        "iss": backend.settings.jwt_issuer,
        "aud": "kehu-api",
        "iat": now,
        "exp": now + 3600,
    }
    base.update(claims)
    present = {k: v for k, v in base.items() if v is not None}
    return jwt.encode(present, backend.settings.jwt_secret, algorithm="HS256")


def _me_with(backend: Backend, token: str) -> object:
    return backend.post(ME, staff="", headers={"Authorization": f"Bearer {token}"})


def test_token_lifetime_is_bounded_by_the_maximum_setting(backend: Backend) -> None:
    maximum = backend.settings.token_max_lifetime_minutes * 60
    now = int(clock.now().timestamp())
    # Exactly the maximum lifetime is accepted; one second more is refused.
    assert _me_with(backend, _signed(backend, iat=now, exp=now + maximum)).status_code == 200  # type: ignore[attr-defined]
    message = _unauthenticated(_me_with(backend, _signed(backend, iat=now, exp=now + maximum + 1)))
    assert "lifetime" in message
    century = now + 100 * 365 * 24 * 3600
    assert "lifetime" in _unauthenticated(_me_with(backend, _signed(backend, exp=century)))


def test_token_issued_in_the_future_is_refused(backend: Backend) -> None:
    leeway = backend.settings.token_leeway_seconds
    now = int(clock.now().timestamp())
    # Clocks may differ by the leeway; beyond that a token is not from this service.
    with clock.travel_to(datetime.fromtimestamp(now, UTC), all_threads=True):
        accepted = _signed(backend, iat=now + leeway, exp=now + 600)
        assert _me_with(backend, accepted).status_code == 200  # type: ignore[attr-defined]
        refused = _signed(backend, iat=now + leeway + 1, exp=now + 600)
        assert "future" in _unauthenticated(_me_with(backend, refused))
    far = _signed(backend, iat=now + 100 * 365 * 24 * 3600, exp=now + 100 * 365 * 24 * 3600 + 60)
    _unauthenticated(_me_with(backend, far))


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": None},
        {"exp": None},
        {"iat": "now"},
        {"exp": "later"},
        {"iat": True},
        {"exp": 1.5e300},
        {"exp": 2**70},
    ],
    ids=["no-iat", "no-exp", "text-iat", "text-exp", "bool-iat", "huge-float-exp", "huge-exp"],
)
def test_token_time_claims_must_be_present_numbers(
    backend: Backend, claims: dict[str, object]
) -> None:
    _unauthenticated(_me_with(backend, _signed(backend, **claims)))


def test_minted_tokens_cannot_outlive_the_maximum(backend: Backend) -> None:
    maximum = timedelta(minutes=backend.settings.token_max_lifetime_minutes)
    assert _me_with(backend, mint_token(backend.settings, "RM0001", ttl=maximum)).status_code == 200  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="KEHU_TOKEN_MAX_LIFETIME_MINUTES"):
        mint_token(backend.settings, "RM0001", ttl=maximum + timedelta(seconds=1))
