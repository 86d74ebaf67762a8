"""Every environment variable the project reads, and where its local state lives.

This is the one module that reads the environment: each variable is named here, with its meaning
and default, and read by a function of its own when it is needed (never at import). Secrets and
hosts only ever come from the environment; nothing here holds one. Dagster resources take the
secret ones through ``dg.EnvVar`` (``techhub_lake.resources``), so their values are resolved by
Dagster at run time and never shown in the UI.
"""

from __future__ import annotations

import os
from pathlib import Path

from techhub_lake.messages import UserError

# The source and the lake
SOURCE_URL_ENV = "TECHHUB_SOURCE_URL"  # the source database (default: the running embedded server)
READER_PASSWORD_ENV = "TECHHUB_READER_PASSWORD"  # password of the read-only role `source init --reader` makes
LAKE_ROOT_ENV = "TECHHUB_LAKE_ROOT"  # a local directory or s3://bucket[/prefix] (default: <state dir>/lake)
S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL"  # S3 / MinIO access, read by the lake resource through dg.EnvVar
S3_REGION_ENV = "AWS_REGION"
S3_ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
S3_SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"
CATALOG_ENV = "TECHHUB_CATALOG"  # another catalog YAML instead of the packaged one
STATE_DIR_ENV = "TECHHUB_STATE_DIR"  # embedded PostgreSQL data, default lake, DAGSTER_HOME (default ./.techhub-lake)
# Serving
WAREHOUSE_URL_ENV = "TECHHUB_WAREHOUSE_URL"  # the PostgreSQL warehouse BI reads (default: database `warehouse` embedded)
BI_PASSWORD_ENV = "TECHHUB_BI_PASSWORD"  # password of the read-only BI role `techhub_bi` (unset: no such role)
SUPERSET_ADMIN_PASSWORD_ENV = "TECHHUB_SUPERSET_ADMIN_PASSWORD"  # `techhub-lake bi`'s admin (unset: generated once)
SUPERSET_SECRET_KEY_ENV = "TECHHUB_SUPERSET_SECRET_KEY"  # Superset's session key (unset: generated once)
SUPERSET_VENV_ENV = "TECHHUB_SUPERSET_VENV"  # Superset's own virtualenv (default <state dir>/superset/venv)
# Gold
BIN_MASK_FROM_YEAR_ENV = "TECHHUB_BIN_MASK_FROM_YEAR"  # techpark marts mask BINs of reports from this year (2021)
BIN_MASK_KEEP_LAST_ENV = "TECHHUB_BIN_MASK_KEEP_LAST"  # ... keeping this many trailing digits (4)
# Orchestration
EXECUTOR_ENV = "TECHHUB_EXECUTOR"  # in_process (default), multiprocess or k8s
AUTOMATION_INTERVAL_ENV = "TECHHUB_AUTOMATION_INTERVAL_MINUTES"  # silver/gold automation at most every N minutes (10)
ALERT_WEBHOOK_ENV = "TECHHUB_ALERT_WEBHOOK"  # where alerts are POSTed as JSON: failed runs, quality and freshness changes, CDC (unset: nowhere)
CDC_WAL_ALERT_ENV = "TECHHUB_CDC_WAL_ALERT_MB"  # alert when the CDC slot retains more WAL than this (1024)
DAGSTER_HOME_ENV = "DAGSTER_HOME"  # Dagster's instance directory (default <state dir>/dagster)
DAGSTER_STORAGE_URL_ENV = "DAGSTER_POSTGRES_URL"  # Dagster's own storage (default: the embedded server)
# Dagster's switches for partition events, with the lake's values: set in every process that can
# create runs or write their events (the CLI sets them for itself and for `dagster dev`; compose and
# Helm set them for each service). A value already in the environment wins.
EVENT_SWITCHES = {
    "DAGSTER_EVENT_BATCH_SIZE": "500",
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
}
# Tests only: a named point where a process is killed or paused (techhub_lake/faults.py)
FAULT_ENV = "TECHHUB_FAULT"

STATE_DIR_NAME = ".techhub-lake"


def configured(name: str) -> str | None:
    """The value of one of the variables above, or None when it is unset or empty."""
    return os.environ.get(name) or None


