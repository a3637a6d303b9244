"""obsgen's routing and inhibit rules in a real Alertmanager, fed by a real Prometheus, delivering to a webhook.

On loopback: Alertmanager (Debian's prometheus-alertmanager) runs the alertmanager.yml that obsgen
generated for two test services of team `shop` (am-down and am-up), merged as docs/alertmanager.md
says: each name-only receiver stub gets a webhook, served by this test, at /<receiver name>. A
Prometheus of its own (the test bed's binary and helpers, not the test bed's process: its rules and
targets stay as the other live tests expect) evaluates every 1s and sends its alerts there.

Where the alerts come from:

- `ServiceDown` of am-down is the generated rule (the spec sets `serviceDown.for: 0s`), firing for
  real because the am-down scrape target is a closed port; am-up's target (Prometheus itself) is up.
- The alerts it and the forecast must suppress are stand-ins: a test-only rule file with obsgen's
  alert names and labels (`vector(1)`, `for: 5s`, so they start after their sources), because the real
  forecast and leak alerts need hours of memory growth. The inhibit rules and routes are the
  generated ones, unchanged.

The test shows:

- a firing `ServiceDown` suppresses the service's other alerts (`PodMemoryLeak`, and `QueueStuck`
  though it is critical), and only that service's;
- a critical `PodMemoryExhaustionForecast` suppresses `PodMemoryLeak` of its pod, not of another pod;
- alerts of one service (the `PodMemoryLeak` of two pods) arrive in one notification, grouped by
  `alertname, service, namespace`, each at the receiver its team and severity route to.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from gen.errors import ObsgenError
from gen.pipeline import compile_specs
from gen.spec.project import DISCARD_RECEIVER, load_project
from gen.targets import alertmanager as alertmanager_target
from gen.tools.prometheus_api import Prometheus

from .components import NAMESPACE, REPO, InstallFailed, ensure_debian_packages
from .processes import StartupFailed, Supervisor, free_port, wait_until
from .watch import poll

pytestmark = pytest.mark.live

TEAM = "shop"
DOWN, UP = "am-down", "am-up"
NOTIFY_TIMEOUT = 45
# Alertmanager binaries: Debian's name, and the upstream release's.
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")

SPEC = """apiVersion: obsgen/v1
kind: Service
metadata: {{name: {name}, team: %s}}
spec:
  namespace: %s
  runtime: nodejs
  alerts:
    serviceDown: {{for: 0s}}
""" % (TEAM, NAMESPACE)

PROJECT = """apiVersion: obsgen/v1
kind: Project
alerting:
  receivers: [pager-shop, tickets-shop, pager-platform, tickets-platform]
  route: {critical: pager-platform, warning: tickets-platform}
  teams:
    shop: {critical: pager-shop, warning: tickets-shop}
  # Seconds instead of Alertmanager's 30s and 5m, so the test takes seconds.
  groupWait: 2s
  groupInterval: 2s
targets:
  ruleTests: {enabled: false}
  dashboards: {enabled: false}
  alertmanager: {enabled: true}
