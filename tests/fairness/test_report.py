"""The report from counts equals fairlearn on the rows, and its edge cases say what they
are instead of passing or failing."""

from __future__ import annotations

import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from fairness import Counts, ReportSettings, build_report

Row = tuple[str, str, int, int]  # gender, age band, y_true, y_pred
rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["f", "m", "x"]),
        st.sampled_from(["young", "mid", "old"]),
        st.integers(0, 1),
        st.integers(0, 1),
    ),
    min_size=1,
    max_size=400,
)


def counts_of(rows: list[Row]) -> Counts:
    return Counts.from_rows(("gender", "age"), (((g, a), t, p) for g, a, t, p in rows))


@settings(max_examples=25, deadline=None)
@given(rows_strategy)
def test_counts_give_fairlearns_numbers_for_the_rows(rows: list[Row]) -> None:
    frame = pd.DataFrame(rows, columns=["gender", "age", "y_true", "y_pred"])
    report = build_report(counts_of(rows), ReportSettings(min_group_size=1))
    for attribute in report.reports:
        raw = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "false_positive_rate": false_positive_rate,
                "false_negative_rate": false_negative_rate,
                "true_positive_rate": true_positive_rate,
            },
            y_true=frame.y_true.to_numpy(),
            y_pred=frame.y_pred.to_numpy(),
            sensitive_features=frame[attribute.attributes],
        ).by_group.dropna(subset=["selection_rate"])  # combinations nobody is in
        assert len(attribute.groups) == len(raw)
        for row in attribute.groups:
            key = tuple(row.group[a] for a in attribute.attributes)
            expected = raw.loc[key if len(key) > 1 else key[0]]
            members = frame[(frame[attribute.attributes] == list(key)).all(axis=1)]
            assert row.count == len(members)
            assert row.selection_rate == pytest.approx(expected.selection_rate, abs=1e-12, rel=0)
            for metric, truth in (
                ("false_positive_rate", 0), ("false_negative_rate", 1), ("true_positive_rate", 1)
            ):  # fmt: skip
                value = getattr(row, metric)
                if (members.y_true == truth).any():
                    assert value == pytest.approx(expected[metric], abs=1e-12, rel=0)
                else:
                    assert value is None  # undefined, where fairlearn says 0


def test_one_group_only_is_its_own_reference() -> None:
    report = build_report(counts_of([("f", "young", 1, 1)] * 40))
    (gender, age, both) = report.reports
    assert [r.verdict for r in gender.groups] == ["reference"]
    assert report.findings == []
    assert both.label == "gender × age"


def test_all_favourable_passes_every_group() -> None:
    rows = [("f", "young", 1, 1)] * 40 + [("m", "young", 1, 1)] * 40
    (gender, *_) = build_report(counts_of(rows)).reports
    assert {r.label: (r.impact_ratio, r.verdict) for r in gender.groups} == {
        "f": (1.0, "reference") if gender.reference == "f" else (1.0, "pass"),
        "m": (1.0, "reference") if gender.reference == "m" else (1.0, "pass"),
    }


def test_nobody_favoured_is_equal_treatment_not_a_finding() -> None:
    rows = [("f", "young", 0, 0)] * 40 + [("m", "young", 0, 0)] * 40
    report = build_report(counts_of(rows))
    assert report.findings == []
    assert {r.verdict for r in report.reports[0].groups} == {"reference", "pass"}


def test_a_group_below_the_minimum_is_insufficient_data_never_pass_or_fail() -> None:
    rows = [("m", "young", 0, 1)] * 50 + [("f", "young", 0, 0)] * 29 + [("f", "old", 0, 1)]
    report = build_report(counts_of(rows), ReportSettings(min_group_size=31))
    rows_by_group = {r.label: r for r in report.reports[0].groups}
    assert rows_by_group["f"].verdict == "insufficient_data"
    assert rows_by_group["f"].interval_excludes_threshold is None
    assert rows_by_group["f"].impact_ratio == pytest.approx(1 / 30)  # shown, not judged
    assert report.findings == []


def test_no_group_large_enough_means_no_reference() -> None:
    report = build_report(counts_of([("f", "young", 0, 1), ("m", "old", 0, 0)]))
    for attribute in report.reports:
        assert attribute.reference is None
        assert {r.verdict for r in attribute.groups} == {"insufficient_data"}


def test_an_empty_window_has_no_groups() -> None:
    report = build_report(Counts(("gender", "age")))
    assert report.decisions == 0
    assert all(a.groups == [] and a.reference is None for a in report.reports)


def test_missing_attributes_are_counted_not_guessed() -> None:
    counts = counts_of([("f", "young", 0, 1)] * 40)
    counts.add((None, "young"), None, 1, 7)
    counts.add(("m", None), None, 0, 3)
    gender, age, both = build_report(counts).reports
    assert (gender.missing, age.missing, both.missing) == (7, 3, 10)
    assert sum(r.count for r in gender.groups) == 43


def test_an_unseen_value_is_a_group_of_its_own() -> None:
    rows = [("f", "young", 0, 1)] * 40 + [("m", "young", 0, 1)] * 40 + [("?", "young", 0, 0)]
    (gender, *_) = build_report(counts_of(rows)).reports
    unseen = next(r for r in gender.groups if r.label == "?")
    assert unseen.count == 1 and unseen.verdict == "insufficient_data"


def test_a_favoured_group_against_a_named_reference_is_a_finding_for_the_reference() -> None:
    rows = [("f", "young", 0, 1)] * 20 + [("f", "young", 0, 0)] * 20
    rows += [("m", "young", 0, 1)] * 38 + [("m", "young", 0, 0)] * 2
    report = build_report(counts_of(rows), ReportSettings(reference={"gender": "f"}))
    gender = report.reports[0]
    assert gender.reference == "f"
    m = next(r for r in gender.groups if r.label == "m")
    assert m.impact_ratio == pytest.approx(0.95 / 0.5) and m.verdict == "fail"
    assert m.parity_difference == pytest.approx(0.45)
    (finding,) = [f for f in report.findings if f.attributes == ["gender"]]
    assert finding.affected_group == {"gender": "f"}  # the disadvantaged one


def test_largest_group_reference() -> None:
    rows = [("f", "young", 0, 1)] * 30 + [("m", "young", 0, 1)] * 10 + [("m", "young", 0, 0)] * 90
    gender = build_report(counts_of(rows), ReportSettings(reference="largest_group")).reports[0]
    assert gender.reference == "m"
    f = next(r for r in gender.groups if r.label == "f")
    assert f.verdict == "fail" and f.impact_ratio == pytest.approx(1 / 0.1)
