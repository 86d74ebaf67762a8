"""Ctrl-C and SIGTERM unwind the CLI like an exception, so `finally` blocks stop the servers it started."""

from __future__ import annotations

import signal


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def install_stop_signals() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt (also when started with SIGINT ignored, and
    again after Dagster's in-process execution has swapped its own handlers in and out)."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
