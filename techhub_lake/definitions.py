"""The Dagster definitions of techhub-lake: ``dagster dev -m techhub_lake.definitions``.

Each layer exposes its own definitions (``bronze``, ``silver``, ``gold``, ``quality``, ``serve``),
built from the catalog; ``automation`` adds freshness, automation conditions, sensors and schedules to them;
this module merges them with the resources and the executor. Nothing is built at import: Dagster
calls ``defs`` (``@dg.definitions``) when it loads the code location, and the CLI calls
``lake_definitions``. Loading never touches the source database or the lake.
"""

from __future__ import annotations

import dagster as dg

from techhub_lake import settings
from techhub_lake.automation.definitions import automated
from techhub_lake.bronze.definitions import bronze_definitions
from techhub_lake.catalog import Catalog, load_catalog
from techhub_lake.gold.definitions import gold_definitions
from techhub_lake.messages import UserError
from techhub_lake.quality.definitions import quality_definitions
from techhub_lake.resources import build_resources
from techhub_lake.serve.definitions import serve_definitions
from techhub_lake.silver.definitions import silver_definitions


def run_executor() -> dg.ExecutorDefinition | None:
    """How a run launched by the UI, a sensor, a schedule or a backfill executes its steps.

    By default (``$TECHHUB_EXECUTOR`` unset or ``in_process``) every step runs in the run's own
    process, one after the other, as ``techhub-lake refresh`` runs them: Dagster's multiprocess
    executor starts a Python process per step, which loads the whole code location again; on 2
    cores that made a source change take 63 s through bronze and 103 s through silver and gold
    instead of 6 s and 28 s (``python -m techhub_lake_tests.bench.automation --scale 1``).
    ``multiprocess`` chooses Dagster's default (steps in parallel, each in a process of its own);
    ``k8s`` a Kubernetes pod per step (the Helm deployment, ``deploy/helm/values.yaml``; needs
    ``techhub-lake[k8s]``)."""
    chosen = settings.executor()
    if chosen in ("", "in_process"):
        return dg.in_process_executor
    if chosen == "multiprocess":
        return None
    if chosen != "k8s":
        raise UserError(f"${settings.EXECUTOR_ENV}={chosen!r}: use in_process (the default), multiprocess or k8s")
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError:
        raise UserError(f"${settings.EXECUTOR_ENV}=k8s needs dagster-k8s: pip install 'techhub-lake[k8s]'") from None
    return k8s_job_executor


def build_definitions(catalog: Catalog, resources: dict | None = None) -> dg.Definitions:
    """The whole graph for a catalog: every layer's assets and checks, automated, with a set of
    resources (the environment's where not given)."""
    silver = silver_definitions(catalog)
    layers = dg.Definitions.merge(bronze_definitions(catalog), silver, gold_definitions(catalog, silver))
    layers = dg.Definitions.merge(layers, quality_definitions(catalog, layers))
    layers = dg.Definitions.merge(layers, serve_definitions(layers))
    return dg.Definitions.merge(
        automated(layers, catalog),
        dg.Definitions(resources=build_resources() | (resources or {}), executor=run_executor()),
    )


def lake_catalog() -> Catalog:
    """The catalog the environment names (``$TECHHUB_CATALOG``), else the packaged one."""
    return load_catalog(settings.catalog_path())


def lake_definitions() -> tuple[dg.Definitions, Catalog]:
    """The environment's graph and the catalog it was built from: what the CLI runs."""
    catalog = lake_catalog()
    return build_definitions(catalog), catalog


@dg.definitions
def defs() -> dg.Definitions:
    """The code location Dagster loads (``dagster dev``, the webserver, the daemon, run workers)."""
    return lake_definitions()[0]
