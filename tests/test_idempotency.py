"""Every creating mutation accepts an idempotency key (issue 10): a retry with the same key —
after a timeout, UNAVAILABLE or UNKNOWN_OUTCOME — answers with what the first call created
and writes nothing: no second row, no second CHANGE entry. A key reused for a different input
is refused; keys are per caller and mutation.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Backend, new_id_number
from tests.test_unit_of_work import CASES, _changes_after, _last_id, _mutation_fields

# Creating mutation → (what its payload answers with, the table it creates rows in).
IDEMPOTENT = {
    "createCustomer": ("customer { id name version }", "customers"),
    "recordFinancialSnapshot": (
        "financialSnapshot { asOf recordedAt } customer { id }",
        "financial_snapshots",
    ),
    "importTransactions": (
        "imported skippedDuplicates accountsCreated customer { id }",
        "transactions",
    ),
    "recordRiskAssessment": ("riskAssessment { assessedAt } customer { id }", "risk_assessments"),
    "recordVerification": ("verification { verifiedAt } customer { id }", "verifications"),
    "requestDataShare": ("shareRequest { id }", "share_requests"),
    "registerThirdParty": ("thirdParty { id name }", "third_parties"),
    "recordConsent": ("consent { id }", "consents"),
    "createShareGrant": ("shareGrant { id }", "share_grants"),
    "deployProcess": ("version { id number }", "process_versions"),
    "submitComplaint": ("complaint { id } created", "complaints"),
    "logContact": ("contact { id contactedAt followUpTask { id } }", "contacts"),
    "createClubEvent": ("event { id startsAt capacity }", "club_events"),
    "registerForClubEvent": (
        "registration { registeredAt customer { id } event { id registered } }",
        "club_registrations",
    ),
    "requestSurvey": ("created request { id answeredAt }", "survey_requests"),
    "recordSurveyResponse": ("response { score answers { question scale } }", "survey_responses"),
    "publishQuestionnaire": ("questionnaire { code version }", "questionnaires"),
}

_keys = itertools.count(1)


def _document(name: str, selection: str) -> str:
    input_type = _mutation_fields()[name].args["input"].type
    return (
        f"mutation($input: {input_type}) {{ {name}(input: $input) "
        f"{{ {selection} errors {{ field code message }} }} }}"
    )


def _count(backend: Backend, table: str) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def test_every_creating_mutation_takes_an_idempotency_key() -> None:
    fields = _mutation_fields()
    for name in IDEMPOTENT:
        input_type = fields[name].args["input"].type.of_type  # type: ignore[attr-defined]
        assert "idempotencyKey" in input_type.fields, name


@pytest.mark.parametrize("name", sorted(IDEMPOTENT))
def test_a_retry_with_the_same_key_answers_the_first_result_and_writes_nothing(
    backend: Backend, name: str
) -> None:
    selection, table = IDEMPOTENT[name]
    call = CASES[name](backend)
    values: dict[str, Any] = {**call.input, "idempotencyKey": f"retry-{next(_keys)}"}
    document = _document(name, selection)

    def send(input_values: dict[str, Any]) -> dict[str, Any]:
        response = backend.post(
            document, {"input": input_values}, staff=call.staff, purpose=call.purpose
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return dict(body["data"][name])

    try:
        before = _last_id(backend)
        first = send(values)
        assert first["errors"] == [], first
        assert len(_changes_after(backend, before)) == 1
        rows = _count(backend, table)
        after_first = _last_id(backend)

        again = send(values)
        if name in ("submitComplaint", "requestSurvey"):  # a retry: created false
            assert again.pop("created") is False and first.pop("created") is True
        assert again == first
        assert _count(backend, table) == rows
        assert _changes_after(backend, after_first) == []

        # The same key for a different request is a CONFLICT, with nothing written.
        other = {**values, **_changed(name, values)}
        refused = backend.post(
            document, {"input": other}, staff=call.staff, purpose=call.purpose
        ).json()
        assert refused["data"] is None, refused
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONFLICT"], refused
        assert "retry-" not in refused["errors"][0]["message"]
        assert _count(backend, table) == rows
        assert _changes_after(backend, after_first) == []
    finally:
        if call.cleanup is not None:
            call.cleanup()


def _changed(name: str, values: dict[str, Any]) -> dict[str, Any]:
    """One input field changed (the request differs, the key is the same)."""
    if name == "createCustomer":
        return {"name": "另一个客户"}
    if name in ("recordConsent", "requestDataShare", "createShareGrant", "registerThirdParty"):
        field = "reason" if "reason" in values else "agreementReference"
        if name == "recordConsent":
            field = "evidence"
        return {field: "a different request"}
    if name == "deployProcess":
        return {"forms": {}}
    if name == "submitComplaint":
        return {"description": "a different request"}
    if name == "recordVerification":
        return {"note": "a different request"}
    if name == "logContact":
        return {"summary": "a different request"}
    if name == "createClubEvent":
        return {"title": "a different request"}
    if name == "registerForClubEvent":
        return {"eventId": "Q2x1YkV2ZW50Ojk5OTk5OQ=="}
    if name == "requestSurvey":
        return {"occasion": "RISK_REVIEW", "occasionId": None}
    if name == "publishQuestionnaire":
        return {"title": "a different request"}
    if name == "recordSurveyResponse":
        return {"answers": values["answers"][:2]}
    if name == "importTransactions":
        return {"transactions": []}
    return {"source": {"kind": "BUSINESS_TRANSACTION", "detail": "a different request"}}


def test_keys_are_per_caller_and_checked(backend: Backend) -> None:
    call = CASES["createCustomer"](backend)
    document = _document("createCustomer", "customer { id }")
    key = f"shared-{next(_keys)}"
    first = backend.gql(document, {"input": {**call.input, "idempotencyKey": key}})
    # Another caller's key of the same text is theirs: it creates their own customer.
    other = {**call.input, "idNumber": new_id_number(), "idempotencyKey": key}
    second = backend.gql(document, {"input": other}, staff="SUP0001")
    assert second["createCustomer"]["errors"] == [], second
    assert second["createCustomer"]["customer"]["id"] != first["createCustomer"]["customer"]["id"]
    too_long = backend.gql(document, {"input": {**call.input, "idempotencyKey": "k" * 101}})
    assert too_long["createCustomer"]["errors"][0]["field"] == ["idempotencyKey"]
    blank = backend.gql(document, {"input": {**call.input, "idempotencyKey": "  "}})
    assert blank["createCustomer"]["errors"][0]["code"] == "REQUIRED"
    for bad in ("k\x00", "k\ud800"):
        body = {"query": document, "variables": {"input": {**call.input, "idempotencyKey": bad}}}
        response = backend.client.post(
            "/graphql",
            content=json.dumps(body),  # ASCII with \u escapes: a lone surrogate survives
            headers={
                "Authorization": f"Bearer {backend.token()}",
                "X-Purpose": "CUSTOMER_SERVICE",
                "Content-Type": "application/json",
            },
        )
        # Refused at the boundary, before anything runs, like any text input holding them.
        refused = response.json()
        assert refused["data"] is None, refused
        error = refused["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert [f["field"] for f in error["extensions"]["fields"]] == [["input", "idempotencyKey"]]
