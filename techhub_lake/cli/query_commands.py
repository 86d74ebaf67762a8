"""``techhub-lake sql`` (DuckDB over the whole lake) and ``techhub-lake warehouse url``: reading what
the lake holds."""

from __future__ import annotations

import sys

import click
import duckdb

from techhub_lake.messages import UserError

PROMPT, CONTINUATION = "lake> ", "  ... "
MAX_SHOWN = 10_000  # rows printed as a table (--csv prints all)


def _connection():
    from techhub_lake.automation.refresh import lake_files
    from techhub_lake.definitions import lake_definitions
    from techhub_lake.lake.sql import lake_connection
    from techhub_lake.registry import lake_tables

    defs, _ = lake_definitions()
    lake = lake_files(defs)
    connection, views = lake_connection(lake, lake_tables(defs.resolve_all_asset_specs()))
    return connection, views, lake


def _run(connection: duckdb.DuckDBPyConnection, text: str, as_csv: bool) -> None:
    """Run each statement of ``text`` in turn, printing the rows of those that return some as a table
    (at most 10,000 rows) or as CSV."""
    try:
        statements = [statement.query for statement in connection.extract_statements(text)]
        for statement in statements:
            relation = connection.sql(statement)
            if relation is None:
                continue
            if as_csv:
                import pyarrow.csv

                pyarrow.csv.write_csv(relation.fetch_arrow_table(), sys.stdout.buffer)
                sys.stdout.flush()
            else:
                click.echo(str(relation.limit(MAX_SHOWN)))
    except duckdb.Error as exc:
        raise UserError(f"SQL error: {' '.join(str(exc).split())}") from None


def _interactive(connection: duckdb.DuckDBPyConnection) -> None:
    """Read statements ended by ';' until end of input (Ctrl-D); an error is shown and the session goes on."""
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    buffered: list[str] = []
    while True:
        try:
            line = input(CONTINUATION if buffered else PROMPT)
        except EOFError:
            click.echo()
            return
        buffered.append(line)
        text = "\n".join(buffered).strip()
        if not text:
            buffered.clear()
        elif text.endswith(";"):
            buffered.clear()
            try:
                _run(connection, text, as_csv=False)
            except UserError as exc:
                click.echo(str(exc), err=True)


@click.command("sql")
@click.argument("query", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV (with a header) instead of a table.")
@click.option("--tables", "list_tables", is_flag=True, help="List the views and what each reads, then exit.")
def sql_command(query: str | None, as_csv: bool, list_tables: bool) -> None:
    """SQL over the whole lake in DuckDB: a view per table, ``bronze.<table>``, ``silver.<table>``,
    ``gold.<mart>`` (local or S3, as $TECHHUB_LAKE_ROOT says; nothing downloaded).

    With QUERY, run it and print the result; without, read statements ended by ';' (from the
    terminal, or a script on standard input)."""
    connection, views, lake = _connection()
    if not views:
        raise UserError(f"the lake at {lake.root} holds no table yet: run `techhub-lake refresh` first")
    if list_tables:
        for view in views:
            click.echo(f"{view.name:<45} {view.source:<22} {lake.uri(view.path)}")
        return
    if query:
        _run(connection, query, as_csv)
    elif sys.stdin.isatty():
        click.echo(f"{len(views)} views over {lake.root} (`techhub-lake sql --tables` lists them); "
                   "end statements with ';', Ctrl-D leaves", err=True)
        _interactive(connection)
    else:
        _run(connection, sys.stdin.read(), as_csv)


@click.group("warehouse")
def warehouse_group() -> None:
    """The PostgreSQL warehouse the gold marts are published into for BI tools."""


@warehouse_group.command("url")
def warehouse_url_command() -> None:
    """Print the warehouse's URL (for ``psql "$(techhub-lake warehouse url)"``): $TECHHUB_WAREHOUSE_URL,
    or the database ``warehouse`` on the embedded PostgreSQL."""
    from techhub_lake.resources.warehouse import resolve_warehouse_url

    click.echo(resolve_warehouse_url())
