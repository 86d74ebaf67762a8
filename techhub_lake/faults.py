"""Named fault points: where the reliability suite kills or pauses a real process on purpose.

A fault point is a call ``fault_point("bronze.publish")`` at a place where a crash would hurt (a
file written but not yet published, a MERGE under way). It does nothing unless the process was
started with ``TECHHUB_FAULT=<point>[#<n>]:<action>`` (``#<n>``: only the n-th time the point is
reached), so production pays one dictionary lookup. The actions:

- ``kill``: SIGKILL this process at once (as ``kill -9`` or the OOM killer would);
- ``kill-after=<seconds>``: SIGKILL it that long after the point is reached, from a thread, so the
  kill lands inside whatever runs next (a MERGE in delta-rs, an upload);
- ``pause=<file>``: create ``<file>`` and wait until it is removed, so a test can stop the source or
  the S3 server while this process is in the middle of a stream.

The same technique as failpoints in FoundationDB or TiKV; written here because the Python ones on
PyPI are unmaintained and do not cross process boundaries.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from techhub_lake.messages import UserError
from techhub_lake.settings import FAULT_ENV, fault

_hits: dict[str, int] = {}


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fault_point(name: str) -> None:
    """Act on ``$TECHHUB_FAULT`` if it names this point; otherwise nothing."""
    wanted = fault()
    if not wanted:
        return
    point, _, action = wanted.partition(":")
    point, _, nth = point.partition("#")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if nth and _hits[name] != int(nth):
        return
    kind, _, argument = action.partition("=")
    if kind == "kill":
        _kill()
    elif kind == "kill-after":
        os.environ.pop(FAULT_ENV)  # once
        threading.Timer(float(argument), _kill).start()
    elif kind == "pause":
        os.environ.pop(FAULT_ENV)  # once: a retry runs through
        marker = Path(argument)
        marker.touch()
        while marker.exists():
            time.sleep(0.05)
    else:
        raise UserError(f"${FAULT_ENV}={wanted!r}: the action must be kill, kill-after=<seconds> or pause=<file>")
