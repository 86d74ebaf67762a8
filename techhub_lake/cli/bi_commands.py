"""``techhub-lake bi``: Apache Superset on the warehouse, with the TechHub dashboards."""

from __future__ import annotations

import os
import signal
import subprocess

import click

from techhub_lake.settings import warehouse_url

DEFAULT_BI_PORT = 8088


def stop_superset(process: subprocess.Popen) -> None:
    """Stop Superset's server and what it started (its own process group), waiting for it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@click.command("bi")
@click.option("--port", type=click.IntRange(1024, 65535), default=DEFAULT_BI_PORT, show_default=True)
def bi_command(port: int) -> None:
    """Install (once) and start Apache Superset on 127.0.0.1, provisioned with the warehouse connection
    (the read-only BI role), a dataset per mart and the four TechHub dashboards; Ctrl-C stops it.

    Superset lives in a virtualenv of its own (<state dir>/superset/venv, or $TECHHUB_SUPERSET_VENV).
    The admin's password comes from $TECHHUB_SUPERSET_ADMIN_PASSWORD (else one is generated and
    kept in <state dir>/superset/admin_password)."""
    from techhub_lake.serve.superset.launch import launch_superset
    from techhub_lake.source.embedded import EmbeddedPostgres

    embedded = None if warehouse_url() else EmbeddedPostgres.default()
    started_here = embedded is not None and not embedded.is_running()
    superset = None
    try:
        if embedded is not None:
            embedded.start()
        superset = launch_superset(port, echo=click.echo)
        click.echo("Ctrl-C stops it")
        superset.process.wait()
    finally:
        if superset is not None:
            stop_superset(superset.process)
        if started_here and embedded.stop():
            click.echo("stopped the embedded PostgreSQL")
