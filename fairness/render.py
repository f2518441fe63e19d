"""A report as a table for people, JSON for programs, or CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fairness.report import FairnessReport, GroupRow

Format = Literal["table", "json", "csv"]
CSV_COLUMNS = [
    "attributes", "group", "count", "favourable", "selection_rate", "selection_rate_low",
    "selection_rate_high", "impact_ratio", "impact_ratio_low", "impact_ratio_high",
    "parity_difference",
    "labelled", "false_positive_rate", "false_negative_rate", "true_positive_rate", "verdict",
    "interval_excludes_threshold",
]  # fmt: skip


def render(report: FairnessReport, fmt: Format, *, title: str = "") -> str:
    if fmt == "json":
        return report.model_dump_json(indent=2)
    if fmt == "csv":
        return _csv(report)
    return _table(report, title)


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _interval(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def _table(report: FairnessReport, title: str) -> str:
    lines = [
        title or "Bias report",
        f"{report.decisions} decisions ({report.labelled} with ground truth); impact ratio "
        f"band {report.threshold:g} to {1 / report.threshold:.3g}; groups under "
        f"{report.min_group_size} are insufficient_data; {report.confidence:.0%} intervals.",
    ]
    headers = ["group", "count", "selected", "rate", "rate interval", "impact ratio",
               "ratio interval", "FPR", "FNR", "verdict"]  # fmt: skip
    for attribute in report.reports:
        lines += [
            "",
            f"{attribute.label}: reference {attribute.reference or '—'} "
            f"({attribute.reference_rule}); missing {attribute.missing}; demographic parity "
            f"difference {_number(attribute.demographic_parity_difference)}, ratio "
            f"{_number(attribute.demographic_parity_ratio)}; equalized odds difference "
            f"{_number(attribute.equalized_odds_difference)}",
        ]
        rows = [headers] + [_table_row(row) for row in attribute.groups]
        widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
        for r in rows:
            lines.append(
                "  ".join(
                    cell.ljust(w) if i == 0 else cell.rjust(w)
                    for i, (cell, w) in enumerate(zip(r, widths, strict=True))
                ).rstrip()
            )
    lines.append("")
    if report.findings:
        lines.append(f"Findings: {len(report.findings)}")
        for f in report.findings:
            affected = ", ".join(f"{k}={v}" for k, v in f.affected_group.items())
            compared = ", ".join(f"{k}={v}" for k, v in f.compared_with.items())
            sure = (
                "the interval excludes the threshold"
                if f.interval_excludes_threshold
                else ("the interval does not exclude the threshold")
            )
            lines.append(
                f"  {affected} against {compared}: impact ratio {_number(f.impact_ratio)} "
                f"{_interval(f.impact_ratio_interval)}; {sure}"
            )
    else:
        lines.append("Findings: none")
    return "\n".join(lines)


def _table_row(row: GroupRow) -> list[str]:
    return [
        row.label, str(row.count), str(row.favourable), _number(row.selection_rate),
        _interval(row.selection_rate_interval), _number(row.impact_ratio),
        _interval(row.impact_ratio_interval), _number(row.false_positive_rate),
        _number(row.false_negative_rate), row.verdict,
    ]  # fmt: skip


def _csv(report: FairnessReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for attribute in report.reports:
        for row in attribute.groups:
            low_high = row.selection_rate_interval or (None, None)
            ratio_low_high = row.impact_ratio_interval or (None, None)
            writer.writerow(
                [
                    attribute.label, row.label, row.count, row.favourable,
                    _raw(row.selection_rate), _raw(low_high[0]), _raw(low_high[1]),
                    _raw(row.impact_ratio), _raw(ratio_low_high[0]), _raw(ratio_low_high[1]),
                    _raw(row.parity_difference),
                    row.labelled, _raw(row.false_positive_rate), _raw(row.false_negative_rate),
                    _raw(row.true_positive_rate), row.verdict,
                    "" if row.interval_excludes_threshold is None
                    else str(row.interval_excludes_threshold).lower(),
                ]
            )  # fmt: skip
    return out.getvalue()


def _raw(value: float | None) -> str:
    return "" if value is None else repr(value)
