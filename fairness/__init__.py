"""Bias checks over decisions: confusion counts in, rates, impact ratios and verdicts out.

Standalone: it imports neither ``oversight`` nor ``adapters``, so it serves the live
sidecar's windows and a batch audit of any CSV alike (DESIGN.md, 'Dependency direction').
"""

from fairness.counts import Counts, Group, group_of, group_value
from fairness.csv_audit import AuditInputError, audit_csv, counts_from_csv
from fairness.intervals import ratio_interval, wilson_interval
from fairness.policy import BiasPolicy, BiasWindow, ScoreThreshold
from fairness.render import render
from fairness.report import (
    INTERSECTION,
    AttributeReport,
    BiasFinding,
    FairnessReport,
    GroupRow,
    ReportSettings,
    build_report,
)
from fairness.window import Window

__all__ = [
    "INTERSECTION",
    "AttributeReport",
    "AuditInputError",
    "BiasFinding",
    "BiasPolicy",
    "BiasWindow",
    "Counts",
    "FairnessReport",
    "Group",
    "GroupRow",
    "ReportSettings",
    "ScoreThreshold",
    "Window",
    "audit_csv",
    "build_report",
    "counts_from_csv",
    "group_of",
    "group_value",
    "ratio_interval",
    "render",
    "wilson_interval",
]
