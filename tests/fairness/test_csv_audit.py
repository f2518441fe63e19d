"""The batch audit on ProPublica's COMPAS file equals fairlearn on the raw rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)

from fairness import AuditInputError, audit_csv, build_report, counts_from_csv

COMPAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "compas-scores-two-years.csv"
HIGH_RISK = ["Medium", "High"]  # ProPublica: "high risk" is any score other than Low


def propublica_filter(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows ProPublica kept (compas-analysis, 'Compas Analysis.ipynb')."""
    return frame[
        (frame.days_b_screening_arrest <= 30)
        & (frame.days_b_screening_arrest >= -30)
        & (frame.is_recid != -1)
        & (frame.c_charge_degree != "O")
        & (frame.score_text != "N/A")
    ]


@pytest.fixture(params=["all rows", "ProPublica's filter"])
def compas(request: pytest.FixtureRequest, tmp_path: Path) -> pd.DataFrame:
    frame = pd.read_csv(COMPAS)
    if request.param == "ProPublica's filter":
        frame = propublica_filter(frame)
        assert len(frame) == 6172  # the count ProPublica reports
    path = tmp_path / "compas.csv"
    frame.to_csv(path, index=False)
    frame.attrs["path"] = path
    return frame


def test_rates_by_race_equal_fairlearn_on_the_raw_rows(compas: pd.DataFrame) -> None:
    report = audit_csv(
        compas.attrs["path"], group_cols=["race"], y_pred="score_text",
        y_true="two_year_recid", favourable=HIGH_RISK,
    )  # fmt: skip
    raw = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "false_positive_rate": false_positive_rate,
            "false_negative_rate": false_negative_rate,
        },
        y_true=compas.two_year_recid.to_numpy(),
        y_pred=compas.score_text.isin(HIGH_RISK).astype(int).to_numpy(),
        sensitive_features=compas.race,
    ).by_group
    (race,) = [r for r in report.reports if r.attributes == ["race"]]
    assert {row.label for row in race.groups} == set(raw.index)
    for row in race.groups:
        expected = raw.loc[row.label]
        assert row.count == (compas.race == row.label).sum()
        for metric in ("selection_rate", "false_positive_rate", "false_negative_rate"):
            assert getattr(row, metric) == pytest.approx(expected[metric], abs=1e-12, rel=0)


def test_intersections_equal_fairlearn_with_two_sensitive_features(compas: pd.DataFrame) -> None:
    report = audit_csv(
        compas.attrs["path"], group_cols=["race", "sex"], y_pred="score_text",
        y_true="two_year_recid", favourable=HIGH_RISK,
    )  # fmt: skip
    raw = MetricFrame(
        metrics={"selection_rate": selection_rate, "false_positive_rate": false_positive_rate},
        y_true=compas.two_year_recid.to_numpy(),
        y_pred=compas.score_text.isin(HIGH_RISK).astype(int).to_numpy(),
        sensitive_features=compas[["race", "sex"]],
    ).by_group
    (both,) = [r for r in report.reports if r.attributes == ["race", "sex"]]
    assert len(both.groups) == len(raw)
    for row in both.groups:
        expected = raw.loc[(row.group["race"], row.group["sex"])]
        assert row.selection_rate == pytest.approx(expected.selection_rate, abs=1e-12, rel=0)
        if row.false_positive_rate is not None:
            assert row.false_positive_rate == pytest.approx(
                expected.false_positive_rate, abs=1e-12, rel=0
            )


def test_compas_verdicts_follow_the_four_fifths_rule(compas: pd.DataFrame) -> None:
    report = audit_csv(
        compas.attrs["path"], group_cols=["race"], y_pred="score_text", favourable=HIGH_RISK
    )
    (race,) = report.reports
    verdicts = {row.label: row.verdict for row in race.groups}
    # "favourable" is the high-risk label here, so the highest rate is African-American
    assert verdicts["African-American"] == "reference"
    assert verdicts["Native American"] == "insufficient_data"  # fewer than 30 people
    assert verdicts["Caucasian"] == "fail"
    caucasian = next(r for r in race.groups if r.label == "Caucasian")
    assert caucasian.impact_ratio is not None and caucasian.impact_ratio < 0.8
    assert caucasian.interval_excludes_threshold is True
    assert {f.affected_group["race"] for f in report.findings} >= {"Caucasian", "Hispanic"}


def test_unknown_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("race,decision\nA,1\n")
    with pytest.raises(AuditInputError, match="has no column 'gender'"):
        counts_from_csv(path, group_cols=["gender"], y_pred="decision")


def test_blank_group_cells_are_missing_and_blank_truth_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("g,pred,truth\nA,1,1\nA,0,\n,1,0\nB,1,0\n")
    counts = counts_from_csv(path, group_cols=["g"], y_pred="pred", y_true="truth")
    assert counts.total == 4 and counts.labelled == 3
    report = build_report(counts)
    assert report.reports[0].missing == 1
    rows = {r.label: r for r in report.reports[0].groups}
    assert rows["A"].count == 2 and rows["A"].labelled == 1
    assert rows["A"].false_positive_rate is None  # no labelled negatives in A
    assert np.isclose(rows["B"].false_positive_rate or 0, 1.0)
