"""`obsgen backtest --plot DIR`: one PNG per scenario, drawn from the promtool run that gave the verdict."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from gen.synth.scenario import builtin_dir, load_library
from gen.tools import backtest as engine
from gen.tools import plot
from gen.units import parse_duration

from .conftest import REPO, run_obsgen

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SERVICE = "submission-api"


def _library(name: str):
    return next(s for s in load_library([builtin_dir()]) if s.name == name)


@pytest.fixture(scope="module")
def submission_api(compiled):
    return next(o for o in compiled.services if o.service.name == SERVICE)


@pytest.fixture(scope="module")
def replayed(submission_api, promtool) -> dict[str, engine.ReplayResult]:
    """Two scenarios replayed with the plot's watches: a fast leak to the limit and a queue whose workers go."""
    out = {}
    for name in ("fast-leak-to-oom", "queue-workers-gone"):
        replay = engine.replay_for(submission_api.service, _library(name))
        out[name] = engine.run(replay, submission_api, plot.plan(submission_api.rule_file, replay).watches)
    return out


def test_the_watches_leave_the_verdict_and_first_fired_times_as_they_were(replayed, submission_api):
    plain = engine.run(replayed["queue-workers-gone"].replay, submission_api)
    assert plain.outcomes == replayed["queue-workers-gone"].outcomes
    assert plain.verdict == replayed["queue-workers-gone"].verdict


@pytest.mark.parametrize("name", ["fast-leak-to-oom", "queue-workers-gone"])
def test_the_plotted_firing_spans_begin_when_the_backtest_says_each_alert_first_fired(replayed, name,
                                                                                     submission_api):
    result = replayed[name]
    spans = plot.alert_spans(result.traces)
    fired = {o.alert: o.first_fired for o in result.outcomes if o.alert_hours > 0}
    assert len(fired) >= 2
    assert {alert: states["firing"][0][0] for alert, states in spans.items() if "firing" in states} == fired
    waits = {}
    for alert in submission_api.rule_file.alerts:
        waits[alert.name] = min(waits.get(alert.name, math.inf), parse_duration(alert.for_).seconds)
    for alert, first in fired.items():
        # The instance that fired first was pending for the alert's whole `for` before it.
        assert spans[alert]["pending"][0][0] <= first - waits[alert]


def test_the_picture_shows_the_series_the_alerts_compare(replayed, submission_api):
    the_plan = plot.plan(submission_api.rule_file, replayed["fast-leak-to-oom"].replay)
    keys = {t.key for t in replayed["fast-leak-to-oom"].traces}
    # The floors and the limit as recorded, the forecast built from the forecast rule, what each alert compares.
    assert {"r-namespace_pod_container-container_memory_working_set_bytes-floor",
            "r-namespace_pod_container-kube_pod_container_resource_limits_memory_bytes-max", "d-forecast"} <= keys
    assert {c.alert for found in the_plan.comparisons.values() for _, c in found} >= {
        "PodMemoryExhaustionForecast", "PodMemoryNearLimit", "NodejsHeapLeakWithinProcess"}
    # Either branch of the page's `or` makes it pending, so both are drawn, and the warning's one-day horizon too.
    forecasts = the_plan.comparisons["PodMemoryExhaustionForecast"]
    assert [(c.op, c.threshold) for _, c in forecasts] == [("<", 57600.0), ("<", 14400.0), ("<", 86400.0)]
    assert {key for key, _ in forecasts} <= keys
    # The limit the rules read is the 4 GiB the library is written for.
    [limit] = {v for t in replayed["fast-leak-to-oom"].traces if t.key.endswith("limits_memory_bytes-max")
               for _, v in t.points}
    assert limit == 4 * 2**30


def test_a_picture_is_a_small_png_with_the_same_bytes_every_time(replayed, submission_api, tmp_path: Path):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    for path in (first, second):
        plot.draw(replayed["fast-leak-to-oom"], submission_api.rule_file, path)
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 10_000 < len(data) < 150_000
    assert data == second.read_bytes()


def test_backtest_plot_writes_one_png_per_scenario(tmp_path: Path, promtool):
    plots = tmp_path / "plots" / "new"  # made when missing
    names = ["queue-workers-gone", "queue-hourly-batches"]
    result = run_obsgen("backtest", "--service", SERVICE, *[a for n in names for a in ("--only", n)],
                        "--plot", str(plots), "--json", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert {r["scenario"] for r in json.loads(result.stdout)} == set(names)
    assert sorted(p.name for p in plots.iterdir()) == sorted(f"{n}.png" for n in names)
    for path in plots.iterdir():
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000, path
    assert f"obsgen: 2 plot(s) in {plots}" in result.stderr


def test_a_plot_directory_that_cannot_be_written_is_a_clear_error_before_any_replay(tmp_path: Path):
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "plots"
    result = run_obsgen("backtest", "--service", SERVICE, "--only", "queue-hourly-batches", "--plot", str(target),
                        cwd=REPO)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: {target}: cannot write plots there: Not a directory "
                                     "(give --plot a directory you can write to)")


def test_matplotlib_is_imported_only_for_plots():
    """Building and backtesting without --plot never load matplotlib (nor the plot module)."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from click.testing import CliRunner\n"
        "from gen.pipeline import compile_specs\n"
        "compile_specs(Path('specs'), Path('.'))\n"
        "built = 'matplotlib' in sys.modules\n"
        "from gen.cli import main\n"
        "run = CliRunner().invoke(main, ['backtest', '--service', 'submission-api', '--only', "
        "'queue-hourly-batches', '--quiet'])\n"
        "print(run.exit_code, built, 'matplotlib' in sys.modules, 'gen.tools.plot' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert result.stdout.split() == ["0", "False", "False", "False"], result.stderr
