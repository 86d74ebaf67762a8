"""``techhub-lake source init|churn|url|stop``: the synthetic TechHub source database."""

from __future__ import annotations

import click

from techhub_lake.settings import READER_PASSWORD_ENV, reader_password, source_url
from techhub_lake.source.app_tables import max_app_tables
from techhub_lake.source.cdc import PUBLICATION, ensure_publication
from techhub_lake.source.churn import churn_source
from techhub_lake.source.connection import redact
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import holds_synthetic_source, init_source
from techhub_lake.source.roles import ensure_read_only_role


def target_source_url() -> str:
    """``$TECHHUB_SOURCE_URL`` if set, else the embedded server (started if needed)."""
    configured = source_url()
    if configured:
        return configured
    embedded = EmbeddedPostgres.default()
    if not embedded.is_running():
        click.echo(f"starting the embedded PostgreSQL in {embedded.data_dir}", err=True)
    return embedded.start()


def print_init_report(report) -> None:
    """The per-table rows and sizes of a fill, and the totals."""
    click.echo(f"\n{'table':<28} {'rows':>10} {'MB':>10}")
    for table in sorted(report.rows, key=lambda t: -report.bytes[t]):
        click.echo(f"{table:<28} {report.rows[table]:>10,} {report.bytes[table] / 1e6:>10.1f}")
    click.echo(
        f"{'total':<28} {sum(report.rows.values()):>10,} {report.total_bytes / 1e6:>10.1f}"
        f"   ({report.seconds:.1f} s, {report.total_bytes / 1e6 / max(report.seconds, 1e-9):.0f} MB/s)"
    )


@click.group("source")
def source_group() -> None:
    """The synthetic TechHub source database (embedded unless $TECHHUB_SOURCE_URL is set)."""


def captured_tables() -> list[str]:
    """The tables the lake's catalog (``$TECHHUB_CATALOG`` or the packaged one) captures by CDC."""
    from techhub_lake.catalog import load_catalog
    from techhub_lake.settings import catalog_path

    return [t.name for t in load_catalog(catalog_path()).captured_tables]


@source_group.command("init")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True, max=10), default=0.01, show_default=True,
              help="1 is the real system's size (~2.5 GB).")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed and scale, same data.")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Parallel connections.")
@click.option("--keep-existing", is_flag=True,
              help="Do nothing when the database already holds a generated source (a deployment's init service).")
@click.option("--app-tables", type=click.IntRange(0, max_app_tables()), default=0, show_default=True,
              help="Also add this many tables of a Django project's other apps (with Django's own), as a "
                   f"database of ~150 tables has; at most {max_app_tables()}.")
@click.option("--reader", default=None, metavar="ROLE",
              help=f"Also create (or update) a read-only login role for the lake, its password from ${READER_PASSWORD_ENV}.")
def init_command(scale: float, seed: int, workers: int, keep_existing: bool, app_tables: int, reader: str | None) -> None:
    """Create every TechHub table and fill it deterministically."""
    url = target_source_url()
    if keep_existing and holds_synthetic_source(url):
        click.echo(f"source: {redact(url)} already holds a generated TechHub source; kept as it is")
    else:
        report = init_source(url, scale=scale, seed=seed, workers=workers, app_tables=app_tables,
                             progress=lambda line: click.echo(line, err=True))
        print_init_report(report)
        click.echo(f"source: {redact(url)}")
    if reader:
        ensure_read_only_role(url, reader, reader_password())
        click.echo(f"read-only role '{reader}': may connect, SELECT and stream changes, nothing else")
        captured = captured_tables()
        if captured:  # made here by the owner, so the read-only role never needs to
            ensure_publication(url, captured)
            click.echo(f"publication {PUBLICATION}: {', '.join(captured)}")


@source_group.command("churn")
@click.option("--seed", type=int, default=1, show_default=True, help="Which rows change (same seed, same batch).")
@click.option("--migrate", is_flag=True, help="Also apply the next schema migration (adds a column).")
def churn_command(seed: int, migrate: bool) -> None:
    """Apply one realistic batch of inserts, updates and deletes to the synthetic source."""
    report = churn_source(target_source_url(), seed=seed, migrate=migrate)
    click.echo(f"{'table':<28} {'inserted':>9} {'updated':>9} {'(silent)':>9} {'deleted':>9}")
    for table, change in sorted(report.changed().items()):
        click.echo(f"{table:<28} {change.inserted:>9} {change.updated:>9} {change.silent_updates:>9} {change.deleted:>9}")
    if report.migrated:
        table, column, sql_type = report.migrated
        click.echo(f"migration: added {table}.{column} ({sql_type})")


@source_group.command("url")
def url_command() -> None:
    """Print the URL of the running embedded source (for psql and other tools)."""
    url = EmbeddedPostgres.default().url()
    if url is None:
        raise click.ClickException("no embedded source is running: run `techhub-lake source init`")
    click.echo(url)


@source_group.command("stop")
def stop_command() -> None:
    """Stop the embedded source (its data stays in the state directory)."""
    embedded = EmbeddedPostgres.default()
    if embedded.stop():
        click.echo(f"stopped the embedded PostgreSQL in {embedded.data_dir}")
    else:
        click.echo("the embedded PostgreSQL was not running")
