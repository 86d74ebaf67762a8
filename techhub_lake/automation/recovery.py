"""Runs whose process died: found, marked failed, and their pool slots given back.

A run killed hard (``kill -9``, an out-of-memory kill, a machine reboot) never records its end: it
stays STARTED in Dagster's storage and keeps the ``techhub_source`` slots its steps held, so every
later extraction waits for them forever. Dagster's run monitoring (``dagster.yaml``) fails runs
that never start and frees the slots of runs that ended; it cannot tell whether the process of a
STARTED run is alive when the run was executed in process (``techhub-lake refresh``,
``dagster asset materialize``) or by the default run launcher. This module can: a run records the
process that started it (the ``pid`` of its RUN_START event) and, for refreshes, the host
(``techhub/host``); a run of this host whose process is gone is dead.

The refresh calls :func:`fail_dead_runs` before it plans, and ``dead_runs_sensor`` does every
minute while the daemon runs.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import psutil
import sqlalchemy.exc

from techhub_lake.processes import process_gone

HOST_TAG = "techhub/host"
PID_TAG = "techhub/pid"
IN_PROGRESS = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]


def this_host() -> str:
    """The name runs of this machine carry in ``techhub/host``."""
    return socket.gethostname()


def process_tags() -> dict[str, str]:
    """Tags that say which process of which host executes a run (the refresh adds them)."""
    return {HOST_TAG: this_host(), PID_TAG: str(psutil.Process().pid)}


@dataclass(frozen=True)
class DeadRun:
    """A run recorded as in progress whose process is gone."""

    run_id: str
    pid: int
    pools: tuple[str, ...]


def _storage_is_local(instance: dg.DagsterInstance) -> bool:
    """Whether every process that can write to this instance runs on this machine: its storage is a
    PostgreSQL reached over a Unix socket (the embedded server listens on nothing else)."""
    url = getattr(instance.run_storage, "postgres_url", "") or ""
    return "host=/" in url or "host=%2F" in url


def _run_pid(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The process that started the run: its own tag, else the pid of its RUN_START event."""
    if run.tags.get(PID_TAG, "").isdigit():
        return int(run.tags[PID_TAG])
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    event = records[0].event_log_entry.dagster_event if records else None
    return event.pid if event is not None and event.pid else None


def find_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Runs in progress on this host (by their ``techhub/host`` tag, or any run when the instance's
    storage is only reachable from this machine) whose process no longer exists."""
    local = _storage_is_local(instance)
    host = this_host()
    dead = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        if run.tags.get(HOST_TAG, host if local else None) != host:
            continue
        pid = _run_pid(instance, run)
        if pid is None or not process_gone(pid, record.start_time):
            continue
        dead.append(DeadRun(run.run_id, pid, _pools_held(instance, run.run_id)))
    return dead


def _pools_held(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return ()
    return tuple(sorted(pool for pool in storage.get_concurrency_keys()
                        if any(slot.run_id == run_id for slot in storage.get_concurrency_info(pool).claimed_slots)))


def free_slots_of_finished_runs(instance: dg.DagsterInstance, pool: str, log: Callable[[str], None] = lambda _: None) -> int:
    """Give back the slots of ``pool`` still held by runs that have ended (the daemon's run
    monitoring does this too, a minute after the run ends); the number of runs freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    freed = 0
    for run_id in storage.get_concurrency_info(pool).active_run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            log(f"run {run_id} has ended: released its slots in pool {pool}")
            freed += 1
    return freed


def fail_dead_runs(instance: dg.DagsterInstance, log: Callable[[str], None] = lambda _: None) -> list[DeadRun]:
    """Mark every dead run failed (saying why) and give back the pool slots it held."""
    dead = find_dead_runs(instance)
    for run in dead:
        held = f", releasing its slots in pool(s) {', '.join(run.pools)}" if run.pools else ""
        message = f"run {run.run_id}: its process {run.pid} is gone (killed or crashed){held}"
        instance.report_run_failed(instance.get_run_by_id(run.run_id), message=message)
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log(message)
    return dead


@dataclass(frozen=True)
class PoolState:
    """How many steps ``pool`` admits at once, and who holds its slots now."""

    limit: int | None
    claimed: int
    holders: tuple[str, ...]

    @property
    def full(self) -> bool:
        return self.limit is not None and self.claimed >= self.limit


def initialize_pool(instance: dg.DagsterInstance, pool: str) -> None:
    """Give ``pool`` its default limit (``dagster.yaml``) before any run claims a slot of it.

    Dagster creates a pool's row when the first step claims it; on PostgreSQL two runs that do so
    at once make the second fail its whole run (a unique violation aborts its transaction before
    Dagster's fallback update). Done here, before the runs, a concurrent creator is harmless: the
    row exists either way afterwards."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or instance.global_op_concurrency_default_limit is None:
        return
    if any(limit.name == pool for limit in storage.get_pool_limits()):
        return
    try:
        storage.initialize_concurrency_limit_to_default(pool)
    except sqlalchemy.exc.DBAPIError:  # another process created it between our read and write
        pass


def pool_state(instance: dg.DagsterInstance, pool: str) -> PoolState:
    """The pool's limit and claimed slots (no limit where the storage has no pools)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return PoolState(None, 0, ())
    info = storage.get_concurrency_info(pool)
    return PoolState(info.limit, len(info.claimed_slots), tuple(sorted(info.active_run_ids)))


@dg.sensor(name="dead_runs_sensor", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Fails runs of this machine whose process is gone (killed, crashed) and frees the pool "
                       "slots they held, so extraction never waits for a dead run.")
def dead_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """The daemon's side of :func:`fail_dead_runs`."""
    dead = fail_dead_runs(context.instance, context.log.warning)
    if dead:
        return dg.SkipReason(f"failed {len(dead)} dead run(s): {', '.join(r.run_id for r in dead)}")
    return dg.SkipReason("no dead runs")
