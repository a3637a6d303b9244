"""Synthetic fleets for `make bench`: N service specs that vary the way a platform team's services do.

Each service is a pure function of its index, so a fleet of 1,000 is the same on every run and machine.
The variations cycle with co-prime periods, so neighbouring services differ in several ways at once:
team and namespace, with or without job queues (each exporter convention, one or two queues), label
conventions of older clusters, explicit resources or kube-state-metrics, tuned thresholds and windows,
switched-off alerts, extra alert labels and dashboard tags.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEAMS = ("assessments", "messaging", "analytics", "payments", "identity", "search", "platform", "")
LAG_THRESHOLDS = ("200ms", "100ms", "500ms", "1s", "250ms")
MEMORY_SHARES = ("90%", "85%", "95%")
# (requests, limits); None: read from kube-state-metrics.
RESOURCES = (None, ({"cpu": "500m", "memory": "512Mi"}, {"cpu": "1", "memory": "1Gi"}),
             ({"cpu": "1", "memory": "2Gi"}, {"cpu": "2", "memory": "4Gi"}), (None, {"memory": "768Mi"}))
# Label conventions of the app's own metrics: (namespaceLabel, podLabel, metricPrefix, matchers).
CONVENTIONS = (("namespace", "pod", "", {}), ("kubernetes_namespace", "kubernetes_pod_name", "", {}),
               ("namespace", "pod", "app_", {"env": "prod"}), ("namespace", "pod", "", {"cluster": "eu-1"}))

CUSTOM_MAPPING = {
    "queueLabel": "queue_name",
    "waiting": {"metric": "jobs_in_queue", "matchers": {"state": "waiting"}},
    "active": {"metric": "jobs_in_queue", "matchers": {"state": "active"}},
    "delayed": {"metric": "jobs_in_queue", "matchers": {"state": "delayed"}},
    "failedSet": {"metric": "jobs_in_queue", "matchers": {"state": "failed"}},
    "completed": {"metric": "jobs_finished_total", "matchers": {"outcome": "completed"}},
    "failed": {"metric": "jobs_finished_total", "matchers": {"outcome": "failed"}},
    "retried": {"metric": "job_retries_total"},
    "duration": {"metric": "job_duration_seconds", "type": "histogram", "unit": "seconds"},
}


def _queue(i: int, n: int) -> dict[str, Any]:
    name = ("grading", "email", "push", "exports", "webhooks", "thumbnails")[(i + n) % 6]
    kind = (i // 2 + n) % 4
    if kind == 0:
        queue: dict[str, Any] = {"name": name, "exporter": "bullmq"}
    elif kind == 1:
        queue = {"name": name, "exporter": "bull-exporter", "job": "bull-exporter", "prefix": "bull"}
    elif kind == 2:
        queue = {"name": name, "exporter": "bull-prom"}
    else:
        queue = {"name": name, "exporter": "custom", "mapping": CUSTOM_MAPPING}
    if i % 5 == 0:
        queue["alerts"] = {"stuck": {"window": ("5m", "1h", "20m")[i % 3]},
                           "drainTime": {"threshold": ("10m", "4h", "2h")[i % 3]}}
    if i % 7 == 3:
        queue.setdefault("alerts", {})["backlogGrowing"] = {"window": "2h", "minGrowth": 20 + i % 50}
    return queue


def service_spec(i: int) -> dict[str, Any]:
    """The i-th service of the fleet."""
    name = f"svc-{i:04d}"
    team = TEAMS[i % len(TEAMS)]
    namespace_label, pod_label, prefix, matchers = CONVENTIONS[i % len(CONVENTIONS)]
    spec: dict[str, Any] = {"namespace": f"ns-{i % 53:02d}", "runtime": "nodejs"}
    if i % 3:
        spec["container"] = "app"
        spec["selector"] = {"job": name}
    if namespace_label != "namespace" or matchers:
        spec.setdefault("selector", {}).update(
            {"namespaceLabel": namespace_label, "podLabel": pod_label, "matchers": matchers})
    if prefix:
        spec["nodejs"] = {"metricPrefix": prefix}
    resources = RESOURCES[i % len(RESOURCES)]
    if resources:
        requests, limits = resources
        spec["resources"] = {**({"requests": requests} if requests else {}), "limits": limits}
    alerts: dict[str, Any] = {
        "runbookBaseUrl": f"https://runbooks.example.com/{team or 'platform'}",
        "eventLoopLag": {"threshold": LAG_THRESHOLDS[i % len(LAG_THRESHOLDS)]},
        "memoryNearLimit": {"threshold": MEMORY_SHARES[i % len(MEMORY_SHARES)]},
    }
    if i % 4 == 1:
        alerts["labels"] = {"env": "production", "tier": str(1 + i % 3)}
    if i % 9 == 4:
        alerts["heapLeak"] = {"enabled": False}
    if i % 11 == 6:
        alerts["restarts"] = {"threshold": 5, "window": "2h"}
    spec["alerts"] = alerts
    if i % 6 == 2:
        spec["dashboard"] = {"tags": ["tier-1"], "timeRange": "2d"}
    queues = (0, 1, 0, 2, 1)[i % 5]
    if queues:
        spec["queues"] = [_queue(i, n) for n in range(queues)]
    metadata = {"name": name, **({"team": team} if team else {}),
                "description": f"Synthetic service {i} of the bench fleet."}
    return {"apiVersion": "obsgen/v1", "kind": "Service", "metadata": metadata, "spec": spec}


def write_fleet(spec_dir: Path, count: int) -> list[Path]:
    """Write `count` specs into `spec_dir` (created), one file per service."""
    spec_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = spec_dir / f"svc-{i:04d}.yaml"
        path.write_text(yaml.safe_dump(service_spec(i), sort_keys=False))
        paths.append(path)
    return paths
