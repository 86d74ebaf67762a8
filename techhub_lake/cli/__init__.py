"""The ``techhub-lake`` command line: the synthetic source, the catalog, refreshes and the UI."""

from __future__ import annotations

import logging
import sys

import click

from techhub_lake.automation.errors import RefreshFailed
from techhub_lake.cli.bi_commands import bi_command
from techhub_lake.cli.cdc_commands import cdc_group
from techhub_lake.cli.lake_commands import (
    catalog_group,
    demo_command,
    instance_group,
    rebuild_command,
    refresh_command,
    ui_command,
)
from techhub_lake.cli.quality_commands import quality_group
from techhub_lake.cli.query_commands import sql_command, warehouse_group
from techhub_lake.cli.signals import install_stop_signals
from techhub_lake.cli.source_commands import source_group
from techhub_lake.messages import UserError
from techhub_lake.resources.lake import LakeUnavailable
from techhub_lake.source.connection import SourceUnavailable
from techhub_lake.source.generator import SourceNotSynthetic

# Errors a user can fix; shown as one line, without a traceback.
USER_ERRORS = (UserError, SourceUnavailable, SourceNotSynthetic, LakeUnavailable, RefreshFailed)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="techhub-lake")
def cli() -> None:
    """techhub-lake: the TechHub PostgreSQL database as a bronze -> silver -> gold lakehouse on Dagster."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(source_group)
cli.add_command(catalog_group)
cli.add_command(instance_group)
cli.add_command(quality_group)
cli.add_command(cdc_group)
cli.add_command(refresh_command)
cli.add_command(rebuild_command)
cli.add_command(ui_command)
cli.add_command(demo_command)
cli.add_command(sql_command)
cli.add_command(bi_command)
cli.add_command(warehouse_group)


def main() -> None:
    """Console-script entry point."""
    install_stop_signals()
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
