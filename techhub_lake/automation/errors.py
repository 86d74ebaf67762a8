"""Errors of the lake's orchestration that reach a user (kept light: the CLI imports them at start)."""

from __future__ import annotations


class RefreshFailed(RuntimeError):
    """A run of a refresh failed; the message names the run, its range, the failed steps and why."""
