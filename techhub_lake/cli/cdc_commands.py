"""``techhub-lake cdc``: the lake's replication slot on the source, looked at and dropped."""

from __future__ import annotations

import click

from techhub_lake.messages import UserError
from techhub_lake.settings import source_url


def _source() -> str:
    from techhub_lake.source.embedded import EmbeddedPostgres

    url = source_url() or EmbeddedPostgres.default().url()
    if url is None:
        raise UserError("no source configured or running: set TECHHUB_SOURCE_URL or run `techhub-lake source init`")
    return url


@click.group("cdc")
def cdc_group() -> None:
    """Change data capture: the replication slot and publication the captured tables use."""


@cdc_group.command("status")
def cdc_status_command() -> None:
    """Where the slot stands: captured tables, snapshot, confirmed LSN, lag and retained WAL."""
    from techhub_lake.automation.refresh import lake_files
    from techhub_lake.bronze.stream import read_stream_state
    from techhub_lake.definitions import lake_definitions
    from techhub_lake.source import cdc
    from techhub_lake.source.connection import redact

    defs, catalog = lake_definitions()
    url = _source()
    captured = [t.name for t in catalog.captured_tables]
    click.echo(f"source: {redact(url)}")
    click.echo(f"captured tables (strategy: cdc): {', '.join(captured) or 'none'}")
    slot = cdc.slot_state(url)
    if not slot.exists:
        click.echo(f"replication slot {cdc.slot_name(url)}: none (the next refresh or the CDC sensor creates it)")
    else:
        click.echo(f"replication slot {cdc.slot_name(url)}: {slot.wal_status}, "
                   f"{'active' if slot.active else 'idle'}, confirmed {cdc.lsn_text(slot.confirmed_lsn)}, "
                   f"lag {slot.lag_bytes or 0:,} B, retained WAL {slot.retained_wal_bytes or 0:,} B")
        if slot.invalidated:
            click.echo("  invalidated by the server: the next drain takes a new snapshot of the captured tables")
    state = read_stream_state(lake_files(defs))
    if state is None:
        click.echo("lake: no snapshot of the captured tables yet")
    else:
        taken = f"at {cdc.lsn_text(state.snapshot_lsn)}, {state.snapshot_at:%Y-%m-%d %H:%M:%S} UTC" if state.complete \
            else "unfinished (the next drain starts over)"
        click.echo(f"lake: snapshot of {', '.join(state.tables)} {taken}")


@cdc_group.command("drop")
@click.option("--yes", is_flag=True, help="Do not ask.")
def cdc_drop_command(yes: bool) -> None:
    """Drop the lake's replication slot and publication on the source (before dropping the lake, or
    to stop capturing): the server stops keeping WAL for the lake. The next drain starts over with
    a new snapshot."""
    from techhub_lake.source import cdc
    from techhub_lake.source.connection import redact

    url = _source()
    if not yes:
        click.confirm(f"drop replication slot {cdc.slot_name(url)} and publication {cdc.PUBLICATION} on {redact(url)}?",
                      abort=True)
    dropped = cdc.drop(url)
    click.echo(f"dropped {' and '.join(dropped)}" if dropped else "nothing to drop: no slot and no publication")
