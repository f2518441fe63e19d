"""The bias report: rates per group and per intersection, impact ratios to a reference
group, intervals, and a verdict per group, in the shape of an LL144 impact-ratio table.

Rates come from fairlearn's ``MetricFrame`` over the confusion cells with the counts as
sample weights, which gives the same numbers as ``MetricFrame`` over the rows. Decisions
without ground truth count for selection rates and weigh nothing in error rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate
from pydantic import BaseModel, Field

from fairness.counts import Counts
from fairness.intervals import ratio_interval, wilson_interval
from fairness.policy import ReferenceRule

Verdict = Literal["reference", "pass", "fail", "insufficient_data"]
#: Joins the names and values of an intersection, in reports and metric labels.
INTERSECTION = " × "


class GroupRow(BaseModel):
    group: dict[str, str]
    label: str
    count: int
    favourable: int
    selection_rate: float | None
    selection_rate_interval: tuple[float, float] | None
    impact_ratio: float | None = Field(
        description="Selection rate over the reference group's; None when undefined"
    )
    impact_ratio_interval: tuple[float, float] | None
    parity_difference: float | None = Field(
        description="Selection rate minus the reference group's (demographic parity)"
    )
    labelled: int
    false_positive_rate: float | None
    false_negative_rate: float | None
    true_positive_rate: float | None
    verdict: Verdict
    interval_excludes_threshold: bool | None = Field(
        description="Whether the impact ratio's interval lies wholly on one side of the "
        "nearer edge of the band; None for the reference or without enough data"
    )


class BiasFinding(BaseModel):
    """A group treated unequally, with enough data to say so."""

    attributes: list[str]
    affected_group: dict[str, str]
    compared_with: dict[str, str]
    impact_ratio: float | None
    impact_ratio_interval: tuple[float, float] | None
    interval_excludes_threshold: bool | None

    @property
    def key(self) -> tuple[str, str]:
        return (
            INTERSECTION.join(self.attributes),
            INTERSECTION.join(self.affected_group[a] for a in self.attributes),
        )


class AttributeReport(BaseModel):
    attributes: list[str]
    label: str
    missing: int = Field(description="Decisions without a value for one of the attributes")
    reference: str | None
    reference_rule: str
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None
    groups: list[GroupRow]


class FairnessReport(BaseModel):
    decisions: int
    labelled: int
    threshold: float
    min_group_size: int
    confidence: float
    reports: list[AttributeReport]
    findings: list[BiasFinding]


@dataclass(frozen=True)
class ReportSettings:
    threshold: float = 0.8
    min_group_size: int = 30
    confidence: float = 0.95
    reference: ReferenceRule = "highest_rate"


def build_report(counts: Counts, settings: ReportSettings = ReportSettings()) -> FairnessReport:
    """The report for each attribute alone and for the intersection of all of them."""
    groupings = [[name] for name in counts.attributes]
    if len(counts.attributes) > 1:
        groupings.append(list(counts.attributes))
    reports = [_attribute_report(counts, grouping, settings) for grouping in groupings]
    return FairnessReport(
        decisions=counts.total,
        labelled=counts.labelled,
        threshold=settings.threshold,
        min_group_size=settings.min_group_size,
        confidence=settings.confidence,
        reports=reports,
        findings=[f for report in reports for f in _findings(report, settings.threshold)],
    )


def _frame(counts: Counts, grouping: list[str]) -> tuple[pd.DataFrame, int]:
    """One row per cell whose grouping attributes are all known; and the missing count."""
    positions = [counts.attributes.index(name) for name in grouping]
    rows: list[tuple[Any, ...]] = []
    missing = 0
    for (group, y_true, y_pred), n in counts.cells.items():
        values = [group[i] for i in positions]
        if any(value is None for value in values):
            missing += n
            continue
        labelled = y_true is not None
        rows.append((*values, y_true if labelled else 0, y_pred, n, n if labelled else 0))
    columns = [*grouping, "y_true", "y_pred", "weight", "labelled_weight"]
    return pd.DataFrame(rows, columns=columns), missing


def _weighted_count(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.sum(sample_weight))


def _rate_among(truth: int, predicted: int) -> Any:
    """Among the people whose ground truth is ``truth``, the share predicted
    ``predicted``: the false positive, false negative and true positive rates, computed
    as fairlearn's functions do from the confusion matrix, without their per-call input
    validation (two thirds of a report's time). Undefined groups are set to None later."""

    def rate(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
        among = y_true == truth
        denominator = float(np.sum(sample_weight[among]))
        hits = float(np.sum(sample_weight[among & (y_pred == predicted)]))
        return hits / denominator if denominator else 0.0

    return rate


#: Decisions without ground truth weigh 0 in the error rates (``labelled_weight``).
_ALL_ROWS = {"count": _weighted_count, "selection_rate": selection_rate}
_LABELLED_ROWS = {
    "labelled": _weighted_count,
    "false_positive_rate": _rate_among(truth=0, predicted=1),
    "false_negative_rate": _rate_among(truth=1, predicted=0),
    "true_positive_rate": _rate_among(truth=1, predicted=1),
}


def _attribute_report(
    counts: Counts, grouping: list[str], settings: ReportSettings
) -> AttributeReport:
    frame, missing = _frame(counts, grouping)
    label = INTERSECTION.join(grouping)
    if frame.empty:
        return AttributeReport(
            attributes=grouping, label=label, missing=missing, reference=None,
            reference_rule=_rule_name(settings.reference), demographic_parity_difference=None,
            demographic_parity_ratio=None, equal_opportunity_difference=None,
            equalized_odds_difference=None, groups=[],
        )  # fmt: skip
    metrics = _by_group(frame, grouping)
    tallies = _tallies(frame, grouping)
    rows = []
    for key, values in metrics.iterrows():
        names = key if isinstance(key, tuple) else (key,)
        group = dict(zip(grouping, (str(v) for v in names), strict=True))
        tally = tallies.get(tuple(group[a] for a in grouping))
        if tally is None:  # fairlearn lists every combination of values, even empty ones
            continue
        rows.append(_group_row(group, values, tally, settings))
    reference = _reference(rows, settings)
    _judge(rows, reference, settings)
    sufficient = [r for r in rows if r.verdict != "insufficient_data"]
    rates = [r.selection_rate for r in sufficient if r.selection_rate is not None]
    tprs = [r.true_positive_rate for r in sufficient if r.true_positive_rate is not None]
    fprs = [r.false_positive_rate for r in sufficient if r.false_positive_rate is not None]
    opportunity = _spread(tprs)
    false_alarms = _spread(fprs)
    return AttributeReport(
        attributes=grouping,
        label=label,
        missing=missing,
        reference=reference.label if reference else None,
        reference_rule=_rule_name(settings.reference),
        demographic_parity_difference=_spread(rates),
        demographic_parity_ratio=(min(rates) / max(rates) if rates and max(rates) > 0 else None),
        equal_opportunity_difference=opportunity,
        equalized_odds_difference=(
            max(opportunity, false_alarms)
            if opportunity is not None and false_alarms is not None
            else None
        ),
        groups=sorted(rows, key=lambda r: (-r.count, r.label)),
    )


def _by_group(frame: pd.DataFrame, grouping: list[str]) -> pd.DataFrame:
    weight, labelled_weight = frame["weight"].to_numpy(), frame["labelled_weight"].to_numpy()
    return MetricFrame(
        metrics={**_ALL_ROWS, **_LABELLED_ROWS},
        y_true=frame["y_true"].to_numpy(),
        y_pred=frame["y_pred"].to_numpy(),
        sensitive_features=frame[grouping],
        sample_params={
            **{name: {"sample_weight": weight} for name in _ALL_ROWS},
            **{name: {"sample_weight": labelled_weight} for name in _LABELLED_ROWS},
        },
    ).by_group


@dataclass(frozen=True)
class _Tally:
    count: int
    favourable: int
    labelled: int
    negatives: int  # labelled unfavourable in truth
    positives: int  # labelled favourable in truth


def _tallies(frame: pd.DataFrame, grouping: list[str]) -> dict[tuple[str, ...], _Tally]:
    """Whole-people counts per group, for the intervals and the undefined rates."""
    width = len(grouping)
    out: dict[tuple[str, ...], list[int]] = {}
    for row in frame.itertuples(index=False, name=None):
        values = tuple(str(v) for v in row[:width])
        y_true, y_pred, n, labelled_n = (int(v) for v in row[width:])
        tally = out.setdefault(values, [0, 0, 0, 0, 0])
        tally[0] += n
        tally[1] += n * y_pred
        tally[2] += labelled_n
        tally[3] += labelled_n * (1 - y_true)
        tally[4] += labelled_n * y_true
    return {key: _Tally(*values) for key, values in out.items()}


def _group_row(
    group: dict[str, str], values: pd.Series, tally: _Tally, settings: ReportSettings
) -> GroupRow:
    def rate(name: str, denominator: int) -> float | None:
        return float(values[name]) if denominator else None

    return GroupRow(
        group=group,
        label=INTERSECTION.join(group.values()),
        count=tally.count,
        favourable=tally.favourable,
        selection_rate=rate("selection_rate", tally.count),
        selection_rate_interval=(
            wilson_interval(tally.favourable, tally.count, confidence=settings.confidence)
            if tally.count
            else None
        ),
        impact_ratio=None,
        impact_ratio_interval=None,
        parity_difference=None,
        labelled=tally.labelled,
        false_positive_rate=rate("false_positive_rate", tally.negatives),
        false_negative_rate=rate("false_negative_rate", tally.positives),
        true_positive_rate=rate("true_positive_rate", tally.positives),
        verdict="insufficient_data",
        interval_excludes_threshold=None,
    )


def _rule_name(rule: ReferenceRule) -> str:
    if isinstance(rule, dict):
        return "named: " + ", ".join(f"{k}={v}" for k, v in rule.items())
    return rule


def _reference(rows: list[GroupRow], settings: ReportSettings) -> GroupRow | None:
    candidates = [
        r for r in rows if r.count >= settings.min_group_size and r.selection_rate is not None
    ]
    if not candidates:
        return None
    rule = settings.reference
    if isinstance(rule, dict):
        named = [r for r in candidates if all(r.group.get(k, v) == v for k, v in rule.items())]
        if named:
            return max(named, key=lambda r: (r.count, r.label))
        rule = "highest_rate"  # the named group is absent or too small here
    if rule == "largest_group":
        return max(candidates, key=lambda r: (r.count, r.selection_rate or 0.0, r.label))
    return max(candidates, key=lambda r: (r.selection_rate or 0.0, r.count, r.label))


def _judge(rows: list[GroupRow], reference: GroupRow | None, settings: ReportSettings) -> None:
    """Set each row's impact ratio, its interval and its verdict."""
    low, high = settings.threshold, 1 / settings.threshold
    for row in rows:
        if reference is not None and row.selection_rate is not None:
            assert reference.selection_rate is not None
            row.parity_difference = row.selection_rate - reference.selection_rate
        if reference is None or row.count < settings.min_group_size:
            row.verdict = "insufficient_data"
            if (
                reference is not None
                and reference.selection_rate
                and row.selection_rate is not None
            ):
                row.impact_ratio = row.selection_rate / reference.selection_rate
            continue
        if row is reference:
            row.verdict, row.impact_ratio = "reference", 1.0
            continue
        assert row.selection_rate is not None and reference.selection_rate is not None
        if reference.selection_rate == 0:
            # Nobody in the reference group was favoured: equal if nobody here was either.
            row.impact_ratio = 1.0 if row.selection_rate == 0 else None
        else:
            row.impact_ratio = row.selection_rate / reference.selection_rate
        row.impact_ratio_interval = ratio_interval(
            row.favourable, row.count, reference.favourable, reference.count,
            confidence=settings.confidence,
        )  # fmt: skip
        ratio = row.impact_ratio
        row.verdict = "pass" if ratio is not None and low <= ratio <= high else "fail"
        interval = row.impact_ratio_interval
        if interval is not None:
            edge = low if ratio is not None and ratio < 1 else high
            row.interval_excludes_threshold = interval[1] < edge or interval[0] > edge


def _spread(values: list[float]) -> float | None:
    return max(values) - min(values) if values else None


def _findings(report: AttributeReport, threshold: float) -> list[BiasFinding]:
    reference = next((r for r in report.groups if r.verdict == "reference"), None)
    if reference is None:
        return []
    findings = []
    for row in report.groups:
        if row.verdict != "fail":
            continue
        favoured_here = row.impact_ratio is None or row.impact_ratio > 1 / threshold
        affected, compared = (reference, row) if favoured_here else (row, reference)
        findings.append(
            BiasFinding(
                attributes=report.attributes,
                affected_group=affected.group,
                compared_with=compared.group,
                impact_ratio=row.impact_ratio,
                impact_ratio_interval=row.impact_ratio_interval,
                interval_excludes_threshold=row.interval_excludes_threshold,
            )
        )
    return findings
