"""The Casbin policy itself (PLAT-3, SHARE): decisions, explanations, masking, thread safety."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from authz import masking
from authz.fields import PERSONAL_FIELDS, Effect
from authz.policy import MODEL_FILE, POLICY_FILE, AccessPolicy

EXPECTATIONS = Path(__file__).resolve().parent.parent / "authz" / "expectations.csv"


def test_the_security_teams_expectation_table_holds() -> None:
    failures = AccessPolicy().check_expectations(EXPECTATIONS.read_text().splitlines())
    assert failures == []


def test_a_wrong_expectation_is_reported_with_the_deciding_rule() -> None:
    failures = AccessPolicy().check_expectations(["RELATIONSHIP_MANAGER, Customer.idNumber, FULL"])
    assert len(failures) == 1
    assert "expected FULL, got MASKED" in failures[0]
    assert "Customer.idNumber, masked, allow" in failures[0]


def test_every_personal_field_belongs_to_a_field_group() -> None:
    grouped = {
        line.split(",")[1].strip()
        for line in POLICY_FILE.read_text().splitlines()
        if line.startswith("g2,")
    }
    listed = {f"{t}.{f}" for t, fields in PERSONAL_FIELDS.items() for f in fields.values()}
    assert listed - grouped == set()


def _policy(tmp_path: Path, rules: str) -> AccessPolicy:
    policy = tmp_path / "policy.csv"
    policy.write_text("g2, Customer.phone, contact\n" + rules)
    return AccessPolicy(MODEL_FILE, policy)


def test_deny_overrides_allow_and_unknown_is_denied(tmp_path: Path) -> None:
    policy = _policy(
        tmp_path,
        "p, R, contact, full, allow\np, R, Customer.phone, full, deny\n",
    )
    decision = policy.field_decision(["R"], "Customer.phone")
    assert decision.effect is Effect.DENIED
    assert "deny" in decision.rule
    assert policy.field_decision(["NOBODY"], "Customer.phone").effect is Effect.DENIED
    assert policy.field_decision(["R"], "Customer.unlisted").effect is Effect.DENIED


def test_the_most_open_role_wins_across_roles() -> None:
    policy = AccessPolicy()
    both = policy.field_decision(["AUDITOR", "HEAD_OFFICE"], "Customer.phone")
    assert both.effect is Effect.FULL and both.role == "HEAD_OFFICE"


def test_decisions_are_cached_per_roles_and_version() -> None:
    policy = AccessPolicy()
    policy.decisions(["RELATIONSHIP_MANAGER"])
    calls = policy.enforce_calls
    for _ in range(50):
        policy.decisions(["RELATIONSHIP_MANAGER"])
    assert policy.enforce_calls == calls
    policy.reload()
    policy.decisions(["RELATIONSHIP_MANAGER"])
    assert policy.enforce_calls > calls


def test_concurrent_enforce_and_reload_stay_correct(tmp_path: Path) -> None:
    """Readers never see a wrong decision, nor an error, while the policy reloads."""
    policy = _policy(tmp_path, "p, R, contact, masked, allow\n")
    wrong: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                effect = policy.field_decision(["R"], "Customer.phone").effect
                fields = policy.decisions(["R"]).fields["Customer"]
            except Exception as exc:
                wrong.append(repr(exc))
                return
            if effect is not Effect.MASKED or fields["phone"] is not Effect.MASKED:
                wrong.append(f"{effect} / {fields['phone']}")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for _ in range(200):
        policy.reload()
    stop.set()
    for reader in readers:
        reader.join()
    assert wrong == []


@given(st.from_regex(r"\A\d{17}[\dX]\Z"))
def test_masked_id_number_keeps_first_three_and_last_four(number: str) -> None:
    masked = masking.id_number(number)
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:]
    assert masked[3:-4] == "*" * 11


@given(st.from_regex(r"\A1[3-9]\d{9}\Z"))
def test_masked_mobile_keeps_first_three_and_last_four(phone: str) -> None:
    assert masking.mobile(phone) == phone[:3] + "****" + phone[-4:]


@given(st.decimals(min_value=Decimal("-99999999999"), max_value=Decimal("99999999999"), places=2))
def test_amount_bands_contain_the_amount(amount: Decimal) -> None:
    band = masking.amount(amount)
    if band == "<0":
        assert amount < 0
    elif band.endswith("+"):
        assert amount >= int(band[:-1])
    else:
        low, high = (int(part) for part in band.split("-"))
        assert low <= amount < high


def test_masking_table_examples() -> None:
    assert masking.id_number("11010519491231002X") == "110***********002X"
    assert masking.mobile("13812345678") == "138****5678"
    assert masking.name("李娜") == "李*"
    assert masking.email("li.na@example.com") == "l***@example.com"
    assert masking.address("北京市朝阳区建国路88号") == "北京市朝阳区****"
    assert masking.address("江苏省南京市秦淮区沈阳街218号") == "江苏省南京市秦淮区****"
