"""Integrity attacks on assessment and incentives (KPI-2, KPI-3): spot-check input, audit of
revealed comments, who may seed or inspect a check, honours and self-recorded surveys."""

from __future__ import annotations

import pytest

from tests.conftest import Backend
from tests.test_spot_checks import DRAW, contacts, inspector_id, new_branch


@pytest.mark.parametrize("rate", ["NaN", "sNaN"])
def test_KPI_2_a_spot_check_rate_that_is_not_a_number_is_a_typed_error(
    backend: Backend, rate: str
) -> None:
    """drawSpotCheck(rate: "NaN") must be refused on `rate` (OUT_OF_RANGE), not INTERNAL."""
    branch = new_branch(backend)
    contacts(backend, branch, ["2026-11-12T10:00:00+08:00", "2026-11-12T11:00:00+08:00"])
    values = {
        "kind": "CONTACT",
        "inspectorIds": [inspector_id(backend)],
        "branchId": branch["branch_id"],
        "start": "2026-11-12",
        "end": "2026-11-12",
        "rate": rate,
    }
    body = backend.post(DRAW, {"input": values}).json()
    assert body.get("errors") is None, body["errors"]
    assert [e["field"] for e in body["data"]["drawSpotCheck"]["errors"]] == [["rate"]]
