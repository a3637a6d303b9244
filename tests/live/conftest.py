"""The live test bed as one package fixture: Redis, the Node.js app in every mode, and Prometheus
loading the rules obsgen generated from tests/live/specs.

The processes start when the first live test needs them and stop right after the last test of
tests/live, not at the end of the whole session: the rest of the suite does not share the two
cores with them. Every live test is in test_live.py and `make test` hands out whole files to
its xdist workers (--dist loadfile), so one worker runs them all, in file order, against one test bed;
a second live test file would need --dist loadgroup with an xdist_group mark.

Missing components are installed (Debian packages, `npm ci`); if that or a start fails, every
live test fails with the reason, never skips. Processes are stopped after the package's last test,
on SIGTERM/SIGHUP, at interpreter exit, and by the kernel if the test process dies (see processes.py).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gen.errors import ObsgenError
from gen.pipeline import Compiled, ServiceOutput, compile_specs, paths_for
from gen.spec.project import default_project
from gen.tools.prometheus_api import Prometheus, PrometheusError

from .components import (INSTANCES, REPO, SCRAPED_TARGETS, SERVICE, SPEC_DIR, AppInstance, InstallFailed, ensure_debian_packages,
                         ensure_npm_packages, start_apps, start_prometheus, start_redis)
from .processes import StartupFailed, Supervisor
from .watch import poll

TARGETS_UP_TIMEOUT = 30


@dataclass(frozen=True)
class Testbed:
    prometheus: Prometheus
    apps: dict[AppInstance, int]  # instance -> HTTP port
    output: ServiceOutput  # what obsgen generated for the test spec
    dashboard_file: Path
    rule_file: Path
    out_dir: Path  # an obsgen output directory (dashboards/, rules/) holding the files above
    started_at: float  # Unix time when Prometheus started scraping
    work_dir: Path
    supervisor: Supervisor

    @property
    def url(self) -> str:
        return self.prometheus.url

    def instance(self, mode: str) -> AppInstance:
        return next(i for i in self.apps if i.mode == mode)

    def dead_processes(self) -> list[str]:
        return [f"{m.name} (exit {m.process.returncode}): {m.log_tail(5)}" for m in self.supervisor.started
                if not m.running()]


@pytest.fixture(scope="package")
def live_compiled() -> Compiled:
    # The default project (plain rule files, flat dashboards), not the repository's obsgen.yaml with
    # its Kubernetes targets: the test bed loads files as a plain Prometheus does.
    try:
        return compile_specs(SPEC_DIR, REPO, default_project())
    except ObsgenError as err:
        pytest.fail(f"obsgen cannot compile the live test spec in {SPEC_DIR}:\n{err}", pytrace=False)


@pytest.fixture(scope="package")
def live_output(live_compiled) -> ServiceOutput:
    return next(s for s in live_compiled.services if s.service.name == SERVICE)


def _write_output(out_dir: Path, compiled: Compiled) -> tuple[Path, Path]:
    """The generated dashboard and rule file, written as `obsgen build` lays them out."""
    paths = paths_for(SERVICE)
    for rel, content in compiled.files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return out_dir / paths["dashboard"], out_dir / paths["rules"]


def _targets_up(prometheus: Prometheus) -> list[dict]:
    return prometheus.targets()


@pytest.fixture(scope="package")
def testbed(tmp_path_factory, live_compiled, live_output) -> Testbed:
    try:
        ensure_debian_packages()
        ensure_npm_packages()
    except InstallFailed as err:
        pytest.fail(f"live test bed: {err}", pytrace=False)
    work = tmp_path_factory.mktemp("live")
    supervisor = Supervisor(work)
    try:
        dashboard_file, rule_file = _write_output(work / "out", live_compiled)
        _, redis_port = start_redis(supervisor, work / "redis")
        apps = start_apps(supervisor, INSTANCES, redis_port)
        _, prometheus = start_prometheus(supervisor, work, apps, [rule_file])
        started_at = time.time()
        targets = poll(lambda: _targets_up(prometheus),
                       lambda ts: len(ts) == SCRAPED_TARGETS * len(apps) + 1 and all(t["health"] == "up" for t in ts),
                       timeout=TARGETS_UP_TIMEOUT)
        down = [f"{t['labels'].get('pod', t['scrapeUrl'])}: {t['health']} {t.get('lastError', '')}"
                for t in targets if t["health"] != "up"]
        if down or len(targets) != SCRAPED_TARGETS * len(apps) + 1:
            raise StartupFailed(f"Prometheus does not scrape every target within {TARGETS_UP_TIMEOUT}s: "
                                f"{len(targets)} targets, not up: {down}")
    except (StartupFailed, PrometheusError, OSError) as err:
        supervisor.close()
        pytest.fail(f"live test bed did not start: {err}", pytrace=False)
    except BaseException:
        supervisor.close()
        raise
    bed = Testbed(prometheus, apps, live_output, dashboard_file, rule_file, work / "out", started_at, work,
                  supervisor)
    (work / "testbed.json").write_text(json.dumps(
        {"prometheus": bed.url, "apps": {i.pod: port for i, port in apps.items()}}, indent=2))
    yield bed
    supervisor.close()
