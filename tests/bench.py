"""`make bench`: how fast obsgen compiles, as medians and ratios, never as a pass/fail timing.

Machines here are noisy, so each measurement is repeated and the median reported, next to a
reference measured on the same machine in the same run (one `promtool check rules` of the
example's rule file), so the ratio is comparable across machines.
"""
from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gen.pipeline import compile_specs

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 5
FLEET = 50


def _median(fn, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fleet(root: Path, count: int) -> Path:
    """`count` copies of the example service under distinct names and namespaces."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    template = (REPO / "specs" / "submission-api.yaml").read_text()
    for i in range(count):
        text = template.replace("name: submission-api", f"name: service-{i:03d}") \
                       .replace("namespace: exam", f"namespace: ns-{i:03d}").replace("job: submission-api",
                                                                                   f"job: service-{i:03d}")
        (specs / f"service-{i:03d}.yaml").write_text(text)
    return specs


def main() -> None:
    promtool = shutil.which("promtool")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one"
        (one / "specs").mkdir(parents=True)
        shutil.copy(REPO / "specs" / "submission-api.yaml", one / "specs")
        compiled = compile_specs(one / "specs", one)
        single = _median(lambda: compile_specs(one / "specs", one))
        rows.append(("compile 1 service (in memory)", single))
        fleet = _fleet(Path(tmp) / "fleet", FLEET)
        many = _median(lambda: compile_specs(fleet, fleet.parent), rounds=3)
        rows.append((f"compile {FLEET} services (in memory)", many))
        rows.append(("  per service", many / FLEET))
        reference = None
        if promtool:
            rule_file = Path(tmp) / "rules.yml"
            rule_file.write_bytes(next(v for k, v in compiled.files.items() if k.startswith("rules/")))
            reference = _median(lambda: subprocess.run([promtool, "check", "rules", str(rule_file)],
                                                       capture_output=True))
            rows.append(("reference: promtool check rules (1 file)", reference))
    width = max(len(name) for name, _ in rows)
    print(f"obsgen bench: medians of {ROUNDS} runs (fleet: 3), {sys.platform}, Python {sys.version.split()[0]}")
    for name, seconds in rows:
        ratio = f"  ({seconds / reference:5.1f}x promtool check)" if reference else ""
        print(f"{name.ljust(width)}  {seconds * 1000:9.1f} ms{ratio}")
    print(f"scaling: {FLEET} services cost {many / single:.1f}x one service")


if __name__ == "__main__":
    main()
