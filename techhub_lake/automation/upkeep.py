"""The lake's nightly upkeep as a Dagster job: compaction, VACUUM and debris removal
(``techhub_lake.lake.maintenance``) over every Delta table and directory of the lake."""

from __future__ import annotations

import dagster as dg

from techhub_lake.lake.layout import LAKE_ROOTS
from techhub_lake.lake.maintenance import VACUUM_RETENTION, upkeep_lake
from techhub_lake.metadata import markdown_table
from techhub_lake.resources import LakeStorage

UPKEEP_CRON = "0 5 * * *"  # after the reconciliation (03:00) and the quality report (04:00)


@dg.op(name="upkeep_lake_files", description="Compacts Delta tables of many small files, VACUUMs files no version of the "
                                       f"last {VACUUM_RETENTION.days} days references, removes temporary files of "
                                       "killed writes.")
def lake_upkeep_op(context, lake: LakeStorage) -> dg.Output:  # context: an OpExecutionContext
    """Upkeep of the whole lake; what it did goes to the run's metadata."""
    tables, debris = upkeep_lake(lake.files(), LAKE_ROOTS, context.log.info)
    touched = [t for t in tables if t.compacted or t.removed]
    return dg.Output(None, metadata={
        "tables": dg.MetadataValue.int(len(tables)),
        "files_compacted": dg.MetadataValue.int(sum(t.compacted for t in tables)),
        "files_vacuumed": dg.MetadataValue.int(sum(t.removed for t in tables)),
        "debris_removed": dg.MetadataValue.int(len(debris)),
        "changed": dg.MetadataValue.md(markdown_table(
            ["table", "files before", "after", "compacted", "vacuumed"],
            ([t.path, t.files_before, t.files_after, t.compacted, t.removed] for t in touched))),
    })


@dg.job(name="lake_upkeep", tags={"techhub/trigger": "lake_upkeep"},
        description="Nightly upkeep of the lake's files: OPTIMIZE (compaction), VACUUM, debris of killed writes.")
def lake_upkeep_job() -> None:
    lake_upkeep_op()


def upkeep_schedule(timezone: str) -> dg.ScheduleDefinition:
    """The upkeep job every night at 05:00 in the lake's time zone."""
    return dg.ScheduleDefinition(name="lake_upkeep", cron_schedule=UPKEEP_CRON, execution_timezone=timezone,
                                 job=lake_upkeep_job, default_status=dg.DefaultScheduleStatus.RUNNING,
                                 description="Compaction, VACUUM and debris removal across the lake.")
