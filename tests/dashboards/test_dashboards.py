"""The Grafana dashboards and the alert rules, checked offline: every dashboard parses
with unique panel ids and templated datasources, every expression is valid PromQL and
names only metrics a running sidecar exports, and the alert rules pass promtool's
checks and their unit tests."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.dashboards.tools import tool

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "dashboards" / "grafana").glob("*.json"))
RULES = ROOT / "dashboards" / "prometheus" / "oversight-alerts.yml"
RULE_TESTS = ROOT / "dashboards" / "prometheus" / "oversight-alerts.test.yml"
#: What Grafana fills in before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$system": ".*", "${datasource}": "x"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "by", "without", "rate", "increase", "histogram_quantile",
    "and", "or", "unless", "offset", "le", "up", "bool", "count",
}  # fmt: skip


def expressions() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                found.append((f"{path.name} panel {panel['id']}", target["expr"]))
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            found.append((f"{RULES.name} {rule['alert']}", rule["expr"]))
    return found


def test_there_are_the_four_dashboards() -> None:
    assert [p.stem for p in DASHBOARDS] == [
        "complaints", "fairness-intensity", "overview", "reviews",
    ]  # fmt: skip


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_parses_with_unique_ids_and_templated_datasources(path: Path) -> None:
    board: dict[str, Any] = json.loads(path.read_text())
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), f"panel ids repeat in {path.name}"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    for box in [p["gridPos"] for p in board["panels"]]:
        assert box["x"] >= 0 and box["x"] + box["w"] <= 24


def test_every_expression_is_valid_promql(tmp_path: Path) -> None:
    promtool = tool("promtool", "apt-get install prometheus")
    rules = {
        "groups": [
            {
                "name": "expressions",
                "rules": [
                    {"record": f"check:expression_{i}", "expr": substitute(expr)}
                    for i, (_, expr) in enumerate(expressions())
                ],
            }
        ]
    }
    path = tmp_path / "expressions.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    names = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", without_ranges))
    grouped = set()
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", without_ranges):
        grouped |= {label.strip() for label in clause.split(",")}
    return names - PROMQL_WORDS - grouped


def exported(name: str, families: set[str]) -> bool:
    """``families`` as the scrape's TYPE lines name them (counters with ``_total``)."""
    bases = {f.removesuffix("_total") for f in families}
    for suffix in ("_bucket", "_sum", "_count", "_total", "_created", ""):
        if name.endswith(suffix) and name.removesuffix(suffix) in bases:
            return True
    return False


def test_expressions_name_only_metrics_the_sidecar_exports(app_client: TestClient) -> None:
    scrape = app_client.get("/metrics").text
    families = set(re.findall(r"^# TYPE (\S+) ", scrape, re.M))
    assert "oversight_decisions_total" in families
    missing = {
        (where, name)
        for where, expr in expressions()
        for name in metric_names(substitute(expr))
        if name != "up" and not exported(name, families)
    }
    assert not missing, f"not exported by the sidecar: {sorted(missing)}"


def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    promtool = tool("promtool", "apt-get install prometheus")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        cwd=RULE_TESTS.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tested_alerts = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    assert alerts == tested_alerts, "every alert has a unit test"
