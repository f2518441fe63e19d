"""Bias checks: the report over a window of 1,000,000 decisions, against fairlearn on the
raw rows, and what keeping the counts costs per decision.

Issue 5's target: at most 100 ms per recomputation for a window of 1,000,000 decisions
with 2 protected attributes (gender × age band = 15 intersections); fairlearn on the raw
rows is the baseline, measured in the same run.

    .venv/bin/python bench/bias.py                      # 1,000,000 decisions
    .venv/bin/python bench/bias.py -n 200000 --repeats 3

What it measures, in one process:

1. ``raw``: fairlearn ``MetricFrame`` over the rows (selection rate, FPR, FNR, TPR; the
   three groupings gender, age band and their intersection), as a batch audit without
   counts would do.
2. ``report``: ``fairness.build_report`` over the window's counts (the same numbers;
   checked here to 1e-12 against ``raw``).
3. ``window``: ``Window.add`` for every decision (the counts kept as decisions arrive and
   leave), in µs per decision, and ``Window.label`` for ground truth arriving later.
4. ``monitor``: ``BiasMonitor.refresh`` taking in decisions recorded in a SQLite database
   (the database read, the grouping and the window), in µs per decision; it is what each
   sidecar replica spends per decision to keep its bias checks current.

Medians of ``--repeats``; the machine is shared, so the ratio to ``raw`` is the figure to
compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from common import machine_facts, median, wait_quiet  # noqa: E402

from fairness import Counts, Window, build_report  # noqa: E402

GENDERS = ["female", "male", "non-binary"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55+"]


def decisions(n: int, seed: int) -> pd.DataFrame:
    """n decisions: selection rates that differ by group, ground truth for half."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(len(GENDERS), size=n, p=[0.45, 0.5, 0.05])
    age = rng.choice(len(AGE_BANDS), size=n)
    rate = 0.45 - 0.12 * (gender == 0) - 0.03 * age
    y_pred = (rng.random(n) < rate).astype(int)
    y_true = np.where(rng.random(n) < 0.5, (rng.random(n) < 0.4).astype(int), -1)
    return pd.DataFrame(
        {
            "gender": np.array(GENDERS)[gender],
            "age_band": np.array(AGE_BANDS)[age],
            "y_pred": y_pred,
            "y_true": y_true,
        }
    )


