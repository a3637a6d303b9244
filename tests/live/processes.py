"""Starting and always stopping the live test bed's processes.

Every process gets its own process group, so stopping it stops whatever it started too, and asks
the kernel to kill it if the test process dies without cleaning up (PR_SET_PDEATHSIG). A
Supervisor stops everything it started from a pytest finalizer, at interpreter exit and on
SIGTERM/SIGHUP, whichever comes first.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 5.0


class StartupFailed(Exception):
    """A component did not come up; the message says which, why, and the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the caller binds it right away)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the test process goes away for any reason."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass  # not Linux/glibc: the Supervisor's handlers still stop it


@dataclass
class Managed:
    name: str
    process: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty log)"

    def stop(self) -> None:
        if not self.running():
            return
        for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, STOP_GRACE_SECONDS)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


class Supervisor:
    """Starts processes and guarantees they are stopped."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Managed] = []
        self._previous_handlers: dict[int, object] = {}
        atexit.register(self.stop_all)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.stop_all()
        previous = self._previous_handlers.get(signum)
        if callable(previous):
            previous(signum, frame)
        else:
            # Like Ctrl-C: pytest stops the session and still runs every finalizer.
            raise KeyboardInterrupt(f"signal {signum}")

    def start(self, name: str, argv: list[str], *, cwd: Path | None = None,
              env: Mapping[str, str] | None = None) -> Managed:
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=_die_with_parent)
        managed = Managed(name, process, log)
        self.started.append(managed)
        return managed

    def stop_all(self) -> None:
        # Last started first: the app before Redis, so it does not log a storm of reconnects.
        while self.started:
            self.started.pop().stop()

    def close(self) -> None:
        self.stop_all()
        atexit.unregister(self.stop_all)
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)


def wait_until(check: Callable[[], bool], *, what: str, process: Managed, timeout: float,
               interval: float = 0.2) -> None:
    """Poll `check` until it is true; fail with the process' log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.running():
            raise StartupFailed(f"{process.name} exited with code {process.process.returncode} before {what}; "
                                f"its log ({process.log}) ends with:\n{process.log_tail()}")
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StartupFailed(f"{process.name}: no {what} within {timeout:.0f}s; its log ({process.log}) "
                                f"ends with:\n{process.log_tail()}")
        time.sleep(interval)
