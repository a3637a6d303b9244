"""`obsgen rightsize` against a real Prometheus whose TSDB holds a week of recorded usage.

The series are the seed article's pod, written as cAdvisor and kube-state-metrics export them and
backfilled with `promtool tsdb create-blocks-from openmetrics`:

- `seed-api`: two pods that live all week, CPU 0.03-0.06 cores through the day with a daily burst to
  0.09, working set 0.35-0.41 GB with a daily spike to 0.6 GB; requests 1 CPU / 2Gi, limits 2 CPU / 4Gi.
  The article's TO-BE for it is 100m / 500m CPU and 1Gi / 2Gi memory.
- `leaky-api`: the same requests, a working-set floor that grows 10% a day through each pod's life; pods
  redeployed once, two days into the window, so the newer ones are five days old at the end.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gen.spec.load import load_specs
from gen.spec.model import build_model
from gen.spec.validate import validate
from gen.tools import rightsize
from gen.tools.prometheus_api import Prometheus
from tests.live.processes import Supervisor, free_port, wait_until

DAY = 86400
STEP = 60
GB = 1e9
NAMESPACE = "exam"
SEED_PODS = ("seed-api-7c9f8-a1b2c", "seed-api-7c9f8-d3e4f")
LEAKY_OLD = ("leaky-api-5d6f7-aaaaa", "leaky-api-5d6f7-bbbbb")
LEAKY_NEW = ("leaky-api-8b9c0-ccccc", "leaky-api-8b9c0-ddddd")
ALERTED_PODS = ("alerted-api-4f5e6-eeeee", "alerted-api-4f5e6-fffff")
REQUESTS = {("requests", "cpu"): 1, ("requests", "memory"): 2 * 2**30,
            ("limits", "cpu"): 2, ("limits", "memory"): 4 * 2**30}
LEAK_PER_DAY = 0.10
DEPLOY_AT = 2 * DAY  # seconds after the window's start

SPECS = {
    "seed-api.yaml": """\
# The seed article's service, with its resources read from kube-state-metrics.
apiVersion: obsgen/v1
kind: Service
metadata:
  name: seed-api
spec:
  namespace: exam
  runtime: nodejs
  container: app
""",
    "leaky-api.yaml": """\
# yaml-language-server: $schema=../schema/obsgen-v1.schema.json
# A service whose pods leak: the resources below are the article's AS-IS.
apiVersion: obsgen/v1
kind: Service
metadata:
  name: leaky-api   # keep in step with the Deployment
spec:
  namespace: exam
  runtime: nodejs
  container: app
  resources:
    requests: {cpu: "1", memory: 2Gi}   # AS-IS, from the article
    limits:
      cpu: "2"      # CFS quota
      memory: 4Gi   # OOM line
  alerts:
    runbookBaseUrl: https://runbooks.example.com/assessments
""",
    "alerted-api.yaml": """\
apiVersion: obsgen/v1
kind: Service
metadata:
  name: alerted-api
spec:
  namespace: exam
  runtime: nodejs
  container: app
""",
    "ghost-api.yaml": """\
apiVersion: obsgen/v1
kind: Service
metadata:
  name: ghost-api
spec:
  namespace: elsewhere
  runtime: nodejs
""",
}


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _daily(t: float) -> float:
    return math.sin(2 * math.pi * t / DAY)


def seed_cpu(t: float) -> float:
    """Cores used: 0.03-0.06 through the day, a 15-minute burst to 0.09 every day at 14:00."""
    return 0.09 if (t - 14 * 3600) % DAY < 15 * 60 else 0.045 + 0.015 * _daily(t)


def seed_memory(t: float) -> float:
    """Working set: 0.38 GB +- 0.03 through the day, a GC sawtooth of 20 MB, a 10-minute spike to 0.6 GB daily."""
    if (t - 15 * 3600) % DAY < 10 * 60:
        return 0.6 * GB
    return 0.38 * GB + 0.03 * GB * _daily(t) + 0.02 * GB * ((t % 600) / 600)


def leaky_memory(age: float) -> float:
    """A floor that starts at 0.5 GB and grows 10% a day of the pod's life, plus a 40 MB GC sawtooth."""
    return 0.5 * GB * (1 + LEAK_PER_DAY * age / DAY) + 0.04 * GB * ((age % 900) / 900)


def _series(name: str, labels: str, points) -> list[str]:
    return [f"{name}{labels} {value:.12g} {t:.0f}" for t, value in points]


