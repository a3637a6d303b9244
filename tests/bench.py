"""`make bench`: how fast obsgen builds fleets of 1, 100 and 1,000 services, as medians and ratios.

Machines here are noisy (and often shared), so each figure is the median of several runs, and compiles are
also given as a ratio to the serialization limit measured in the same run: `json.dumps` and PyYAML's C
dumper (yaml.CSafeDumper) writing the same output objects with the same settings as the output files, the
least any generator of these bytes in Python must spend. Never a pass/fail timing.

The fleets come from tests/fleet.py (varied like real services) and are built with the default targets,
without the promtool proofs (`obsgen test` makes those): rule files and dashboards.

    python -m tests.bench                       # 1, 100 and 1,000 services
    python -m tests.bench --sizes 1,100 --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from gen.checks.external import available_cores
from gen.checks.lint import promtool_check_rules
from gen.pipeline import compile_specs, wants_proofs
from gen.spec.project import default_project

from tests.fleet import write_fleet

REPO = Path(__file__).resolve().parent.parent
SIZES = (1, 100, 1000)
NO_PROOFS_PROJECT = "apiVersion: obsgen/v1\nkind: Project\ntargets:\n  ruleTests:\n    enabled: false\n"

# Runs a CLI command in a child Python and reports its own peak RSS (promtool's is not obsgen's). VmHWM, not
# ru_maxrss: Linux carries ru_maxrss over from the forking parent (this bench, large after a compile) into
# the child, while VmHWM belongs to the child's own memory.
_MEASURED_CLI = """
import json, resource, sys
from gen.cli import main
try:
    main(sys.argv[2:], prog_name="obsgen")
except SystemExit as done:
    code = done.code or 0
else:
    code = 0
try:
    with open("/proc/self/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "rss_kib": own, "child_cpu": children.ru_utime + children.ru_stime}, report)
"""


@dataclass(frozen=True)
class Row:
    services: int
    rounds: int
    compile_s: float
    limit_s: float
    build_s: float
    check_s: float
    children_s: float  # CPU of the build's child processes: the PromQL parse workers and promtool
    promtool_s: float  # CPU of the rule-file gate alone, `promtool check rules` on the build's rule files
    rss_mib: float  # peak RSS of `obsgen build`
    out_kib_per_service: float

    @property
    def ratio(self) -> float:
        return self.compile_s / self.limit_s


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def serialization_limit(compiled) -> float:
    """Seconds for json.dumps and yaml.CSafeDumper to write the compiled output objects as the files hold them."""
    start = time.perf_counter()
    for out in compiled.services:
        json.dumps(out.dashboard.to_json_data(), indent=2, sort_keys=True, ensure_ascii=False)
        yaml.dump(out.rule_file.to_dict(), Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False,
                  allow_unicode=True, width=1 << 30, indent=2)
    return time.perf_counter() - start


def _cli(root: Path, *args: str) -> tuple[float, dict]:
    report = root / "cli-report.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _MEASURED_CLI, str(report), *args], cwd=root,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds = time.perf_counter() - start
    measured = json.loads(report.read_text())
    if done.returncode or measured["code"]:
        raise SystemExit(f"bench: obsgen {' '.join(args)} failed in {root}:\n{done.stderr}")
    return seconds, measured


def bench(services: int, rounds: int, work: Path, cli_rounds: int | None = None) -> Row:
    root = work / f"fleet-{services}"
    write_fleet(root / "specs", services)
    if wants_proofs(default_project()):  # proofs are made by `obsgen test`, not measured here
        (root / "obsgen.yaml").write_text(NO_PROOFS_PROJECT)
    compiles, limits = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        compiled = compile_specs(root / "specs", root, proofs=False)
        compiles.append(time.perf_counter() - start)
        limits.append(serialization_limit(compiled))
    out_bytes = sum(len(content) for content in compiled.files.values())
    del compiled
    builds, checks, children, promtool, rss = [], [], [], [], []
    for i in range(cli_rounds or rounds):
        out = f"out-{i}"
        seconds, measured = _cli(root, "build", "--quiet", "--out", out)
        builds.append(seconds)
        children.append(measured["child_cpu"])
        rss.append(measured["rss_kib"])
        promtool.append(_promtool_gate_cpu(root / out))
        checks.append(_cli(root, "check", "--quiet", "--out", out)[0])
        shutil.rmtree(root / out)
    return Row(services, rounds, _median(compiles), _median(limits), _median(builds), _median(checks),
               _median(children), _median(promtool), max(rss) / 1024, out_bytes / 1024 / services)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _promtool_gate_cpu(out: Path) -> float:
    """CPU seconds of the gate `obsgen build` runs, `promtool check rules` over every rule file, run alone here:
    a build's child processes also include the workers that parse PromQL."""
    files = {str(path.relative_to(out)): path.read_bytes() for path in sorted((out / "rules").glob("*.yml"))}
    before = _children_cpu()
    if promtool_check_rules(files):
        raise SystemExit(f"bench: promtool check rules failed on {out}")
    return _children_cpu() - before


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return f"{available_cores()} cores ({cpu}){load}, Python {platform.python_version()}"


def table(rows: list[Row]) -> str:
    lines = ["| Services | Compile (s) | Serialization limit (s) | Ratio | `obsgen build` (s) | `obsgen check` (s) "
             "| CPU of build's child processes (s) | of which promtool's gate (s) | Peak RSS of build (MiB) "
             "| Output per service (KiB) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.services:,} | {r.compile_s:.2f} | {r.limit_s:.2f} | {r.ratio:.1f}x | {r.build_s:.2f} "
                     f"| {r.check_s:.2f} | {r.children_s:.2f} | {r.promtool_s:.2f} | {r.rss_mib:.0f} "
                     f"| {r.out_kib_per_service:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="fleet sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=None,
                        help="runs per size (default: 5, and 3 from 1,000 services on)")
    parser.add_argument("--cli-rounds", type=int, default=None,
                        help="runs of `obsgen build` and `obsgen check` per size (default: --rounds)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = datetime.now(timezone.utc)
    print(f"obsgen bench, {started:%Y-%m-%d %H:%M} UTC, {machine()}", flush=True)
    if shutil.which("promtool") is None:
        print("promtool not found: build and check run without their promtool gate", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="obsgen-bench-") as tmp:
        for services in sizes:
            rounds = args.rounds or (3 if services >= 1000 else 5)
            rows.append(bench(services, rounds, Path(tmp), args.cli_rounds))
            print(f"{table(rows[-1:]).splitlines()[-1]}  ({rounds} runs, {args.cli_rounds or rounds} of the CLI)",
                  flush=True)
    load = f"; load average at the end {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"medians; compile = in memory, no proofs; ratio = compile / serialization limit{load}")
    print(table(rows))


if __name__ == "__main__":
    main()
