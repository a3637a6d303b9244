"""Running an upstream checker (promtool, amtool) on files that exist only in memory."""
from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

# Below this many files one run is quick; above it, the files are split over one run per core.
FILES_PER_RUN = 50


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, as `taskset` or a container sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_files(argv: list[str], files: dict[str, bytes], failed: Callable[[subprocess.CompletedProcess], bool],
                prefix: str, env: dict[str, str] | None = None) -> list[str]:
    """Write `files` to a temporary folder, run `argv + paths`, and return the output lines if `failed` says so.

    Many files are checked by several runs at once, each on a consecutive share of the sorted paths; their
    output reads as one run's would (every run's standard output, then every run's errors, in path order).
    Paths in the output are shown relative to the folder, as the files' paths in out/ would read.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        paths = []
        for rel, content in sorted(files.items()):
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            paths.append(str(path))
        runs = max(1, min(available_cores(), len(paths) // FILES_PER_RUN))
        share = max(1, -(-len(paths) // runs))
        results = _run_all([[*argv, *paths[i:i + share]] for i in range(0, max(len(paths), 1), share)], env)
        if not any(failed(result) for result in results):
            return []
        text = ("".join(r.stdout for r in results) + "".join(r.stderr for r in results)).replace(tmp + "/", "")
        return [line for line in text.splitlines() if line.strip()]


def _run_all(commands: list[list[str]], env: dict[str, str] | None = None) -> list[subprocess.CompletedProcess]:
    """Run the commands at once; their output goes to files, so no run waits for its output to be read."""
    with ExitStack() as stack:
        started = []
        for argv in commands:
            stdout, stderr = (stack.enter_context(tempfile.TemporaryFile()) for _ in range(2))
            started.append((subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env), stdout, stderr))
        results = []
        for process, stdout, stderr in started:
            process.wait()
            output = []
            for stream in (stdout, stderr):
                stream.seek(0)
                output.append(stream.read().decode(errors="replace"))
            results.append(subprocess.CompletedProcess(process.args, process.returncode, *output))
        return results
