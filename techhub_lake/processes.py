"""Processes of this machine: whether one still runs the work it started, and stop signals inside
an asset's step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import psutil


def process_gone(pid: int, since: float | None = None) -> bool:
    """Whether process ``pid`` no longer runs the work it started at ``since`` (a Unix time, if
    known): it does not exist, is a zombie, or the pid now belongs to a process started after that
    (pids are reused). Used to tell dead runs and dead writers from live ones."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        return since is not None and process.create_time() > since + 1
    except psutil.NoSuchProcess:
        return True


@contextlib.contextmanager
def stop_fails_the_step() -> Iterator[None]:
    """Turn Ctrl-C or SIGTERM inside a step into a failure Dagster does not retry: a step with a
    retry policy that is interrupted would otherwise be run again, and the run carry on."""
    try:
        yield
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
        raise dg.Failure(description="interrupted by Ctrl-C or SIGTERM", allow_retries=False) from None