def openmetrics(start: float, end: float) -> str:
    times = [start + i * STEP for i in range(int((end - start) // STEP) + 1)]
    lines: list[str] = []

    def container(pod: str, cpu, memory, alive=lambda t: True) -> None:
        labels = _labels(namespace=NAMESPACE, pod=pod, container="app")
        used, cpu_points, mem_points = 0.0, [], []
        for t in (t for t in times if alive(t)):
            used += cpu(t) * STEP
            cpu_points.append((t, used))
            mem_points.append((t, memory(t)))
        lines.extend(_series("container_cpu_usage_seconds_total", labels, cpu_points))
        lines.extend(_series("container_memory_working_set_bytes", labels, mem_points))
        for (kind, resource), value in REQUESTS.items():
            unit = "core" if resource == "cpu" else "byte"
            ksm = _labels(namespace=NAMESPACE, pod=pod, container="app", resource=resource, unit=unit)
            lines.extend(_series(f"kube_pod_container_resource_{kind}", ksm,
                                 [(t, value) for t in times[::5] if alive(t)]))

    for pod in SEED_PODS:
        container(pod, seed_cpu, seed_memory)
    deploy = start + DEPLOY_AT
    for pod in LEAKY_OLD:  # started two days before the window
        container(pod, seed_cpu, lambda t: leaky_memory(t - start + 2 * DAY), lambda t: t < deploy)
    for pod in LEAKY_NEW:
        container(pod, seed_cpu, lambda t: leaky_memory(t - deploy), lambda t: t >= deploy)
    # A pod whose floor looks flat here, but whose leak alert fired for three hours on day three (as a
    # Prometheus that evaluates obsgen's rules records it in ALERTS).
    for pod in ALERTED_PODS:
        container(pod, seed_cpu, seed_memory)
    alert = _labels(alertname="PodMemoryLeakWithinPod", alertstate="firing", namespace=NAMESPACE,
                    pod=ALERTED_PODS[0], container="app", service="alerted-api", severity="warning")
    lines.extend(_series("ALERTS", alert, [(t, 1) for t in times if 3 * DAY <= t - start < 3 * DAY + 3 * 3600]))
    # promtool wants each metric family in one block: group by name, keep each series' samples in order.
    lines.sort(key=lambda line: line.split("{", 1)[0])
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """A real Prometheus over the backfilled week; the spec files; the time the data ends."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        pytest.fail("prometheus and promtool are needed (Debian package `prometheus`)")
    work = tmp_path_factory.mktemp("rightsize")
    end = (time.time() // STEP) * STEP - 2 * STEP
    start = end - 7 * DAY - 3600
    data = work / "usage.om"
    data.write_text(openmetrics(start, end))
    tsdb = work / "tsdb"
    made = subprocess.run(["nice", "promtool", "tsdb", "create-blocks-from", "openmetrics", str(data), str(tsdb)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    supervisor = Supervisor(work)
    process = supervisor.start("prometheus", [
        "prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
        "--storage.tsdb.retention.time=15d", f"--web.listen-address=127.0.0.1:{port}"])
    api = Prometheus(f"http://127.0.0.1:{port}", timeout=60)
    wait_until(api.ready, what="ready /-/ready", process=process, timeout=60)
    specs = work / "specs"
    specs.mkdir()
    for name, text in SPECS.items():
        (specs / name).write_text(text)
    documents = load_specs(specs, work)
    validate(documents)
    services = {s.name: s for s in build_model(documents)}
    yield api, services, end, specs
    supervisor.close()


def test_seed_strategy_reproduces_the_articles_to_be_within_one_rounding_step(bed):
    api, services, end, _ = bed
    rec = rightsize.recommend(api, services["seed-api"], "seed", at=end)
    usage = dict(rec.usage)
    assert usage["cpu.peak"] == pytest.approx(0.09, rel=0.02)
    assert usage["cpu.average"] == pytest.approx(0.0455, rel=0.05)
    assert usage["memory.peak"] == pytest.approx(0.6 * GB, rel=0.01)
    # AS-IS, read from kube-state-metrics.
    assert {v.field: v.current for v in rec.values} == {
        "requests.cpu": 1, "limits.cpu": 2, "requests.memory": 2 * 2**30, "limits.memory": 4 * 2**30}
    assert {v.current_source for v in rec.values} == {"kube-state-metrics"}
    got = {v.field: v.recommended for v in rec.values}
    # TO-BE of the article: 100m / 500m CPU, 1Gi / 2Gi memory; one rounding step is 50m for CPU in this range
    # and one rung of the memory ladder.
    assert abs(got["requests.cpu"] - 0.1) <= 0.05 + 1e-9
    assert abs(got["limits.cpu"] - 0.5) <= 0.05 + 1e-9
    assert _rungs_apart(got["requests.memory"], 2**30) <= 1
    assert _rungs_apart(got["limits.memory"], 2 * 2**30) <= 1
    assert (got["requests.cpu"], got["limits.cpu"]) == (0.15, 0.55)
    assert rec.leak is None


def _rungs_apart(a: float, b: float) -> int:
    rungs = rightsize.memory_rungs(max(a, b))
    return abs(rungs.index(a) - rungs.index(b))


def test_krr_strategy_follows_krrs_simple_rule(bed):
    api, services, end, _ = bed
    rec = rightsize.recommend(api, services["seed-api"], "krr", at=end)
    usage = dict(rec.usage)
    cpu_request, cpu_limit = rec.value("requests.cpu"), rec.value("limits.cpu")
    # CPU request: the 99th percentile, rounded up; no CPU limit.
    p99 = usage["cpu.p99"]
    assert cpu_request.recommended == rightsize.round_cpu(p99)
    assert p99 <= cpu_request.recommended < p99 + 0.05
    assert cpu_limit.recommended is None
    # Memory: request = limit = the week's maximum plus krr's 15% buffer, rounded up.
    peak = usage["memory.peak"]
    assert rec.value("requests.memory").recommended == rec.value("limits.memory").recommended \
        == rightsize.round_memory(1.15 * peak)
    assert "1.15 x peak memory" in rec.value("limits.memory").why


def test_a_leaking_service_is_sized_on_young_pods_and_says_so(bed):
    api, services, end, _ = bed
    rec = rightsize.recommend(api, services["leaky-api"], "seed", at=end)
    assert rec.leak is not None
    # The newer pods lived five days at 10% a day.
    assert "memory grows 5" in rec.leak.reason and "in 5 days" in rec.leak.reason, rec.leak.reason
    assert "younger than 24h" in rec.leak.basis_words
    # Their first day peaks at the floor of day one plus the sawtooth, not at the leak's 0.79 GB.
    assert rec.leak.basis == pytest.approx(max(leaky_memory(age) for age in range(0, DAY, STEP)), rel=0.02)
    assert dict(rec.usage)["memory.peak"] > 0.75 * GB
    assert rec.value("requests.memory").recommended == rightsize.round_memory(1.2 * rec.leak.basis)
    assert rec.value("requests.memory").recommended < rightsize.round_memory(1.2 * dict(rec.usage)["memory.peak"])
    text = rightsize.table([rec])
    assert "fix the leak first" in text and "sized on processes younger than 24h" in text
    # The spec states requests and limits, yet kube-state-metrics wins when it has them.
    assert rec.value("requests.memory").current_source == "kube-state-metrics"


def test_a_leak_alert_that_fired_in_the_window_makes_it_leak_aware(bed):
    api, services, end, _ = bed
    rec = rightsize.recommend(api, services["alerted-api"], "seed", at=end)
    assert rec.leak is not None
    assert rec.leak.reason == "PodMemoryLeakWithinPod fired in the last 7d"
    # Both pods lived all week: no age is known, so the window's first day stands in for a young pod.
    assert rec.leak.basis_words == "no pod started in the window; sized on its first 24h"
    first_day = max(seed_memory(t) for t in range(int(end - 7 * DAY), int(end - 6 * DAY), STEP))
    assert rec.leak.basis == pytest.approx(first_day, rel=0.01)
    # The other services' alerts do not count.
    assert rightsize.recommend(api, services["seed-api"], "seed", at=end).leak is None


def obsgen(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gen", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"})


def _one_clear_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_cli_table_markdown_json_and_yaml(bed):
    api, _, _, specs = bed
    table = obsgen(specs.parent, "rightsize", "--prometheus", api.url, "--service", "seed-api")
    assert table.returncode == 0, table.stderr
    assert "seed-api (exam/app): strategy seed, last 7d, 2 pod(s)" in table.stdout
    assert re.search(r"requests\.cpu +1 -> 150m +3 x average cpu 0\.04\d+ cores", table.stdout), table.stdout
    assert re.search(r"limits\.memory +4Gi -> 1536Mi +2 x peak memory 57\dMi", table.stdout), table.stdout
    markdown = obsgen(specs.parent, "rightsize", "--prometheus", api.url, "--service", "leaky-api",
                      "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert "| `requests.memory` | 2Gi | **768Mi** |" in markdown.stdout
    assert "fix the leak first" in markdown.stdout
    as_json = json.loads(obsgen(specs.parent, "rightsize", "--prometheus", api.url, "--service", "seed-api",
                                "--strategy", "krr", "--format", "json").stdout)
    assert as_json[0]["strategy"] == "krr" and as_json[0]["resources"]["limits.cpu"]["recommended"] is None
    assert set(as_json[0]["pods"]) == set(SEED_PODS)
    assert set(as_json[0]["pods"][SEED_PODS[0]]) == {"cpu.average", "cpu.p95", "cpu.p99", "cpu.peak",
                                                     "memory.average", "memory.p99", "memory.peak"}
    as_yaml = yaml.safe_load(obsgen(specs.parent, "rightsize", "--prometheus", api.url, "--service", "seed-api",
                                    "--format", "yaml").stdout)
    assert as_yaml == {"seed-api": {"resources": {"requests": {"cpu": "150m", "memory": "768Mi"},
                                                  "limits": {"cpu": "550m", "memory": "1536Mi"}}}}


def test_write_changes_only_the_resources_lines(bed, tmp_path):
    api, _, _, specs = bed
    (tmp_path / "specs").mkdir()
    before = SPECS["leaky-api.yaml"]
    (tmp_path / "specs" / "leaky-api.yaml").write_text(before)
    result = obsgen(tmp_path, "rightsize", "--prometheus", api.url, "--write", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    after = (tmp_path / "specs" / "leaky-api.yaml").read_text()
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    removed = [line[1:] for line in changed if line.startswith("-")]
    added = [" ".join(line[1:].split()) for line in changed if line.startswith("+")]
    # Only the three lines holding the values change; their comments stay (ruamel re-spaces them by one column).
    assert removed == ['    requests: {cpu: "1", memory: 2Gi}   # AS-IS, from the article',
                       '      cpu: "2"      # CFS quota', '      memory: 4Gi   # OOM line'], changed
    assert added == ['requests: {cpu: "150m", memory: 768Mi} # AS-IS, from the article',
                     'cpu: "550m" # CFS quota', 'memory: 1536Mi # OOM line'], changed
    assert obsgen(tmp_path, "validate").returncode == 0


def test_write_refuses_jsonnet_specs(bed, tmp_path):
    api, _, _, _ = bed
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "fleet.jsonnet").write_text(
        '[{apiVersion: "obsgen/v1", kind: "Service", metadata: {name: "seed-api"},'
        ' spec: {namespace: "exam", runtime: "nodejs", container: "app"}}]\n')
    line = _one_clear_line(obsgen(tmp_path, "rightsize", "--prometheus", api.url, "--write"))
    assert "fleet.jsonnet: --write edits YAML specs only" in line
    assert obsgen(tmp_path, "rightsize", "--prometheus", api.url).returncode == 0  # reading it is fine


def test_errors_are_one_clear_line(bed):
    api, _, _, specs = bed
    work = specs.parent
    line = _one_clear_line(obsgen(work, "rightsize", "--prometheus", f"http://127.0.0.1:{free_port()}"))
    assert "cannot reach Prometheus at http://127.0.0.1:" in line
    line = _one_clear_line(obsgen(work, "rightsize", "--prometheus", api.url, "--window", "30d"))
    assert line == "error: --window 30d is longer than this Prometheus keeps data (retention 15d); " \
                   "use --window 15d or less"
    line = _one_clear_line(obsgen(work, "rightsize", "--prometheus", api.url, "--service", "ghost-api"))
    assert line.startswith("error: ghost-api: no usage in the last 7d: nothing matches "
                           'container_cpu_usage_seconds_total{namespace="elsewhere", pod=~"ghost-api-.*", '
                           'container="ghost-api"}')


def _inlined(rules, definitions: dict[str, str]) -> dict[str, str]:
    """Each record's expression with every recorded series it reads replaced by the expression that records it
    (a range over a recorded series becomes a 1-minute subquery: the series as a rule evaluated every minute)."""
    out = dict(definitions)
    for rule in rules:
        expr = rule.expr
        for record, definition in out.items():
            pattern = re.escape(record) + r'\{service="[^"]*"\}(\[(\w+)\])?'
            expr = re.sub(pattern, lambda m, d=definition: f"({d})[{m.group(2)}:1m]" if m.group(1) else f"({d})",
                          expr)
        out[rule.record] = expr
    return out


def test_the_dashboards_recording_rules_and_the_command_agree(bed):
    from gen.domains import pod, rightsize as domain

    api, services, end, _ = bed
    service = services["seed-api"]
    pod_rules = {r.record: r.expr for g in pod.signals(service).groups for r in g.rules if hasattr(r, "record")}
    exprs = _inlined(domain.recording_rules(service), {k: pod_rules[k] for k in
                                                       (pod.RECORDS.cpu, pod.RECORDS.working_set)})
    rec = rightsize.recommend(api, service, "seed", at=end)
    for field, record in (("requests.cpu", domain.RECORDS.cpu_request), ("limits.cpu", domain.RECORDS.cpu_limit),
                          ("requests.memory", domain.RECORDS.memory_request),
                          ("limits.memory", domain.RECORDS.memory_limit)):
        result = api.query(exprs[record], end)
        assert len(result) == 1, (record, exprs[record], result)
        assert float(result[0]["value"][1]) == pytest.approx(rec.value(field).raw, rel=1e-9), field
