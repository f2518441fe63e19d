"""``oversight intensity``: the per-rule report of a system from its database, and a
check of a roster export that never passed the sidecar."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import timedelta
from pathlib import Path

import click

from oversight.cli_options import db_option, policy_option, run, settings_from
from oversight.clock import utcnow
from oversight.database import create_engine, require_current_schema, storage_errors
from oversight.errors import ConfigurationError, InvalidRequest
from oversight.intensity.profile import DEFAULT_PROFILE, Profile, resolve_profiles
from oversight.intensity.report import IntensityReport, build_intensity_report
from oversight.intensity.roster import RosterResult, check_roster
from oversight.policy import load_policy


@click.group()
def intensity() -> None:
    """Work-intensity checks: working time, rest, night work, roster notice, pace."""


@intensity.command("report")
@db_option
@click.option("--system", "system_id", required=True, help="The system's id in the policy")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Only findings of the last N days (default: all)")  # fmt: skip
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many of the most affected workers to list")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
def report(db: str | None, system_id: str, days: float | None, top: int, fmt: str) -> None:
    """Findings per rule and the workers (pseudonyms) most affected. Reads only."""
    settings = settings_from(db=db)

    async def build() -> IntensityReport:
        engine = create_engine(settings.db)
        try:
            with storage_errors("reading the intensity findings"):
                await require_current_schema(engine, settings.db)
                since = None if days is None else utcnow() - timedelta(days=days)
                return await build_intensity_report(engine, system_id, since=since, top=top)
        finally:
            await engine.dispose()

    result = run(build)
    if fmt == "json":
        click.echo(result.model_dump_json(indent=2))
        return
    period = "all recorded" if result.since is None else f"since {result.since:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"Intensity findings of {system_id} ({period}): {result.findings}, for "
        f"{result.workers_with_findings} of {result.workers_assigned} workers assigned.",
    ]
    if not result.rules:
        lines.append("No rule fired.")
    else:
        lines += ["", f"{'rule':<26} {'findings':>8} {'workers':>8} {'held/blocked':>12}"]
        lines += [
            f"{r.rule:<26} {r.findings:>8} {r.workers:>8} {r.held_or_blocked:>12}"
            for r in result.rules
        ]
        lines += ["", "Most affected workers (pseudonyms):"]
        lines += [
            f"  {w.worker_ref[:16]}  {w.findings:>5}  {', '.join(w.rules)}"
            for w in result.most_affected
        ]
    click.echo("\n".join(lines))


@intensity.command("check")
@click.option("--roster", "roster_path", required=True,
              type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="CSV: worker_ref, start, end; breaks, on_call, published_at")  # fmt: skip
@click.option("--profile", "profile_name", default=DEFAULT_PROFILE, show_default=True,
              help="The rule profile: built in, or one of the policy file's")  # fmt: skip
@policy_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)  # fmt: skip
@click.option("--fail-on-violation", is_flag=True,
              help="Exit with status 1 when any rule is violated")  # fmt: skip
def check(
    roster_path: Path, profile_name: str, policy: Path | None, fmt: str, fail_on_violation: bool
) -> None:
    """Check a roster export against a rule profile, without the sidecar."""
    profile = _profile(profile_name, policy)
    try:
        result = check_roster(roster_path, profile)
    except InvalidRequest as exc:
        raise click.UsageError(exc.message) from exc
    click.echo(_render(result, fmt, profile_name, roster_path))
    if fail_on_violation and result.violations:
        sys.exit(1)


def _profile(name: str, policy: Path | None) -> Profile:
    try:
        profiles = load_policy(policy).profiles if policy else resolve_profiles({})
    except ConfigurationError as exc:
        raise click.UsageError(exc.message) from exc
    if name not in profiles:
        raise click.BadParameter(
            f"unknown profile {name!r}; known: {', '.join(sorted(profiles))}",
            param_hint="--profile",
        )
    return profiles[name]


def _render(result: RosterResult, fmt: str, profile_name: str, path: Path) -> str:
    rows = [
        {"worker_ref": v.worker_ref, "rule": v.rule, "severity": v.severity,
         "message": v.message, "data": v.data}
        for v in result.violations
    ]  # fmt: skip
    counts: dict[str, int] = {}
    for v in result.violations:
        counts[v.rule] = counts.get(v.rule, 0) + 1
    if fmt == "json":
        return json.dumps(
            {
                "roster": str(path),
                "profile": profile_name,
                "shifts": result.shifts,
                "workers": result.workers,
                "roster_notice_checked": result.notice_checked,
                "rules": counts,
                "violations": rows,
            },
            indent=2,
        )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, ["worker_ref", "rule", "severity", "message"],
                                extrasaction="ignore", lineterminator="\n")  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    lines = [
        f"{path.name}: {result.shifts} shifts of {result.workers} workers checked against "
        f"{profile_name}; {len(result.violations)} violations."
    ]
    if not result.notice_checked:
        lines.append("No published_at column: the roster-notice rule was not checked.")
    if counts:
        lines += ["", f"{'rule':<26} {'violations':>10}"]
        lines += [f"{rule:<26} {n:>10}" for rule, n in sorted(counts.items(), key=lambda x: -x[1])]
        lines += ["", *(f"[{v.severity}] {v.rule}: {v.message}" for v in result.violations)]
    return "\n".join(lines)
