"""Names of the environment variables the project reads, and where its local state lives.

Secrets and hosts only ever come from the environment; nothing here holds one. Dagster
resources read these variables through ``dg.EnvVar`` (see ``techhub_lake.resources``); the
CLI reads them directly because it runs outside Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_URL_ENV = "TECHHUB_SOURCE_URL"
LAKE_ROOT_ENV = "TECHHUB_LAKE_ROOT"
STATE_DIR_ENV = "TECHHUB_STATE_DIR"
CATALOG_ENV = "TECHHUB_CATALOG"
EXECUTOR_ENV = "TECHHUB_EXECUTOR"
DAGSTER_STORAGE_URL_ENV = "DAGSTER_POSTGRES_URL"  # Dagster's own storage (default: the embedded server)

STATE_DIR_NAME = ".techhub-lake"


def state_dir() -> Path:
    """The project's state directory: embedded PostgreSQL data, the default local lake, DAGSTER_HOME.

    ``$TECHHUB_STATE_DIR`` if set, else ``.techhub-lake`` in the current directory (the README
    runs every command from the repository root).
    """
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).expanduser().resolve() if configured else (Path.cwd() / STATE_DIR_NAME).resolve()


def default_lake_root() -> str:
    """The lake root used when ``$TECHHUB_LAKE_ROOT`` is not set: a directory in the state dir."""
    return str(state_dir() / "lake")
