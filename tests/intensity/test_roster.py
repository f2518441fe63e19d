"""``oversight intensity check --roster FILE.csv``: a roster export checked without the
sidecar, and errors that name the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from oversight.cli import main

HEADER = "worker_ref,start,end,breaks,on_call,published_at\n"
ROSTER = HEADER + (
    # anna: a late shift, then 9 h 30 m rest (the one shortening allowed), then a 13 h day
    "anna,2026-03-02T14:00,2026-03-02T22:30,18:00-18:30,false,2026-02-01T09:00\n"
    "anna,2026-03-03T08:00,2026-03-03T21:00,12:00/12:45,false,2026-02-01T09:00\n"
    # ben: a shift published ten days ahead; an on-call shift five days ahead
    "ben,2026-03-02T08:00+01:00,2026-03-02T16:00+01:00,12:00-12:30,no,2026-02-20T09:00\n"
    "ben,2026-03-04T08:00,2026-03-04T12:00,,yes,2026-02-27T08:00\n"
)


def check(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["intensity", "check", "--roster", str(path), *args])
    return result.exit_code, result.output


def test_a_roster_with_known_violations(tmp_path: Path) -> None:
    code, output = check(tmp_path, ROSTER, "--format", "json")
    assert code == 0, output
    report = json.loads(output)
    assert report["shifts"] == 4 and report["workers"] == 2
    assert report["rules"] == {"shift_length": 1, "roster_notice": 1}
    found = {(v["worker_ref"], v["rule"]) for v in report["violations"]}
    assert found == {("anna", "shift_length"), ("ben", "roster_notice")}


def test_table_and_csv_output_and_the_exit_status(tmp_path: Path) -> None:
    code, output = check(tmp_path, ROSTER)
    assert code == 0
    assert "4 shifts of 2 workers checked against nl-atw; 2 violations" in output
    assert "shift 13h > 12h" in output
    code, output = check(tmp_path, ROSTER, "--format", "csv")
    assert output.splitlines()[0] == "worker_ref,rule,severity,message"
    assert len(output.splitlines()) == 3
    code, _ = check(tmp_path, ROSTER, "--fail-on-violation")
    assert code == 1
    clean = HEADER + "anna,2026-03-02T08:00,2026-03-02T12:00,,false,2026-01-01T09:00\n"
    assert check(tmp_path, clean, "--fail-on-violation")[0] == 0


def test_without_published_at_the_notice_rule_is_skipped_and_said(tmp_path: Path) -> None:
    text = "worker,start,end,break_minutes\nanna,2026-03-02T08:00,2026-03-02T17:00,45\n"
    code, output = check(tmp_path, text)
    assert code == 0
    assert "0 violations" in output
    assert "roster-notice rule was not checked" in output


def test_a_custom_profile_from_a_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        """
systems:
  planner:
    purpose: "Plans shifts"
    risk_class: high
    decision_types: {assign: {category: scheduling}}
intensity_profiles:
  short-days:
    extends: nl-atw
    rules: {shift_length: {max_hours: 8}}
""",
        encoding="utf-8",
    )
    text = HEADER + "anna,2026-03-02T08:00,2026-03-02T17:00,12:00-12:45,false,\n"
    code, output = check(tmp_path, text, "--policy", str(policy), "--profile", "short-days")
    assert code == 0, output
    assert "shift 9h > 8h" in output
    code, output = check(tmp_path, text, "--profile", "short-days")
    assert code == 2 and "unknown profile 'short-days'" in output


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("who,start,end\n", "the header lacks worker_ref"),
        ("worker_ref,start\n", "the header lacks end"),
        (
            HEADER + "anna,tomorrow,2026-03-02T16:00,,,\n",
            "line 2, column start: 'tomorrow' is not a time",
        ),
        (HEADER + "anna,2026-03-02T16:00,2026-03-02T08:00,,,\n", "line 2: the shift ends"),
        (HEADER + ",2026-03-02T08:00,2026-03-02T16:00,,,\n", "line 2: worker_ref is empty"),
        (HEADER + "anna,2026-03-02T08:00,2026-03-02T16:00,07:00-07:30,,\n", "outside the shift"),
        (HEADER + "anna,2026-03-02T08:00,2026-03-02T16:00,,maybe,\n", "column on_call"),
    ],
)
def test_errors_name_the_line_and_column(tmp_path: Path, text: str, problem: str) -> None:
    code, output = check(tmp_path, text)
    assert code == 2
    assert problem in output and "roster.csv" in output
