"""``oversight fairness audit`` and ``report`` as real processes, in the forms the issue
gives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from fastapi.testclient import TestClient

from oversight.api import create_app
from oversight.policy import parse_policy
from oversight.settings import Settings
from tests.api.test_fairness import POLICY, report_of, stream
from tests.conftest import FakeClock, Keys
from tests.fairness.test_csv_audit import COMPAS, propublica_filter
from tests.servers import oversight_command


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(oversight_command(*args), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("filtered", [False, True], ids=["all rows", "ProPublica's filter"])
def test_audit_of_compas_equals_fairlearn(tmp_path: Path, filtered: bool) -> None:
    frame = pd.read_csv(COMPAS)
    if filtered:
        frame = propublica_filter(frame)
    path = tmp_path / "compas.csv"
    frame.to_csv(path, index=False)
    result = run(
        "fairness", "audit", "--csv", str(path), "--group-cols", "race", "--y-pred",
        "score_text", "--y-true", "two_year_recid", "--favourable", "Medium",
        "--favourable", "High", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (race,) = json.loads(result.stdout)["reports"]
    raw = MetricFrame(
        metrics={"sr": selection_rate, "fpr": false_positive_rate, "fnr": false_negative_rate},
        y_true=frame.two_year_recid.to_numpy(),
        y_pred=frame.score_text.isin(["Medium", "High"]).astype(int).to_numpy(),
        sensitive_features=frame.race,
    ).by_group
    assert len(race["groups"]) == len(raw)
    for row in race["groups"]:
        want = raw.loc[row["label"]]
        assert row["selection_rate"] == pytest.approx(want.sr, abs=1e-12, rel=0)
        assert row["false_positive_rate"] == pytest.approx(want.fpr, abs=1e-12, rel=0)
        assert row["false_negative_rate"] == pytest.approx(want.fnr, abs=1e-12, rel=0)


def test_audit_takes_several_group_columns_and_prints_a_table_or_csv() -> None:
    base = ("fairness", "audit", "--csv", str(COMPAS), "--y-pred", "score_text",
            "--favourable", "High")  # fmt: skip
    table = run(*base, "--group-cols", "race", "sex")
    assert table.returncode == 0, table.stderr
    assert "race × sex: reference" in table.stdout and "Findings:" in table.stdout
    comma = run(*base, "--group-cols", "race,sex", "--format", "csv")
    lines = comma.stdout.splitlines()
    assert lines[0].startswith("attributes,group,count,favourable,selection_rate")
    assert any(line.startswith("race × sex,African-American × Male,3044,") for line in lines)


def test_audit_names_a_missing_column() -> None:
    result = run("fairness", "audit", "--csv", str(COMPAS), "--group-cols", "gender",
                 "--y-pred", "score_text")  # fmt: skip
    assert result.returncode == 2
    assert "has no column 'gender'" in result.stderr


def test_report_reads_the_database_with_the_policy_the_server_ran(
    settings: Settings, clock: FakeClock, keys: Keys
) -> None:
    app = create_app(
        settings.model_copy(update={"bias_refresh_seconds": 3600}),
        policy=parse_policy(POLICY),
        clock=clock,
    )
    with TestClient(app) as client:
        stream(client, keys, 150, seed=7)
        expected = report_of(client, keys)
    result = run("fairness", "report", "--db", settings.db, "--system", "hiring",
                 "--format", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (screen,) = json.loads(result.stdout)["decision_types"]
    assert screen["report"] == expected["report"]
    table = run("fairness", "report", "--db", settings.db, "--system", "hiring")
    assert "hiring / screen: the last 120 decisions" in table.stdout
    assert "gender × age_band: reference" in table.stdout
    unknown = run("fairness", "report", "--db", settings.db, "--system", "payroll")
    assert unknown.returncode == 2 and "no system 'payroll'" in unknown.stderr
    unchecked = run("fairness", "report", "--db", settings.db, "--system", "other")
    assert unchecked.returncode == 2 and "bias check" in unchecked.stderr
