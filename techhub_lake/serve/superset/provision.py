"""Provisioning Superset from the versioned bundle: the warehouse connection (as the read-only BI
role), a dataset per published mart, the charts and the four dashboards, imported by uuid so that
running it again updates them and never duplicates them."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from techhub_lake import settings
from techhub_lake.serve.superset.instance import ADMIN_USER, SupersetHome
from techhub_lake.serve.warehouse import BI_ROLE

BUNDLE = Path(__file__).parent / "bundle"  # Superset's export format: databases/, datasets/, charts/, dashboards/
DATABASE_FILE = Path("databases") / "techhub_warehouse.yaml"
MASKED_PASSWORD = "XXXXXXXXXX"  # what Superset writes for a password in an export
IMPORTER = Path(__file__).parent / "import_assets.py"  # run by Superset's own Python
WAREHOUSE_URI_ENV = "TECHHUB_SUPERSET_WAREHOUSE_URI"  # the importer's: the connection's URI, password masked


def superset_uri(warehouse_url: str) -> str:
    """The warehouse as Superset connects to it: the BI role through psycopg2 (Superset's own
    environment has it), whatever form ``warehouse_url`` takes; the password masked as Superset's
    export masks it (the import is given it apart)."""
    url = make_url(warehouse_url).set(drivername="postgresql+psycopg2", username=BI_ROLE, password=MASKED_PASSWORD)
    return url.render_as_string(hide_password=False)


def bundle_documents() -> dict[str, dict]:
    """Every file of the bundle, by its path inside it, parsed."""
    return {path.relative_to(BUNDLE).as_posix(): yaml.safe_load(path.read_text(encoding="utf-8"))
            for path in sorted(BUNDLE.rglob("*.yaml"))}


def provision(home: SupersetHome, warehouse_url: str, bi_password: str) -> None:
    """Import the bundle into Superset, overwriting by uuid what an earlier import made (so running
    it again updates and never duplicates), connected to ``warehouse_url`` as the BI role."""
    home.run_python(str(IMPORTER), str(BUNDLE), ADMIN_USER, environment={
        settings.BI_PASSWORD_ENV: bi_password, WAREHOUSE_URI_ENV: superset_uri(warehouse_url)})
