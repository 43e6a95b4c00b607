"""``kehu assess`` and ``kehu bonus`` (KPI-2, KPI-3) on the suite's database: the fixed world of
tests/scorecard_steps.py frozen from the command line, the pool split into a CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import clock
from kehu.cli import app
from tests import scorecard_steps as steps
from tests.conftest import Backend, command_env

runner = CliRunner()


@pytest.fixture
def env(backend: Backend, tmp_path: Path) -> Iterator[dict[str, str]]:
    with command_env(backend, tmp_path, backend.settings.database_url) as found:
        yield found


def test_kehu_assess_freezes_a_branch_and_kehu_bonus_writes_the_split_KPI_2_KPI_3(
    backend: Backend, env: dict[str, str], tmp_path: Path
) -> None:
    world = steps.world(backend, "2025-10")
    assessed = runner.invoke(
        app, ["assess", "--period", "2025-10", "--branch", world.branch_code], env=env
    )
    assert assessed.exit_code == 0, assessed.output
    assert "Assessing 2025-10" in assessed.output  # the progress bar
    assert "Scorecards of 2025-10 frozen as version 1 (weights version" in assessed.output
    found = steps.scorecards(backend, world, "STAFF")
    assert [c["score"] for c in found["scorecards"]] == ["85.00", "55.00", "50.00"]
    out = tmp_path / "bonus.csv"
    arguments = ["bonus", "--period", "2025-10", "--pool", "1000000.00", "--out", str(out)]
    split = runner.invoke(app, [*arguments, "--branch", world.branch_code], env=env)
    assert split.exit_code == 0, split.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # 85 : 55 : 50 of 100,000,000 fen = 44736842.11, 28947368.42, 26315789.47: rounded down
    # they leave 1 fen, which goes to the largest remainder (C's .47).
    assert [(r["label"], r["rank"], r["score"], r["amount"]) for r in rows] == [
        ("员工RMA", "1", "85.00", "447368.42"),
        ("员工RMB", "2", "55.00", "289473.68"),
        ("员工RMC", "3", "50.00", "263157.90"),
    ]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("1000000.00")
    negative = runner.invoke(
        app, ["bonus", "--period", "2025-10", "--pool", "-1.00", "--out", str(out)], env=env
    )
    assert negative.exit_code == 1 and "pool: NEGATIVE_AMOUNT" in negative.output
    not_ended = runner.invoke(app, ["assess", "--period", "2099-01"], env=env)
    assert not_ended.exit_code == 1 and "FUTURE_PERIOD" in not_ended.output


def test_kehu_assess_the_whole_bank_with_the_reviewed_weights_KPI_2(
    backend: Backend, env: dict[str, str]
) -> None:
    # 2026-Q3 has ended on 1 October 2026, 00:00 Beijing; version 1 (weights.toml) covers it.
    with clock.travel_to(datetime(2026, 9, 30, 16, 0, tzinfo=UTC), all_threads=True):
        assessed = runner.invoke(app, ["assess", "--period", "2026-Q3"], env=env)
    assert assessed.exit_code == 0, assessed.output
    assert "(weights version 1)" in assessed.output
    branches = backend.gql(
        """{ scorecards(period: "2026-Q3", level: BRANCH) {
             version { branchId weightVersion }
             scorecards { rank score lines { indicator weight } } } }"""
    )["scorecards"]
    assert branches["version"] == {"branchId": None, "weightVersion": 1}
    assert branches["scorecards"]  # the seeded customers' branches
    for card in branches["scorecards"]:
        assert [line["indicator"] for line in card["lines"]][:2] == [
            "SATISFACTION_SCORE",
            "COMPLAINT_RATE",
        ]
        assert sum(Decimal(line["weight"]) for line in card["lines"]) == 1
    ranks = [c["rank"] for c in branches["scorecards"] if c["score"] is not None]
    assert ranks == sorted(ranks) and ranks[0] == 1
    # The seeded managers are in no team: each is computed on their own.
    staff = backend.gql(
        """{ scorecards(period: "2026-Q3", level: STAFF) { scorecards { lines { indicator } } } }"""
    )["scorecards"]["scorecards"]
    assert staff
    # The file's STAFF weights: seven lines, customers' ratings and spot checks among them.
    assert {len(c["lines"]) for c in staff} == {7}
    assert {line["indicator"] for line in staff[0]["lines"]} >= {
        "STAFF_RATING",
        "SPOT_CHECK_PASS_RATE",
    }
