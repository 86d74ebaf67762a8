"""``techhub-lake catalog check``, ``refresh``, ``ui`` and ``demo``: running the lake."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from techhub_lake.automation.instance import prepare_dagster_home
from techhub_lake.catalog import CatalogError, load_catalog
from techhub_lake.catalog.live_check import catalog_problems
from techhub_lake.cli.bi_commands import DEFAULT_BI_PORT, stop_superset
from techhub_lake.cli.signals import install_stop_signals
from techhub_lake.messages import UserError
from techhub_lake.settings import CATALOG_ENV, source_url
from techhub_lake.source.connection import read_only_snapshot, redact
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import generated_with, init_source


@click.group("catalog")
def catalog_group() -> None:
    """The table catalog."""


@catalog_group.command("check")
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), envvar=CATALOG_ENV,
              help="Catalog YAML (default: the packaged one, or $TECHHUB_CATALOG).")
def catalog_check_command(catalog_path: str | None) -> None:
    """Validate the catalog, and check it against the live source when one is reachable."""
    catalog = load_catalog(catalog_path)
    click.echo(f"{catalog.path}: {len(catalog.tables)} tables, {len(catalog.lake_tables)} loaded into the lake")
    url = source_url() or EmbeddedPostgres.default().url()
    if url is None:
        click.echo("no source configured or running: live schema check skipped")
        return
    from techhub_lake.catalog.source_drift import untracked_tables
    from techhub_lake.quality.coverage import rows_outside_by_table

    with read_only_snapshot(url) as cur:
        problems = catalog_problems(catalog, cur)
        untracked = untracked_tables(catalog, cur)
        outside = {} if problems else rows_outside_by_table(catalog, cur)
    for name, counts in outside.items():  # not lost, but late: worth a better watermark
        shown = ", ".join(f"{what} {count:,}" for what, count in counts.items() if count)
        click.echo(f"table '{name}': {sum(counts.values()):,} row(s) fall in no daily partition ({shown}); only the "
                   "nightly reconciliation loads them: give it a watermark that is never NULL, or strategy full")
    if untracked:  # not a problem (the lake loads what the catalog names), but worth a look after a migration
        click.echo(f"{len(untracked)} source table(s) the catalog does not describe, so the lake does not load them: "
                   f"{', '.join(untracked)} (`techhub-lake catalog discover` proposes entries)")
    for problem in problems:  # every mismatch in one pass, so a large database is fixed in one go
        click.echo(f"{catalog.path}: {problem}", err=True)
    if problems:
        raise CatalogError(f"{catalog.path}: {len(problems)} mismatch(es) with the source {redact(url)} (listed above)")
    click.echo(f"every table and column the catalog names exists in {redact(url)}")


@catalog_group.command("discover")
@click.option("--schema", default="public", show_default=True, help="The source schema to read.")
@click.option("--output", "output", type=click.Path(dir_okay=False, writable=True),
              help="Write the catalog here (default: print it).")
@click.option("--timezone", default="UTC", show_default=True, help="The time zone of the daily partitions.")
@click.option("--merge", "merge", type=click.Path(exists=True, dir_okay=False),
              help="An existing catalog to keep as written, with new tables appended and what is gone marked.")
def catalog_discover_command(schema: str, output: str | None, timezone: str, merge: str | None) -> None:
    """Propose a catalog for every table of the source (any PostgreSQL; $TECHHUB_SOURCE_URL, else the
    embedded one), read in one read-only snapshot: strategy, key, watermark, module, JSON keys and
    PII guessed, each table's size and the reasons as comments to review. With --merge, an
    existing catalog is kept line for line and only added to."""
    from techhub_lake.catalog.discover import discover_catalog, merge_discovered

    url = source_url() or EmbeddedPostgres.default().url()
    if url is None:
        raise UserError("no source to discover: set TECHHUB_SOURCE_URL (a read-only role is enough)")
    with read_only_snapshot(url) as cur:
        if merge:
            text = merge_discovered(cur, Path(merge).read_text(encoding="utf-8"), schema=schema)
        else:
            text = discover_catalog(cur, source=redact(url), schema=schema, timezone=timezone)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        tables = text.count("\n  - name: ")
        click.echo(f"{output}: {tables} tables {'after the merge' if merge else 'proposed'} from {redact(url)}; review "
                   f"it, then TECHHUB_CATALOG={output} techhub-lake catalog check")
    else:
        click.echo(text, nl=False)


@click.group("instance")
def instance_group() -> None:
    """The Dagster instance the lake runs on (PostgreSQL storage, batched partition events)."""


@instance_group.command("env")
def instance_env_command() -> None:
    """Print ``export`` lines for a shell that runs ``dagster`` itself: ``eval "$(techhub-lake instance env)"``.

    Starts the embedded PostgreSQL for Dagster's storage unless ``$DAGSTER_POSTGRES_URL`` is set."""
    import shlex

    from techhub_lake.automation.instance import instance_environment

    for name, value in instance_environment().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@click.command("refresh")
@click.option("--select", "selection", default=None, help="Dagster asset selection (default: every asset).")
@click.option("--reconcile", is_flag=True, help="Also repair silver rows changed without moving updated_at.")
@click.option("--skip-checks", is_flag=True,
              help="Leave the quality checks out of the runs (nothing is blocked; the checks show as not run).")
