"""``techhub-lake bi`` in one call: the BI role on the warehouse, Superset installed and bootstrapped,
the bundle imported, the web server started."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from techhub_lake.resources.warehouse import WarehouseDatabase, resolve_warehouse_url
from techhub_lake.serve.superset.install import ensure_superset
from techhub_lake.serve.superset.instance import ADMIN_USER, SupersetHome
from techhub_lake.serve.superset.provision import provision
from techhub_lake.serve.warehouse import SCHEMA, ensure_bi_role


@dataclass(frozen=True)
class RunningSuperset:
    """A Superset started by ``launch_superset``."""

    process: subprocess.Popen
    url: str
    home: SupersetHome


def published_tables(warehouse: WarehouseDatabase) -> int:
    """How many tables the warehouse's ``analytics`` schema holds."""
    with warehouse.transaction() as cur:
        cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (SCHEMA,))
        return cur.fetchone()[0]


def launch_superset(port: int, echo: Callable[[str], None] = print, home: SupersetHome | None = None) -> RunningSuperset:
    """Make the BI role (password from ``$TECHHUB_BI_PASSWORD``, else generated for this home),
    install Superset once, bootstrap it, import the dashboards and start it on 127.0.0.1:``port``."""
    home = home or SupersetHome.default()
    warehouse = WarehouseDatabase(url=resolve_warehouse_url())
    with warehouse.transaction() as cur:
        ensure_bi_role(cur, home.bi_password())
    if not published_tables(warehouse):
        echo("the warehouse holds no mart yet: the dashboards fill once `techhub-lake refresh` has run")
    ensure_superset(home.venv, echo)
    echo(f"preparing Superset in {home.directory} (metadata, admin account, the TechHub dashboards)")
    home.bootstrap()
    provision(home, warehouse.resolved_url(), home.bi_password())
    process = home.start(port)
    url = f"http://127.0.0.1:{port}"
    echo(f"Superset is up on {url}: log in as {ADMIN_USER} (password: $TECHHUB_SUPERSET_ADMIN_PASSWORD, or the one "
         f"in {home.directory / 'admin_password'})")
    return RunningSuperset(process, url, home)