def source_url() -> str | None:
    """``$TECHHUB_SOURCE_URL``, or None (the embedded server is meant)."""
    return configured(SOURCE_URL_ENV)


def reader_password() -> str:
    """``$TECHHUB_READER_PASSWORD`` (empty when unset)."""
    return configured(READER_PASSWORD_ENV) or ""


def warehouse_url() -> str | None:
    """``$TECHHUB_WAREHOUSE_URL``, or None (the embedded server's ``warehouse`` database is meant)."""
    return configured(WAREHOUSE_URL_ENV)


def bi_password() -> str | None:
    """``$TECHHUB_BI_PASSWORD``, or None."""
    return configured(BI_PASSWORD_ENV)


def superset_admin_password() -> str | None:
    """``$TECHHUB_SUPERSET_ADMIN_PASSWORD``, or None (``techhub-lake bi`` then generates one)."""
    return configured(SUPERSET_ADMIN_PASSWORD_ENV)


def superset_secret_key() -> str | None:
    """``$TECHHUB_SUPERSET_SECRET_KEY``, or None (``techhub-lake bi`` then generates one)."""
    return configured(SUPERSET_SECRET_KEY_ENV)


def superset_venv() -> Path:
    """Where Superset's own virtualenv is (``$TECHHUB_SUPERSET_VENV``, else ``<state dir>/superset/venv``)."""
    chosen = configured(SUPERSET_VENV_ENV)
    return Path(chosen).expanduser().resolve() if chosen else state_dir() / "superset" / "venv"


def catalog_path() -> str | None:
    """``$TECHHUB_CATALOG``, or None for the packaged catalog."""
    return configured(CATALOG_ENV)


def executor() -> str:
    """``$TECHHUB_EXECUTOR``, lower case, empty for the default."""
    return (configured(EXECUTOR_ENV) or "").strip().lower()


def automation_interval_minutes() -> int:
    """How often at most a silver or gold asset is refreshed by automation (default 10 minutes)."""
    value = configured(AUTOMATION_INTERVAL_ENV) or "10"
    if not value.isdigit() or not 1 <= int(value) <= 59:
        raise UserError(f"${AUTOMATION_INTERVAL_ENV}={value!r}: give a whole number of minutes from 1 to 59")
    return int(value)


def alert_webhook() -> str | None:
    """``$TECHHUB_ALERT_WEBHOOK``, or None."""
    return configured(ALERT_WEBHOOK_ENV)


def cdc_wal_alert_bytes() -> int:
    """How much WAL the lake's replication slot may hold back before an alert (default 1024 MB)."""
    value = configured(CDC_WAL_ALERT_ENV) or "1024"
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"${CDC_WAL_ALERT_ENV}={value!r}: give a whole number of megabytes, at least 1")
    return int(value) * 1024 * 1024


def dagster_home() -> str | None:
    """``$DAGSTER_HOME``, or None (the CLI then uses ``<state dir>/dagster``)."""
    return configured(DAGSTER_HOME_ENV)


def dagster_storage_url() -> str | None:
    """``$DAGSTER_POSTGRES_URL``, or None (the embedded server's ``dagster`` database is meant)."""
    return configured(DAGSTER_STORAGE_URL_ENV)


def event_switches() -> dict[str, str]:
    """Dagster's event switches as this process should run with them: the environment's values, else
    the lake's."""
    return {name: configured(name) or value for name, value in EVENT_SWITCHES.items()}


def fault() -> str | None:
    """``$TECHHUB_FAULT``: the fault the reliability suite injects into this process, if any."""
    return configured(FAULT_ENV)


def state_dir() -> Path:
    """The project's state directory: embedded PostgreSQL data, the default local lake, DAGSTER_HOME.

    ``$TECHHUB_STATE_DIR`` if set, else ``.techhub-lake`` in the current directory (the README
    runs every command from the repository root).
    """
    chosen = configured(STATE_DIR_ENV)
    return Path(chosen).expanduser().resolve() if chosen else (Path.cwd() / STATE_DIR_NAME).resolve()


def default_lake_root() -> str:
    """The lake root used when ``$TECHHUB_LAKE_ROOT`` is not set: a directory in the state dir."""
    return str(state_dir() / "lake")
