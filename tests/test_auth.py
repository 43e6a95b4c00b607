"""Authentication (issue 2, capability 3): bearer JWTs, 401 without a valid one."""

from __future__ import annotations

from datetime import timedelta

import jwt

from kehu import clock
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
