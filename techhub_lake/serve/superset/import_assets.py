"""Run by Superset's own Python (its virtualenv, or the Superset image in docker compose), not the
lake's: import the bundle directory with Superset's ``ImportAssetsCommand``, which overwrites every
database, dataset, chart and dashboard of the bundle by uuid. (``superset import-dashboards``
creates the charts and datasets a dashboard names but never updates them, so a changed chart or a
new BI password would not reach Superset.)

Usage: ``python import_assets.py BUNDLE_DIR USER``, with the warehouse connection's password in
``$TECHHUB_BI_PASSWORD`` and, optionally, its URI (password masked) in ``$TECHHUB_SUPERSET_WAREHOUSE_URI``.
"""

import os
import sys
from pathlib import Path

import yaml


def bundle_contents(directory: Path, warehouse_uri: str | None) -> dict[str, str]:
    """Every YAML file of the bundle by its path inside it, the databases' URI replaced when given."""
    contents = {}
    for path in sorted(directory.rglob("*.yaml")):
        name = path.relative_to(directory).as_posix()
        text = path.read_text(encoding="utf-8")
        if warehouse_uri and name.startswith("databases/"):
            text = yaml.safe_dump({**yaml.safe_load(text), "sqlalchemy_uri": warehouse_uri}, sort_keys=False,
                                  allow_unicode=True)
        contents[name] = text
    return contents


def main(directory: str, username: str) -> None:
    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.exceptions import CommandInvalidError
        from superset.commands.importers.v1.assets import ImportAssetsCommand

        g.user = security_manager.find_user(username=username)
        contents = bundle_contents(Path(directory), os.environ.get("TECHHUB_SUPERSET_WAREHOUSE_URI"))
        passwords = {name: os.environ["TECHHUB_BI_PASSWORD"] for name in contents if name.startswith("databases/")}
        command = ImportAssetsCommand(contents, passwords=passwords)
        try:
            command.validate()  # run() would hide which file and field Superset refuses
        except CommandInvalidError as error:
            sys.exit(f"the bundle was refused: {error.normalized_messages()}")
        command.run()
        print(f"imported {len(contents)} file(s) from {directory}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
