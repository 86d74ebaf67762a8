"""The fault-injection stand: a real source, a lake, a Dagster instance on PostgreSQL, and the
`techhub-lake refresh` command run as a real process that a fault kills or breaks on purpose.

A trial runs a refresh with ``TECHHUB_FAULT`` set (``techhub_lake.faults``), then the next refresh
as a user would, and checks what the lake must guarantee: every Delta table and bronze file still
readable, silver equal to the source (no row lost, none duplicated), no temporary debris left by
the killed write, and the source pool free.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from techhub_lake.automation.recovery import pool_state
from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.catalog import Catalog
from techhub_lake.definitions import build_definitions
from techhub_lake.lake.delta import open_delta, read_delta
from techhub_lake.lake.maintenance import delta_tables
from techhub_lake.lake.storage import TEMPORARY_MARK, LakeFiles
from techhub_lake.resources import LakeStorage
from techhub_lake.settings import FAULT_ENV
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.source.policy import SOURCE_POOL
from techhub_lake_tests.dagster_services import free_port
from techhub_lake_tests.helpers import resources_for
from techhub_lake_tests.silver.test_current_state import differing_keys, source_rows

CLI = str(Path(sys.executable).with_name("techhub-lake"))


@dataclass
class Stand:
    """One source, one lake, one Dagster instance, and the CLI's environment pointed at them."""

    url: str
    catalog: Catalog
    lake: LakeFiles
    instance: dg.DagsterInstance
    env: dict[str, str]
    work: Path
    storage: LakeStorage | None = None  # how the lake resource reaches the lake (default: its local root)

    def definitions(self) -> dg.Definitions:
        return build_definitions(self.catalog, resources_for(self.url, self.storage or self.lake.root))

    def cli(self, *args: str, fault: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``techhub-lake <args>`` as its own process (with a fault, if given) to its end."""
        environment = self.env | ({FAULT_ENV: fault} if fault else {})
        return subprocess.run([CLI, *args], env=environment, capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, fault: str | None = None) -> tuple[subprocess.Popen, Path]:
        """Start ``techhub-lake <args>`` in the background: the process and the file its stderr goes to."""
        environment = self.env | ({FAULT_ENV: fault} if fault else {})
        errors = self.work / f"cli-{time.monotonic_ns()}.err"
        process = subprocess.Popen([CLI, *args], env=environment, stdout=subprocess.DEVNULL, stderr=errors.open("w"),
                                   text=True)
        return process, errors

    def refresh(self, selection: str, *extra: str, fault: str | None = None, **options):
        """``techhub-lake refresh --select <selection>`` as its own process (checks left out: the
        trials are about data, and the checks have suites of their own)."""
        return self.cli("refresh", "--skip-checks", "--select", selection, *extra, fault=fault, **options)

    def recover(self, selection: str, reconcile: bool = True) -> list[str]:
        """The next refresh, as the user runs it after the fault (in this process, on the same
        instance): its lines."""
        lines: list[str] = []
        refresh_lake(selection, lines.append, defs=self.definitions(), catalog=self.catalog, instance=self.instance,
                     reconcile=reconcile, checks=False)
        return lines

    # --- what every trial checks afterwards ----------------------------------------------------

    def assert_readable(self) -> None:
        """Every Delta table opens and reads, every published bronze file is whole Parquet."""
        for layer in ("silver", "gold"):
            for path in delta_tables(self.lake, layer):
                open_delta(self.lake, path).to_pyarrow_dataset().count_rows()
        for f in self.lake.list_files("bronze/techhub"):
            if f.endswith(".parquet"):
                with self.lake.fs.open_input_file(self.lake.path(f)) as handle:
                    pq.read_metadata(handle)

    def debris(self, under: str = "bronze") -> list[str]:
        """Temporary files of writes (hidden ``.tmp-`` files) left under a directory."""
        selector = pafs.FileSelector(self.lake.path(under), recursive=True, allow_not_found=True)
        return [info.path for info in self.lake.fs.get_file_info(selector)
                if info.type == pafs.FileType.File and TEMPORARY_MARK in info.base_name]

    def assert_pool_free(self) -> None:
        assert pool_state(self.instance, SOURCE_POOL).claimed == 0
        assert not self.instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))

    def assert_silver_equals_source(self, *tables: str) -> None:
        """Each table's silver current state equals the source's live rows, key by key and value by
        value, with one row per key."""
        for name in tables:
            table = self.catalog.table(name)
            silver = read_delta(self.lake, silver_table_path(table)).sort(list(table.primary_key))
            keys = list(table.primary_key)
            assert silver.select(keys).is_duplicated().sum() == 0, f"{name}: duplicate keys in silver"
            source = source_rows(self.url, table, self.work / f"source-{name}-{time.monotonic_ns()}")
            assert differing_keys(silver, source, table) == (set(), set(), set()), name

    def silver_version(self, name: str) -> int:
        return open_delta(self.lake, silver_table_path(self.catalog.table(name))).version()


class TcpProxy:
    """A loopback TCP proxy in front of a server, in a process of its own (delta-rs holds the GIL
    while it waits on the network, so a proxy thread in the test process would deadlock it):
    ``cut()`` kills it, dropping every connection and refusing new ones, as the server looks to its
    clients when it stops; ``restore()`` starts it again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._process: subprocess.Popen | None = None
        self.restore()

    def restore(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "techhub_lake_tests.reliability.proxy",
                                          str(self.port), str(self.target_port)])
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "the proxy did not start"
                time.sleep(0.05)

    def cut(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def close(self) -> None:
        self.cut()


def wait_for(path: Path, seconds: float = 180) -> None:
    """Until a paused process has created ``path`` (it reached its fault point)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"the process never reached the fault point ({path.name})"
        time.sleep(0.1)