"""


def _stand_in(name: str, severity: str, for_: str, **labels: str) -> dict:
    return {"alert": name, "expr": "vector(1)", "for": for_,
            "labels": {"severity": severity, "team": TEAM, "namespace": NAMESPACE, **labels}}


# Stand-ins for alerts that take hours to fire for real; names and labels as obsgen's rules give them.
STAND_INS = {"groups": [{"name": "stand-ins", "rules": [
    _stand_in("PodMemoryLeak", "warning", "5s", service=DOWN, pod=f"{DOWN}-0", container=DOWN),
    _stand_in("QueueStuck", "critical", "5s", service=DOWN, queue="jobs", job=DOWN),
    _stand_in("PodMemoryExhaustionForecast", "critical", "2s", service=UP, pod=f"{UP}-0", container=UP),
    _stand_in("PodMemoryLeak", "warning", "5s", service=UP, pod=f"{UP}-0", container=UP),
    _stand_in("PodMemoryLeak", "warning", "5s", service=UP, pod=f"{UP}-1", container=UP),
    _stand_in("PodMemoryLeak", "warning", "5s", service=UP, pod=f"{UP}-2", container=UP),
]}]}


def ensure_alertmanager() -> str:
    """The Alertmanager binary; installs Debian's prometheus-alertmanager (with amtool) when missing."""
    ensure_debian_packages()  # prometheus, promtool and the rest of the test bed's
    found = next((shutil.which(b) for b in ALERTMANAGER_BINARIES if shutil.which(b)), None)
    if found and shutil.which("amtool"):
        return found
    result = subprocess.run([str(REPO / "scripts" / "ensure-debian-packages"), "amtool=prometheus-alertmanager",
                             "prometheus-alertmanager=prometheus-alertmanager"], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise InstallFailed("could not install Alertmanager (Debian package prometheus-alertmanager): "
                            f"{(result.stderr or result.stdout).strip()}")
    return shutil.which("prometheus-alertmanager") or "prometheus-alertmanager"


class Webhook:
    """Alertmanager's webhook receiver: every notification's JSON, with the receiver named by the URL path."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict]] = []
        lock = threading.Lock()
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    received.append((self.path.strip("/"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sent(self) -> list[tuple[str, dict]]:
        return list(self.notifications)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def merged_config(generated: bytes, webhook: Webhook) -> dict:
    """docs/alertmanager.md's merge: obsgen's routes and inhibit rules, receivers defined by "the user"."""
    config = yaml.safe_load(generated)
    for receiver in config["receivers"]:
        if receiver["name"] != DISCARD_RECEIVER:
            receiver["webhook_configs"] = [{"url": f"{webhook.url}/{receiver['name']}", "send_resolved": False}]
    return config


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _alerts_in(notifications: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(receiver, alert["labels"]) for receiver, body in notifications for alert in body["alerts"]]


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    """Compile, start Alertmanager, the webhook and Prometheus; yield once the expected notifications are in."""
    try:
        binary = ensure_alertmanager()
    except InstallFailed as err:
        pytest.fail(f"Alertmanager live test: {err}", pytrace=False)
    work = tmp_path_factory.mktemp("alertmanager")
    (work / "specs").mkdir()
    for name in (DOWN, UP):
        (work / "specs" / f"{name}.yaml").write_text(SPEC.format(name=name))
    (work / "obsgen.yaml").write_text(PROJECT)
    try:
        compiled = compile_specs(work / "specs", work, load_project(work / "obsgen.yaml", work))
    except ObsgenError as err:
        pytest.fail(f"obsgen cannot compile the Alertmanager test specs:\n{err}", pytrace=False)
    rule_files = []
    for rel, content in compiled.files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(content)
        if rel.startswith("rules/"):
            rule_files.append(work / rel)
    (work / "stand-ins.rules.yml").write_text(yaml.safe_dump(STAND_INS, sort_keys=False))
    rule_files.append(work / "stand-ins.rules.yml")

    webhook = Webhook()
    supervisor = Supervisor(work)
    try:
        am_port, prom_port, closed_port = free_port(), free_port(), free_port()
        am_config = work / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(merged_config(compiled.files[alertmanager_target.PATH], webhook),
                                            sort_keys=False))
        check = subprocess.run(["amtool", "check-config", str(am_config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise StartupFailed(f"amtool rejects the merged config {am_config}:\n{check.stdout}{check.stderr}")
        am = supervisor.start("alertmanager", [
            binary, f"--config.file={am_config}", f"--storage.path={work / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=debug"])
        am_url = f"http://127.0.0.1:{am_port}"
        wait_until(lambda: _ready(f"{am_url}/-/ready"), what="ready /-/ready", process=am, timeout=30)

        prom_config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": [
                {"job_name": UP, "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"],
                                                     "labels": {"namespace": NAMESPACE, "pod": f"{UP}-0"}}]},
                {"job_name": DOWN, "static_configs": [{"targets": [f"127.0.0.1:{closed_port}"],
                                                       "labels": {"namespace": NAMESPACE, "pod": f"{DOWN}-0"}}]},
            ],
        }
        prom_file = work / "prometheus.yml"
        prom_file.write_text(yaml.safe_dump(prom_config, sort_keys=False))
        check = subprocess.run(["promtool", "check", "config", str(prom_file)], capture_output=True, text=True)
        if check.returncode != 0:
            raise StartupFailed(f"promtool rejects {prom_file}:\n{check.stdout}{check.stderr}")
        prom = supervisor.start("prometheus-alerting", [
            "prometheus", f"--config.file={prom_file}", f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s"])
        api = Prometheus(f"http://127.0.0.1:{prom_port}", timeout=10)
        wait_until(api.ready, what="ready /-/ready", process=prom, timeout=60)
        started = time.monotonic()

        def expected_in(sent: list) -> bool:
            alerts = _alerts_in(sent)
            leaks = {labels["pod"] for _, labels in alerts if labels["alertname"] == "PodMemoryLeak"}
            names = {labels["alertname"] for _, labels in alerts}
            return {f"{UP}-1", f"{UP}-2"} <= leaks and {"ServiceDown", "PodMemoryExhaustionForecast"} <= names

        poll(webhook.sent, expected_in, timeout=NOTIFY_TIMEOUT, interval=0.5)
        arrived = time.monotonic() - started
        # Suppressed alerts would be notified within a group interval; wait a few more before judging.
        time.sleep(6)
        yield {"sent": webhook.sent(), "am": am_url, "prometheus": api, "seconds": arrived,
               "am_log": am.log}
    except StartupFailed as err:
        pytest.fail(f"Alertmanager live test did not start: {err}", pytrace=False)
    finally:
        supervisor.close()
        webhook.close()


def _am_alerts(delivery: dict) -> list[dict]:
    return _get_json(f"{delivery['am']}/api/v2/alerts")


def _state(delivery: dict, **labels: str) -> list[dict]:
    return [a["status"] for a in _am_alerts(delivery) if all(a["labels"].get(k) == v for k, v in labels.items())]


def test_every_expected_notification_arrives(delivery):
    alerts = _alerts_in(delivery["sent"])
    assert ("pager-shop", "ServiceDown") in {(r, a["alertname"]) for r, a in alerts}, delivery["sent"]
    assert ("pager-shop", "PodMemoryExhaustionForecast") in {(r, a["alertname"]) for r, a in alerts}
    print(f"notifications arrived {delivery['seconds']:.1f}s after Prometheus started")


def test_service_down_suppresses_every_other_alert_of_its_service(delivery):
    alerts = _alerts_in(delivery["sent"])
    of_down = sorted({labels["alertname"] for _, labels in alerts if labels.get("service") == DOWN})
    assert of_down == ["ServiceDown"], delivery["sent"]
    # Alertmanager holds them, suppressed by ServiceDown: the inhibit rule matched, they did not just not arrive.
    for name in ("PodMemoryLeak", "QueueStuck"):
        states = _state(delivery, alertname=name, service=DOWN)
        assert states and all(s["state"] == "suppressed" and s["inhibitedBy"] for s in states), (name, states)
    # Only that service's: am-up's leaks of other pods are delivered.
    assert any(labels.get("service") == UP and labels["alertname"] == "PodMemoryLeak" for _, labels in alerts)


def test_a_critical_forecast_suppresses_the_leak_of_its_pod_and_not_of_another_pod(delivery):
    alerts = _alerts_in(delivery["sent"])
    leaks = sorted(labels["pod"] for _, labels in alerts
                   if labels["alertname"] == "PodMemoryLeak" and labels["service"] == UP)
    assert leaks == [f"{UP}-1", f"{UP}-2"], delivery["sent"]
    held = _state(delivery, alertname="PodMemoryLeak", service=UP, pod=f"{UP}-0")
    assert held and held[0]["state"] == "suppressed" and held[0]["inhibitedBy"], held
    other = _state(delivery, alertname="PodMemoryLeak", service=UP, pod=f"{UP}-1")
    assert other and other[0]["state"] == "active", other


def test_alerts_of_one_service_arrive_in_one_notification_at_the_teams_receiver(delivery):
    leak_notifications = [(receiver, body) for receiver, body in delivery["sent"]
                          if body["groupLabels"].get("alertname") == "PodMemoryLeak"]
    assert len(leak_notifications) == 1, leak_notifications
    receiver, body = leak_notifications[0]
    assert receiver == "tickets-shop"  # warning alerts of team shop
    assert body["groupLabels"] == {"alertname": "PodMemoryLeak", "service": UP, "namespace": NAMESPACE}
    assert sorted(a["labels"]["pod"] for a in body["alerts"]) == [f"{UP}-1", f"{UP}-2"]
    pages = {r for r, b in delivery["sent"] if b["commonLabels"].get("severity") == "critical"}
    assert pages == {"pager-shop"}