def raw_fairlearn(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    out = {}
    labelled = frame[frame.y_true >= 0]
    for grouping in (["gender"], ["age_band"], ["gender", "age_band"]):
        selection = MetricFrame(
            metrics={"selection_rate": selection_rate},
            y_true=frame.y_pred.to_numpy(),
            y_pred=frame.y_pred.to_numpy(),
            sensitive_features=frame[grouping],
        ).by_group
        errors = MetricFrame(
            metrics={
                "false_positive_rate": false_positive_rate,
                "false_negative_rate": false_negative_rate,
                "true_positive_rate": true_positive_rate,
            },
            y_true=labelled.y_true.to_numpy(),
            y_pred=labelled.y_pred.to_numpy(),
            sensitive_features=labelled[grouping],
        ).by_group
        out[" × ".join(grouping)] = selection.join(errors)
    return out


def fill_window(frame: pd.DataFrame) -> tuple[Window, float, float]:
    """Every decision into a window as big as the data, then ground truth for the
    labelled half; returns the window and µs per add and per label."""
    window = Window(("gender", "age_band"), max_decisions=len(frame), max_age_seconds=None)
    groups = list(zip(frame.gender, frame.age_band, strict=True))
    predictions = frame.y_pred.tolist()
    started = time.perf_counter()
    for seq, (group, y_pred) in enumerate(zip(groups, predictions, strict=True), start=1):
        window.add(seq, float(seq), group, y_pred)
    add_us = (time.perf_counter() - started) / len(frame) * 1e6
    labelled = [
        (seq, groups[seq - 1], predictions[seq - 1], truth)
        for seq, truth in enumerate(frame.y_true.tolist(), start=1)
        if truth >= 0
    ]
    started = time.perf_counter()
    for seq, group, y_pred, truth in labelled:
        window.label(seq, group, y_pred, truth)
    label_us = (time.perf_counter() - started) / max(1, len(labelled)) * 1e6
    return window, add_us, label_us


def check_equal(counts: Counts, raw: dict[str, pd.DataFrame]) -> float:
    """The largest difference between the report and fairlearn on the rows."""
    report = build_report(counts)
    worst = 0.0
    for attribute in report.reports:
        expected = raw[attribute.label]
        for row in attribute.groups:
            key = tuple(row.group[a] for a in attribute.attributes)
            want = expected.loc[key if len(key) > 1 else key[0]]
            for metric in ("selection_rate", "false_positive_rate", "false_negative_rate"):
                got = getattr(row, metric)
                if got is not None:
                    worst = max(worst, abs(got - float(want[metric])))
    return worst


def monitor_cost(n: int) -> dict[str, float]:
    """µs per decision for a BiasMonitor to take in n recorded decisions (SQLite)."""
    from oversight.bias import BiasMonitor
    from oversight.database import create_engine
    from oversight.metrics import Metrics
    from oversight.policy import parse_policy
    from oversight.recorder import DecisionRecorder
    from oversight.schemas import DecisionIn
    from oversight.service import Oversight
    from oversight.settings import Settings

    policy = parse_policy(
        """
systems:
  screening:
    purpose: "Benchmark"
    risk_class: high
    decision_types:
      shortlist:
        category: hiring
        impact: low
        bias:
          favourable: [yes]
          attributes: [gender, age_band]
          window: {decisions: 1000000}
"""
    )
    frame = decisions(n, seed=11)

    async def run() -> dict[str, float]:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/bench.db"
            settings = Settings(db=url, subject_key="s", receipt_key="r")
            async with Oversight.open(settings, policy=policy) as oversight:
                recorder: DecisionRecorder = oversight.recorder
                batch = []
                for i, row in enumerate(frame.itertuples(index=False)):
                    decision = DecisionIn(
                        system_id="screening", decision_type="shortlist", subject_id=f"s{i}",
                        outcome="yes" if row.y_pred else "no",
                        protected={"gender": row.gender, "age_band": row.age_band},
                        explanation={"summary": "bench"},
                    )  # fmt: skip
                    batch.append(oversight.prepare(decision, submitted_by="bench"))
                    if len(batch) == 1000:
                        await recorder.record_many(batch)
                        batch = []
                if batch:
                    await recorder.record_many(batch)
            engine = create_engine(url)
            try:
                monitor = BiasMonitor(
                    engine, policy, metrics=Metrics(),
                    clock=lambda: datetime.now(UTC) + timedelta(seconds=1),
                    refresh_seconds=3600, record_findings=False,
                )  # fmt: skip
                started = time.perf_counter()
                await monitor.refresh()
                seconds = time.perf_counter() - started
                check = monitor.checks[("screening", "shortlist")]
                assert check.window.counts.total == n, check.window.counts.total
            finally:
                await engine.dispose()
        return {"decisions": n, "seconds": seconds, "us_per_decision": seconds / n * 1e6}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="decisions in the window")
    parser.add_argument("--repeats", type=int, default=5, help="report recomputations timed")
    parser.add_argument("--raw-repeats", type=int, default=3, help="raw fairlearn runs timed")
    parser.add_argument("--monitor-n", type=int, default=100_000,
                        help="decisions recorded in SQLite for the monitor's cost")  # fmt: skip
    parser.add_argument("--quiet-wait", type=float, default=120.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    facts = machine_facts()
    print("machine:", json.dumps(facts), flush=True)
    print(f"started {datetime.now().isoformat(timespec='seconds')}", flush=True)
    background = wait_quiet(max_wait=args.quiet_wait)
    frame = decisions(args.n, seed=1)
    print(f"{len(frame):,} decisions, {(frame.y_true >= 0).sum():,} with ground truth; "
          f"background {background:.2f} cores", flush=True)  # fmt: skip

    raw_seconds = []
    for _ in range(args.raw_repeats):
        started = time.perf_counter()
        raw = raw_fairlearn(frame)
        raw_seconds.append(time.perf_counter() - started)
    print(f"raw fairlearn on the rows: {median(raw_seconds):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in raw_seconds)})", flush=True)  # fmt: skip

    window, add_us, label_us = fill_window(frame)
    print(f"window: {add_us:.2f} µs per decision added, {label_us:.2f} µs per label; "
          f"{len(window.counts.cells)} cells", flush=True)  # fmt: skip

    report_ms = []
    for _ in range(args.repeats):
        counts = window.counts.copy()
        started = time.perf_counter()
        build_report(counts)
        report_ms.append((time.perf_counter() - started) * 1000)
    worst = check_equal(window.counts, raw)
    print(f"report from counts: {median(report_ms):.1f} ms "
          f"({', '.join(f'{m:.1f}' for m in report_ms)}); largest difference to raw "
          f"{worst:.2e}; {median(raw_seconds) * 1000 / median(report_ms):,.0f}x faster",
          flush=True)  # fmt: skip

    monitor = monitor_cost(args.monitor_n)
    print(f"monitor: {monitor['decisions']:,} recorded decisions taken in from SQLite in "
          f"{monitor['seconds']:.2f} s = {monitor['us_per_decision']:.1f} µs per decision",
          flush=True)  # fmt: skip

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "facts": facts, "n": args.n, "raw_seconds": raw_seconds,
                    "report_ms": report_ms, "max_difference": worst, "window_add_us": add_us,
                    "window_label_us": label_us, "monitor": monitor, "background": background,
                },
                indent=2,
            )
        )  # fmt: skip


if __name__ == "__main__":
    main()
