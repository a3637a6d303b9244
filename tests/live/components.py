"""The live test bed's components: installing them when missing, configuring and starting them.

Redis (Debian's redis-server), one Node.js app process per mode (tests/live/app, npm packages from
the lock file) and Prometheus (Debian's prometheus) scraping them every second and evaluating the
rules obsgen generated for tests/live/specs. All on 127.0.0.1, on free ports.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from gen.tools.prometheus_api import Prometheus

from .processes import Managed, StartupFailed, Supervisor, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
LIVE = Path(__file__).resolve().parent
APP_DIR = LIVE / "app"
SPEC_DIR = LIVE / "specs"
NPM_STAMP = APP_DIR / "node_modules" / ".obsgen-npm-ci"

SERVICE = "live-app"  # metadata.name and selector.job of the test spec
NAMESPACE = "live"
SCRAPE_INTERVAL_SECONDS = 1
CONTAINER = "app"  # spec.container of the test spec
# The process' own series that the kubelet job renames to the cAdvisor series the pod domain reads.
CADVISOR_STAND_IN = {
    "process_cpu_seconds_total": "container_cpu_usage_seconds_total",
    "process_resident_memory_bytes": "container_memory_working_set_bytes",
}
SCRAPED_TARGETS = 2  # per app instance: its own /metrics as the app, and again as the kubelet stand-in

# command -> Debian package that provides it
DEBIAN_PACKAGES = {
    "redis-server": "redis-server",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "node": "nodejs",
    "npm": "npm",
}


@dataclass(frozen=True)
class AppInstance:
    """One process of the service, as one Kubernetes pod would run it, in one mode with its own queue."""

    mode: str
    mode_after_seconds: float = 0  # runs steady this long first

    @property
    def pod(self) -> str:
        return f"{SERVICE}-{self.mode}"

    @property
    def queue(self) -> str:
        # A queue per instance: a paused worker only leaves its queue stuck if no other worker drains it.
        return self.mode


# Every mode runs from the start, side by side, so the whole suite waits for the slowest alert once.
# The stuck queue first completes jobs for a while, as a real one did before its workers hung: that
# is also what gives its drain-time panel (queued / completion rate of the last 5m) a value.
INSTANCES = (AppInstance("steady"), AppInstance("leak"), AppInstance("failing"),
             AppInstance("stuck", mode_after_seconds=10))


class InstallFailed(Exception):
    pass


def ensure_debian_packages() -> None:
    missing = sorted({pkg for cmd, pkg in DEBIAN_PACKAGES.items() if shutil.which(cmd) is None})
    if not missing:
        return
    pairs = [f"{cmd}={pkg}" for cmd, pkg in DEBIAN_PACKAGES.items()]
    result = subprocess.run([str(REPO / "scripts" / "ensure-debian-packages"), *pairs], capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        raise InstallFailed(f"could not install the Debian packages {', '.join(missing)} that the live tests "
                            f"need: {(result.stderr or result.stdout).strip()}")


def _lock_digest() -> str:
    return hashlib.sha256((APP_DIR / "package-lock.json").read_bytes()).hexdigest()


def npm_packages_current() -> bool:
    return NPM_STAMP.is_file() and NPM_STAMP.read_text().strip() == _lock_digest()


def ensure_npm_packages() -> None:
    """`npm ci` from the committed lock file, unless node_modules already matches it. test_live.py and
    test_http.py may ask at once from two xdist workers: the first installs, the other waits for it."""
    if npm_packages_current():
        return
    with open(APP_DIR / ".obsgen-npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not npm_packages_current():
            _npm_ci()


def _npm_ci() -> None:
    # --ignore-scripts: no native builds; msgpackr's optional native add-on ships prebuilt or is not needed.
    result = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                            cwd=APP_DIR, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise InstallFailed(f"`npm ci` in {APP_DIR} failed (exit {result.returncode}): "
                            f"{(result.stderr or result.stdout).strip()[-2000:]}")
    NPM_STAMP.write_text(_lock_digest() + "\n")


def _redis_answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")


def start_redis(supervisor: Supervisor, data_dir: Path) -> tuple[Managed, int]:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    redis = supervisor.start("redis", [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(data_dir), "--daemonize", "no", "--loglevel", "warning",
    ])
    wait_until(lambda: _redis_answers(port), what="answer to PING", process=redis, timeout=20)
    return redis, port


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def start_apps(supervisor: Supervisor, instances: tuple[AppInstance, ...], redis_port: int) -> dict[AppInstance, int]:
    """Start every instance at once, then wait for each: Node.js takes a second or so to come up."""
    started = {}
    for instance in instances:
        port = free_port()
        started[instance] = (port, supervisor.start(instance.pod, ["node", "server.js"], cwd=APP_DIR, env={
            "PORT": str(port), "REDIS_PORT": str(redis_port), "MODE": instance.mode, "QUEUE": instance.queue,
            "MODE_AFTER_SECONDS": str(instance.mode_after_seconds),
        }))
    for port, app in started.values():
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), what="healthy /healthz", process=app,
                   timeout=30)
    return {instance: port for instance, (port, _) in started.items()}


def prometheus_config(app_ports: dict[AppInstance, int], rule_files: list[Path], own_port: int) -> dict:
    """Scrape every app instance each second, with the labels Kubernetes service discovery would add,
    and Prometheus itself, whose rule evaluation failure counters the tests read."""
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
            "scrape_timeout": f"{SCRAPE_INTERVAL_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{
            "job_name": SERVICE,
            "metrics_path": "/metrics",
            "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NAMESPACE, "pod": instance.pod}}
                for instance, port in app_ports.items()
            ],
        }, {
            # No kubelet here: this job stands in for its cAdvisor endpoint. It scrapes the same processes and
            # keeps only their own CPU counter and resident set, under cAdvisor's names and with its container
            # label, so that the pod domain's series and `obsgen rightsize` read real, measured use. (RSS is
            # what cAdvisor's working set is made of for a Node.js container: it adds only the active page cache.)
            "job_name": "kubelet",
            "metrics_path": "/metrics",
            "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": NAMESPACE, "pod": instance.pod,
                                                              "container": CONTAINER}}
                for instance, port in app_ports.items()
            ],
            "metric_relabel_configs": [
                {"source_labels": ["__name__"], "regex": "|".join(CADVISOR_STAND_IN), "action": "keep"},
                *({"source_labels": ["__name__"], "regex": own, "target_label": "__name__", "replacement": cadvisor}
                  for own, cadvisor in CADVISOR_STAND_IN.items()),
            ],
        }, {
            "job_name": "prometheus",
            "static_configs": [{"targets": [f"127.0.0.1:{own_port}"]}],
        }],
    }


def start_prometheus(supervisor: Supervisor, work_dir: Path, app_ports: dict[AppInstance, int],
                     rule_files: list[Path]) -> tuple[Managed, Prometheus]:
    port = free_port()
    config = prometheus_config(app_ports, rule_files, port)
    config_file = work_dir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(["promtool", "check", "config", str(config_file)], capture_output=True, text=True)
    if check.returncode != 0:
        raise StartupFailed(f"promtool rejects the generated Prometheus config {config_file}:\n"
                            f"{check.stdout}{check.stderr}")
    prometheus = supervisor.start("prometheus", [
        "prometheus", f"--config.file={config_file}", f"--storage.tsdb.path={work_dir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=info",
    ])
    api = Prometheus(f"http://127.0.0.1:{port}", timeout=10)
    wait_until(api.ready, what="ready /-/ready", process=prometheus, timeout=60)
    return prometheus, api


def app_mode(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/mode", timeout=5) as response:
        return json.load(response)


def set_app_mode(port: int, **change) -> tuple[int, dict]:
    """POST /mode: switch a running instance (mode=..., failRatio=..., leakBytesPerSecond=...)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mode", data=json.dumps(change).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)
