"""Run by Superset's own Python (its virtualenv), not the lake's: import a bundle with Superset's
``ImportAssetsCommand``, which overwrites every database, dataset, chart and dashboard of the bundle
by uuid. (``superset import-dashboards`` creates the charts and datasets a dashboard names but never
updates them, so a changed chart or a new BI password would not reach Superset.)

Usage: ``<superset venv>/bin/python import_assets.py BUNDLE.zip USER``, with the warehouse
connection's password in ``$TECHHUB_BI_PASSWORD``.
"""

import os
import sys
from zipfile import ZipFile


def main(bundle: str, username: str) -> None:
    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.commands.importers.v1.utils import get_contents_from_bundle

        g.user = security_manager.find_user(username=username)
        with ZipFile(bundle) as archive:
            contents = get_contents_from_bundle(archive)
        passwords = {name: os.environ["TECHHUB_BI_PASSWORD"] for name in contents if name.startswith("databases/")}
        from superset.commands.exceptions import CommandInvalidError

        command = ImportAssetsCommand(contents, passwords=passwords)
        try:
            command.validate()  # run() would hide which file and field Superset refuses
        except CommandInvalidError as error:
            sys.exit(f"the bundle was refused: {error.normalized_messages()}")
        command.run()
        print(f"imported {len(contents)} file(s)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
