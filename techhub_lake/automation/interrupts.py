"""Ctrl-C and SIGTERM during a refresh stop the refresh, not just the step they land in.

Dagster's in-process execution swaps its own SIGINT/SIGTERM handlers in while a run executes, and
a step with a retry policy that is interrupted is simply retried, so the refresh would carry on.
Python writes every signal it receives to a "wakeup" file descriptor whichever Python handler is
installed: the refresh watches one and, after each run, stops if a stop signal arrived meanwhile.
"""

from __future__ import annotations

import os
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_watch: dict[str, int | bool] = {"fd": -1, "stopped": False}


def watch_stop_signals() -> None:
    """Start recording stop signals (main thread only; once per process)."""
    if _watch["fd"] != -1 or threading.current_thread() is not threading.main_thread():
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    _watch["fd"] = read


def stop_requested() -> bool:
    """Whether Ctrl-C or SIGTERM reached this process since ``watch_stop_signals``."""
    if _watch["fd"] != -1 and not _watch["stopped"]:
        try:
            while chunk := os.read(int(_watch["fd"]), 512):
                if any(number in STOP_SIGNALS for number in chunk):
                    _watch["stopped"] = True
        except BlockingIOError:
            pass
    return bool(_watch["stopped"])