def refresh_command(selection: str | None, reconcile: bool, skip_checks: bool) -> None:
    """Bring the lake up to date with the source through the Dagster instance (runs show in the UI)."""
    from techhub_lake.automation.refresh import lake_files, refresh_lake
    from techhub_lake.definitions import lake_definitions

    defs, catalog = lake_definitions()
    lake_files(defs)  # a wrong lake root fails here, in one line, before anything starts
    prepare_dagster_home()
    refresh_lake(selection, echo=click.echo, defs=defs, catalog=catalog, reconcile=reconcile, checks=not skip_checks)


@click.command("rebuild")
@click.argument("asset")
@click.option("--reextract", is_flag=True,
              help="Extract the table's bronze history again first (every partition, one run).")
def rebuild_command(asset: str, reextract: bool) -> None:
    """Rebuild a broken or obsolete lake table from what is upstream of it: ASSET is an asset key
    (silver/account/user) or the table's path as errors print it (silver/techhub/account/user)."""
    from techhub_lake.automation.rebuild import rebuild_asset
    from techhub_lake.automation.refresh import lake_files
    from techhub_lake.definitions import lake_definitions

    defs, _ = lake_definitions()
    lake_files(defs)  # a wrong lake root fails here, in one line, before anything starts
    prepare_dagster_home()
    rebuild_asset(asset, reextract=reextract, echo=click.echo, defs=defs)


def start_dagster_ui(port: int) -> subprocess.Popen:
    """Start ``dagster dev`` on 127.0.0.1:``port`` in its own process group (stop it with ``stop_dagster_ui``)."""
    prepare_dagster_home()
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-m", "techhub_lake.definitions",
               "-h", "127.0.0.1", "-p", str(port)]
    # Own session, so stopping it reaches every process it starts; Ctrl-C restored in the child even
    # when this process was started with SIGINT ignored (as background jobs are).
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_default_sigint)


def wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    """Block until the webserver answers on ``port`` (or fail if it exits or takes too long)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"dagster dev exited with code {proc.returncode} before serving")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).close()
            return
        except OSError:
            time.sleep(1)
    raise click.ClickException(f"the Dagster UI did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


def run_dagster_ui(port: int) -> int:
    """Run ``dagster dev`` until interrupted, then stop its whole process group."""
    proc = start_dagster_ui(port)
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it)")
    try:
        return proc.wait()
    finally:
        stop_dagster_ui(proc)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_dagster_ui(proc: subprocess.Popen, timeout: float = 8.0) -> None:
    # Ask `dagster dev` to stop as Ctrl-C would, then insist; every process it started goes with it.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


@click.command("ui")
@click.option("--port", type=click.IntRange(1024, 65535), default=3000, show_default=True)
def ui_command(port: int) -> None:
    """Open the Dagster UI (``dagster dev``) on 127.0.0.1."""
    sys.exit(run_dagster_ui(port))


@click.command("demo")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=10), default=0.02, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--port", type=click.IntRange(1024, 65535), default=3000, show_default=True)
@click.option("--no-ui", is_flag=True, help="Stop after the refresh instead of opening the UI.")
@click.option("--reinit", is_flag=True, help="Regenerate the source even if it exists at this scale and seed.")
@click.option("--bi", is_flag=True, help="Also start Apache Superset with the TechHub dashboards (`techhub-lake bi`).")
@click.option("--bi-port", type=click.IntRange(1024, 65535), default=DEFAULT_BI_PORT, show_default=True)
def demo_command(scale: float, seed: int, port: int, no_ui: bool, reinit: bool, bi: bool, bi_port: int) -> None:
    """The whole thing on the embedded default: fill a throwaway PostgreSQL, refresh the lake, open the UI
    (and with --bi, Superset on the warehouse).

    The embedded server is stopped on exit (its data stays for the next run).
    """
    from techhub_lake.automation.refresh import refresh_lake
    from techhub_lake.cli.source_commands import print_init_report
    from techhub_lake.definitions import lake_definitions

    embedded = None if source_url() else EmbeddedPostgres.default()
    ui = superset = None
    try:
        if embedded is not None:
            click.echo(f"starting the embedded PostgreSQL in {embedded.data_dir}")
            url = embedded.start()
            if reinit or generated_with(url) != (seed, scale):
                click.echo(f"generating the TechHub source at scale {scale:g}, seed {seed}")
                print_init_report(init_source(url, scale=scale, seed=seed, progress=lambda line: click.echo(line, err=True)))
            else:
                click.echo(f"the source already holds scale {scale:g}, seed {seed}: kept")
        prepare_dagster_home()
        if not no_ui:
            ui = start_dagster_ui(port)
            wait_until_serving(port, ui)
            click.echo(f"Dagster UI on http://127.0.0.1:{port}: the refresh's runs appear under Runs as they go")
        defs, catalog = lake_definitions()
        refresh_lake(None, echo=click.echo, defs=defs, catalog=catalog)
        install_stop_signals()  # Dagster's in-process runs swap signal handlers; make Ctrl-C ours again
        if bi:
            from techhub_lake.serve.superset.launch import launch_superset

            superset = launch_superset(bi_port, echo=click.echo)
        if ui is not None:
            click.echo(f"the lake is up to date; the UI stays on http://127.0.0.1:{port} until Ctrl-C")
            ui.wait()
        elif superset is not None:
            click.echo(f"the lake is up to date; Superset stays on {superset.url} until Ctrl-C")
            superset.process.wait()
    finally:
        if superset is not None:
            stop_superset(superset.process)
        if ui is not None:
            stop_dagster_ui(ui)
        if embedded is not None and embedded.stop():
            click.echo("stopped the embedded PostgreSQL")
