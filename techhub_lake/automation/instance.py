"""The Dagster instance the lake runs on: storage in PostgreSQL, partition events written in batches.

A first load materializes every daily partition since the catalog's start, ~2,900 per daily asset.
Dagster 1.13 writes one event per partition unless two switches are on, and then that bookkeeping,
not the data, is what a first load costs (minutes on SQLite or default PostgreSQL for a small
source). The switches:

- ``DAGSTER_EVENT_BATCH_SIZE``: events stored in bulk inserts (PostgreSQL storage only); read in
  the process that writes a run's events (the run worker, or the CLI for an in-process refresh);
- ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS``: one "planned" event per asset and partition
  range instead of one per partition; read where runs are created (webserver, daemon, CLI).

The trade-off Dagster documents for the second: when a range run fails, its partitions are not
marked *failed* (they stay missing, and the run shows as failed). The refresh and the sensors name
the failed run and its range for that reason.

By default the storage is a database ``dagster`` on the embedded PostgreSQL (the one that also
serves the synthetic source); ``$DAGSTER_POSTGRES_URL`` names another server instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from techhub_lake import settings
from techhub_lake.messages import UserError
from techhub_lake.settings import DAGSTER_HOME_ENV, DAGSTER_STORAGE_URL_ENV, STATE_DIR_ENV, state_dir

DAGSTER_DATABASE = "dagster"
PROJECT_DAGSTER_YAML = "dagster.yaml"

# Statement timeout (ms) of the storage connections a refresh holds: far above any bulk insert of events.
STORAGE_STATEMENT_TIMEOUT_MS = 60_000


def hold_storage_connections(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """Make a long-lived process (a refresh, a rebuild) keep its connections to the instance's
    PostgreSQL storage open, as Dagster's webserver does: by default every event write opens a new
    connection (a server process forked per event batch, ~10% of a small refresh's time)."""
    if getattr(instance.run_storage, "postgres_url", None):
        instance.optimize_for_webserver(statement_timeout=STORAGE_STATEMENT_TIMEOUT_MS, pool_recycle=3600,
                                        max_overflow=4)
    return instance


def psycopg2_url(url: str) -> str:
    """``url`` with SQLAlchemy's psycopg2 scheme: with psycopg 3 also installed (Soda's driver),
    SQLAlchemy 2.1 picks it for a bare ``postgresql://``, and Dagster's statements then fail."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise UserError(f"${DAGSTER_STORAGE_URL_ENV} must be a postgresql:// URL, got scheme {scheme!r}")
    return f"postgresql+psycopg2://{rest}"


def postgres_storage_config(url: str) -> dict:
    """Instance settings (as in ``dagster.yaml``) that keep runs, events and schedules in the
    PostgreSQL database ``url``: for instances made in code (tests, benchmarks)."""
    return {"storage": {"postgres": {"postgres_url": psycopg2_url(url)}}}


def dagster_storage_url() -> str:
    """Where Dagster keeps runs, events and schedules: ``$DAGSTER_POSTGRES_URL``, or the ``dagster``
    database of the embedded PostgreSQL (started, and the database created, when needed)."""
    configured = settings.dagster_storage_url()
    if configured:
        return psycopg2_url(configured)
    from techhub_lake.source.embedded import EmbeddedPostgres

    server = EmbeddedPostgres.default()
    server.start()
    return psycopg2_url(server.ensure_database(DAGSTER_DATABASE))


def instance_environment() -> dict[str, str]:
    """The variables the project's ``dagster.yaml`` and Dagster's event switches need, for this
    process and the Dagster processes it starts (``DAGSTER_HOME`` prepared too)."""
    home = Path(settings.dagster_home() or state_dir() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    for candidate in (Path.cwd() / PROJECT_DAGSTER_YAML, Path(__file__).resolve().parents[2] / PROJECT_DAGSTER_YAML):
        if candidate.is_file():
            target = home / PROJECT_DAGSTER_YAML
            if not target.exists() or target.read_bytes() != candidate.read_bytes():
                shutil.copyfile(candidate, target)
            break
    return {DAGSTER_HOME_ENV: str(home), STATE_DIR_ENV: str(state_dir()),
            DAGSTER_STORAGE_URL_ENV: dagster_storage_url(), **settings.event_switches()}


def prepare_dagster_home() -> Path:
    """Make this process (and what it starts) use the lake's Dagster instance: ``$DAGSTER_HOME``
    (default ``<state dir>/dagster``) with the project's ``dagster.yaml``, its PostgreSQL storage,
    and the event switches."""
    environment = instance_environment()
    os.environ.update(environment)
    return Path(environment[DAGSTER_HOME_ENV])
