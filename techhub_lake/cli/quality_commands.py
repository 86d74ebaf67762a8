"""``techhub-lake quality``: the data contracts as the checks see them."""

from __future__ import annotations

import click


@click.group("quality")
def quality_group() -> None:
    """The Soda data contracts on the source, silver and gold."""


def _contracts():
    from techhub_lake.definitions import lake_definitions
    from techhub_lake.quality.definitions import lake_contracts

    return lake_contracts(lake_definitions()[0])


@quality_group.command("list")
def quality_list_command() -> None:
    """Every checked table with its rules and their levels."""
    for contract in _contracts():
        rules = ", ".join(f"{c.name}{'' if c.level == 'error' else ' (warn)'}" for c in contract.checks)
        click.echo(f"{contract.target.sql_name:<36} {contract.target.asset_key.to_user_string():<44} {rules}")


@quality_group.command("contract")
@click.argument("table")
def quality_contract_command(table: str) -> None:
    """Print the whole Soda contract of TABLE (e.g. silver.dim_user): generated checks and file."""
    contracts = {c.target.sql_name: c for c in _contracts()}
    if table not in contracts:
        raise click.BadParameter(f"no checked table {table!r}; `techhub-lake quality list` shows them", param_hint="TABLE")
    contract = contracts[table]
    target = contract.target
    dataset = f"lake/{target.layer}/{target.name}" if target.path else f"techhub/<database>/public/{target.name}"
    click.echo(f"# {table}: {contract.target.asset_key.to_user_string()}"
               + (f", from {', '.join(contract.files)}" if contract.files else ", generated only"))
    click.echo(contract.to_yaml(dataset), nl=False)
