"""The GraphQL tour in README.md runs as written (README stays true)."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import OperationDefinitionNode, OperationType, parse

from tests.conftest import Backend, create_customer, new_id_number

README = Path(__file__).resolve().parent.parent / "README.md"
# Operations of the README that are not the head office's: who runs them, and how to undo them.
RUN_AS = {"Tighten": "SEC0001"}
UNDO = {
    "Tighten": """mutation { removePolicyRule(input: { role: "BRANCH_SUPERVISOR",
        object: "Customer.idNumber", action: "full", effect: "deny" }) { errors { code } } }"""
}


def _blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_a_tour() -> None:
    assert len(_blocks()) >= 5


def test_every_tour_operation_runs_without_errors(backend: Backend) -> None:
    customer = create_customer(backend, phone="13800138000")
    ran = 0
    for block in _blocks():
        # The tour's create example uses a fixed ID number: make it new for this database.
        block = block.replace("11010519491231002x", new_id_number())
        for definition in parse(block).definitions:
            assert isinstance(definition, OperationDefinitionNode)
            if definition.operation is OperationType.SUBSCRIPTION:
                continue  # covered over websockets in test_customer_information
            name = definition.name.value if definition.name else None
            variables = {"id": customer["id"]} if definition.variable_definitions else {}
            response = backend.client.post(
                "/graphql",
                json={"query": block, "variables": variables, "operationName": name},
                headers={
                    "Authorization": f"Bearer {backend.token(RUN_AS.get(name or '', 'HO0001'))}",
                    "X-Purpose": "CUSTOMER_SERVICE",
                },
            )
            if name in UNDO:
                undone = backend.gql(UNDO[name], staff=RUN_AS[name])
                assert undone["removePolicyRule"]["errors"] == []
            body = response.json()
            assert response.status_code == 200 and "errors" not in body, (name, body)
            payloads = [v for v in (body["data"] or {}).values() if isinstance(v, dict)]
            for payload in payloads:
                assert payload.get("errors", []) == [], (name, payload)
            ran += 1
    assert ran >= 6
