"""The batch audit: the same report for decisions that never passed the sidecar, read
from a CSV file (a vendor's decision export, say)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from fairness.counts import Counts, group_value
from fairness.report import FairnessReport, ReportSettings, build_report

#: The values read as favourable (y = 1) when the caller names none.
DEFAULT_FAVOURABLE = ("1", "1.0", "true", "yes")


class AuditInputError(ValueError):
    """The CSV or the columns asked for cannot be audited; the message says why."""


def counts_from_csv(
    path: Path,
    *,
    group_cols: list[str],
    y_pred: str,
    y_true: str | None = None,
    favourable: Iterable[str] = DEFAULT_FAVOURABLE,
    true_favourable: Iterable[str] = DEFAULT_FAVOURABLE,
) -> Counts:
    """Count a CSV's rows per (group, y_true, y_pred).

    A prediction is favourable when its text is one of ``favourable`` (compared without
    case); so is ground truth with ``true_favourable``. Blank group cells are missing.
    A blank ``y_true`` cell is unknown ground truth.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"Cannot read {path}: {exc}") from exc
    wanted = [*group_cols, y_pred, *([y_true] if y_true else [])]
    absent = [c for c in wanted if c not in frame.columns]
    if absent:
        raise AuditInputError(
            f"{path} has no column {', '.join(repr(c) for c in absent)}; it has "
            f"{', '.join(frame.columns)}."
        )
    if not group_cols:
        raise AuditInputError("Name at least one group column (--group-cols).")
    yes = {v.strip().lower() for v in favourable}
    true_yes = {v.strip().lower() for v in true_favourable}
    predicted = frame[y_pred].str.strip().str.lower().isin(yes).astype(int)
    if y_true:
        truth_text = frame[y_true].str.strip()
        truth = truth_text.str.lower().isin(true_yes).astype(int).where(truth_text != "", -1)
    else:
        truth = pd.Series(-1, index=frame.index)
    table = frame[group_cols].copy()
    table["y_true"], table["y_pred"] = truth, predicted
    cells = table.groupby([*group_cols, "y_true", "y_pred"], dropna=False).size()
    counts = Counts(tuple(group_cols))
    for key, n in cells.items():
        *groups, t, p = key
        group = tuple(group_value(g) for g in groups)
        counts.add(group, None if int(t) < 0 else int(t), int(p), int(n))
    return counts


def audit_csv(
    path: Path,
    *,
    group_cols: list[str],
    y_pred: str,
    y_true: str | None = None,
    favourable: Iterable[str] = DEFAULT_FAVOURABLE,
    true_favourable: Iterable[str] = DEFAULT_FAVOURABLE,
    settings: ReportSettings | None = None,
) -> FairnessReport:
    counts = counts_from_csv(
        path, group_cols=group_cols, y_pred=y_pred, y_true=y_true, favourable=favourable,
        true_favourable=true_favourable,
    )  # fmt: skip
    return build_report(counts, settings or ReportSettings())
