"""``oversight fairness``: the bias report of a system from its database, and the same
report for a CSV of decisions that never passed the sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from fairness import AuditInputError, ReportSettings, audit_csv, render
from fairness.policy import ReferenceRule
from fairness.render import Format
from oversight.bias import BiasMonitor
from oversight.cli_options import db_option, policy_option, run, settings_from
from oversight.clock import utcnow
from oversight.database import create_engine, read_only, require_current_schema, storage_errors
from oversight.errors import ConfigurationError
from oversight.metrics import Metrics
from oversight.policy import Policy, load_policy
from oversight.schemas import SystemFairness
from oversight.tables import policies

_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)


@click.group()
def fairness() -> None:
    """Bias reports: impact ratios per group and intersection (NYC LL144, four-fifths)."""


@fairness.command("report")
@db_option
@click.option("--system", "system_id", required=True, help="The system's id in the policy")
@click.option("--decision-type", default=None, help="Only this decision type")
@policy_option
@_format_option
def report(
    db: str | None, system_id: str, decision_type: str | None, policy: Path | None, fmt: str
) -> None:
    """The report over each checked decision type's window, from the database. Uses the
    policy file when given, else the policy the server last ran with. Reads only."""
    settings = settings_from(db=db, policy=policy)

    async def build() -> SystemFairness:
        engine = create_engine(settings.db)
        try:
            with storage_errors("reading the decisions"):
                await require_current_schema(engine, settings.db)
                in_force = (
                    load_policy(settings.policy) if settings.policy else await _stored(engine)
                )
                _check_system(in_force, system_id, decision_type)
                monitor = BiasMonitor(
                    engine, in_force, metrics=Metrics(), clock=utcnow, refresh_seconds=1,
                    record_findings=False,
                )  # fmt: skip
                await monitor.refresh()
        finally:
            await engine.dispose()
        return monitor.system_fairness(system_id, decision_type)

    result = run(build)
    if fmt == "json":
        click.echo(result.model_dump_json(indent=2))
        return
    blocks: list[str] = []
    for dtype in result.decision_types:
        assert dtype.report is not None
        if fmt == "csv":
            lines = render(dtype.report, "csv").splitlines()
            header = lines[0] if not blocks else None
            body = [f"{dtype.decision_type},{line}" for line in lines[1:]]
            blocks.append("\n".join(([f"decision_type,{header}"] if header else []) + body))
            continue
        window = dtype.policy.window
        limits = " and ".join(
            text
            for text in (
                f"the last {window.decisions} decisions" if window.decisions else "",
                f"the last {window.days:g} days" if window.days else "",
            )
            if text
        )
        title = f"{system_id} / {dtype.decision_type}: {limits}"
        blocks.append(render(dtype.report, "table", title=title))
        if dtype.open_findings:
            blocks.append(f"Open findings recorded by the sidecar: {len(dtype.open_findings)}")
    click.echo("\n\n".join(blocks))


@fairness.command("audit")
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
    required=True, help="Decisions, one per row, with a header",
)  # fmt: skip
@click.option(
    "--group-cols", "group_cols", multiple=True, required=True,
    help="Protected attribute columns: --group-cols race sex, or race,sex",
)  # fmt: skip
@click.argument("more_group_cols", nargs=-1, metavar="")
@click.option("--y-pred", "y_pred", required=True, help="The decision column")
@click.option("--y-true", "y_true", default=None, help="The ground-truth column, if known")
@click.option(
    "--favourable", multiple=True, default=("1", "1.0", "true", "yes"), show_default=True,
    help="A --y-pred value that is favourable (the positive class); repeat for more",
)  # fmt: skip
@click.option(
    "--true-favourable", multiple=True, default=("1", "1.0", "true", "yes"),
    show_default=True, help="A --y-true value that is favourable; repeat for more",
)  # fmt: skip
@click.option("--min-group-size", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.8, show_default=True)  # fmt: skip
@click.option(
    "--reference", default="highest_rate", show_default=True,
    help="highest_rate, largest_group, or a named group such as race=Caucasian",
)  # fmt: skip
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.95, show_default=True)  # fmt: skip
@_format_option
def audit(
    csv_path: Path, group_cols: tuple[str, ...], more_group_cols: tuple[str, ...], y_pred: str,
    y_true: str | None, favourable: tuple[str, ...], true_favourable: tuple[str, ...],
    min_group_size: int, threshold: float, reference: str, confidence: float, fmt: str,
) -> None:  # fmt: skip
    """The bias report for a CSV export of decisions (e.g. a vendor's), as for the
    sidecar's own: selection rates, impact ratios, error rates when --y-true is given."""
    columns = [c.strip() for value in (*group_cols, *more_group_cols) for c in value.split(",")]
    settings = ReportSettings(
        threshold=threshold, min_group_size=min_group_size, confidence=confidence,
        reference=_reference(reference),
    )  # fmt: skip
    try:
        result = audit_csv(
            csv_path, group_cols=[c for c in columns if c], y_pred=y_pred, y_true=y_true,
            favourable=favourable, true_favourable=true_favourable, settings=settings,
        )  # fmt: skip
    except AuditInputError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(render(result, cast(Format, fmt), title=f"Bias audit of {csv_path.name}"))


def _reference(text: str) -> ReferenceRule:
    if text == "highest_rate":
        return "highest_rate"
    if text == "largest_group":
        return "largest_group"
    pairs = [part.split("=", 1) for part in text.split(",")]
    if not all(len(pair) == 2 and pair[0] and pair[1] for pair in pairs):
        raise click.BadParameter(
            "use highest_rate, largest_group, or column=value[,column=value]",
            param_hint="--reference",
        )
    return {name.strip(): value.strip() for name, value in pairs}


async def _stored(engine: AsyncEngine) -> Policy:
    async with read_only(engine).connect() as connection:
        row = await connection.scalar(
            select(policies.c.policy).order_by(policies.c.loaded_at.desc()).limit(1)
        )
    if row is None:
        raise ConfigurationError(
            "No policy is recorded in this database yet (the sidecar records its policy when "
            "it starts); give the file with --policy FILE."
        )
    return Policy.model_validate(row if isinstance(row, dict) else json.loads(row))


def _check_system(policy: Policy, system_id: str, decision_type: str | None) -> None:
    system = policy.systems.get(system_id)
    if system is None:
        raise ConfigurationError(
            f"The policy has no system {system_id!r}; it has {', '.join(sorted(policy.systems))}."
        )
    checked = [name for name, dtype in system.decision_types.items() if dtype.bias is not None]
    if not checked:
        raise ConfigurationError(
            f"No decision type of {system_id!r} has a bias check; add a bias block to its "
            "decision types in the policy."
        )
    if decision_type is not None and decision_type not in checked:
        raise ConfigurationError(
            f"{system_id}.{decision_type} has no bias check; checked types: {', '.join(checked)}."
        )
