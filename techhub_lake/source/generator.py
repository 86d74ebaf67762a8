"""`techhub-lake source init`: build and fill a synthetic TechHub database, deterministically.

All rows are generated server-side by set-based ``INSERT ... SELECT`` statements (see
:mod:`techhub_lake.source.tables`); Python only orchestrates them, two connections at a time so
both cores work. The same seed and scale give the same content on any machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions

from techhub_lake.messages import UserError, first_line
from techhub_lake.source import corpus
from techhub_lake.source.app_tables import app_tables as generated_app_tables
from techhub_lake.source.connection import connect, redact
from techhub_lake.source.tables import (
    TABLE_FILLS,
    TOP_SERVICES,
    TableFill,
    rows_at_scale,
    sql_file,
)

Progress = Callable[[str], None]

GENERATOR_VERSION = "1"
HELPER_SCHEMA = "techhub_synthetic"


class SourceNotSynthetic(RuntimeError):
    """The target database holds tables the generator did not create; it refuses to touch them."""


@dataclass
class InitReport:
    """What ``source init`` built: rows and bytes per table, and how long it took."""

    seed: int
    scale: float
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


def word_lists() -> dict[str, list[str]]:
    """The corpus word lists, as the ``%(name)s`` parameters of the fill statements."""
    return {
        "first_names": corpus.FIRST_NAMES,
        "last_names": corpus.LAST_NAMES,
        "company_words": corpus.COMPANY_WORDS,
        "company_nouns": corpus.COMPANY_NOUNS,
        "skills": corpus.SKILLS,
        "soft_skills": corpus.SOFT_SKILLS,
        "goals": corpus.GOALS,
        "cities": corpus.CITIES,
        "categories_ru": [c[0] for c in corpus.CATEGORIES],
        "categories_kk": [c[1] for c in corpus.CATEGORIES],
        "categories_en": [c[2] for c in corpus.CATEGORIES],
        "countries": corpus.COUNTRIES,
        "hubform_fields": corpus.HUBFORM_FIELDS,
        "top_services": [code for code, _ in TOP_SERVICES],
    }


def install_helpers(cur: psycopg2.extensions.cursor, seed: int) -> None:
    """(Re)create the helper schema's functions under ``seed`` and load the text corpus."""
    cur.execute(sql_file("helpers.sql").replace("{seed}", str(int(seed))))
    cur.execute(f"TRUNCATE {HELPER_SCHEMA}.sentence, {HELPER_SCHEMA}.paragraph")
    rows = [(lang, idx, body) for lang, bodies in corpus.SENTENCES.items() for idx, body in enumerate(bodies)]
    cur.executemany(f"INSERT INTO {HELPER_SCHEMA}.sentence (lang, idx, body) VALUES (%s, %s, %s)", rows)
    # 256 paragraphs per language, each a seeded choice of sentences (~1 KB in Cyrillic)
    cur.execute(
        f"""
        INSERT INTO {HELPER_SCHEMA}.paragraph (lang, idx, body)
        SELECT l.lang, p.idx,
               (SELECT string_agg({HELPER_SCHEMA}.sent('para.' || l.lang || '.' || k, p.idx, l.lang), ' ' ORDER BY k)
                FROM generate_series(1, CASE WHEN l.lang = 'en' THEN 9 ELSE 6 END) AS k)
        FROM (VALUES ('ru'), ('kk'), ('en')) AS l(lang), generate_series(0, 255) AS p(idx)
        """
    )


def _public_tables(cur: psycopg2.extensions.cursor) -> list[str]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [r[0] for r in cur.fetchall()]


def _is_synthetic(cur: psycopg2.extensions.cursor) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{HELPER_SCHEMA}.info",))
    return bool(cur.fetchone()[0])


def holds_synthetic_source(url: str) -> bool:
    """Whether the database at ``url`` already holds a source made by this generator."""
    conn = connect(url, statement_timeout_ms=60_000, application_name="techhub-lake source init")
    try:
        with conn.cursor() as cur:
            return _is_synthetic(cur)
    finally:
        conn.close()


def _reset(cur: psycopg2.extensions.cursor, url: str) -> None:
    """Drop a previous synthetic database's tables; refuse anything else."""
    existing = _public_tables(cur)
    if existing and not _is_synthetic(cur):
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise SourceNotSynthetic(
            f"refusing to initialise {redact(url)}: it has tables ({shown}) that techhub-lake did not "
            "generate; point the source URL at an empty database"
        )
    for table in existing:
        cur.execute(f'DROP TABLE IF EXISTS public."{table}" CASCADE')
    cur.execute(f"DROP SCHEMA IF EXISTS {HELPER_SCHEMA} CASCADE")


def _chunks(fill: TableFill, total: int) -> list[tuple[int, int]]:
    size = max(1, -(-total // fill.chunks))
    return [(lo, min(total, lo + size - 1)) for lo in range(1, total + 1, size)]


class _FillScheduler:
    """Hands out (table, chunk) work to the workers, holding back fills whose inputs are unfinished."""

    def __init__(self, work: list[tuple[TableFill, int, int]]) -> None:
        self._pending = list(work)
        self._chunks_left = {}
        for fill, _, _ in work:
            self._chunks_left[fill.name] = self._chunks_left.get(fill.name, 0) + 1
        self._cond = threading.Condition()
        self.failed: BaseException | None = None

    def next(self) -> tuple[TableFill, int, int] | None:
        with self._cond:
            while True:
                if self.failed is not None or not self._pending:
                    return None
                for index, (fill, lo, hi) in enumerate(self._pending):
                    if all(self._chunks_left.get(dep, 0) == 0 for dep in fill.after):
                        return self._pending.pop(index)
                self._cond.wait()

    def done(self, fill: TableFill) -> int:
        with self._cond:
            self._chunks_left[fill.name] -= 1
            self._cond.notify_all()
            return self._chunks_left[fill.name]

    def fail(self, exc: BaseException) -> None:
        with self._cond:
            self.failed = exc
            self._cond.notify_all()


def _run_fills(url: str, seed: int, counts: dict[str, int], progress: Progress, workers: int) -> None:
    params = word_lists()
    substitutions = {f"n_{name}": n for name, n in counts.items()} | {"seed": int(seed)}
    work = [(fill, lo, hi) for fill in TABLE_FILLS for lo, hi in _chunks(fill, counts[fill.name])]
    scheduler = _FillScheduler(work)
    started = time.monotonic()
    rows_done: dict[str, int] = {}
    lock = threading.Lock()

    def worker() -> None:
        conn = connect(url, statement_timeout_ms=None, application_name="techhub-lake source init")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"SET search_path = public, {HELPER_SCHEMA}")
                while (item := scheduler.next()) is not None:
                    fill, lo, hi = item
                    try:
                        cur.execute(fill.sql.format(lo=lo, hi=hi, **substitutions), params)
                    except psycopg2.Error as exc:
                        first = first_line(exc)
                        raise RuntimeError(f"filling {fill.name} rows {lo}..{hi} failed: {first}") from exc
                    left = scheduler.done(fill)
                    with lock:
                        rows_done[fill.name] = rows_done.get(fill.name, 0) + (hi - lo + 1)
                        if left == 0 or fill.chunks > 1:
                            progress(
                                f"[{time.monotonic() - started:7.1f}s] {fill.name:<28} "
                                f"{rows_done[fill.name]:>9,} / {counts[fill.name]:,} rows"
                            )
        except BaseException as exc:  # surfaced by the caller after the threads join
            scheduler.fail(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, name=f"fill-{k}", daemon=True) for k in range(max(1, workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if scheduler.failed is not None:
        raise scheduler.failed


def table_sizes(cur: psycopg2.extensions.cursor, tables: list[str]) -> dict[str, tuple[int, int]]:
    """Exact row count and total on-disk bytes (with TOAST and indexes) per table."""
    sizes = {}
    for table in tables:
        cur.execute(f'SELECT count(*), pg_total_relation_size(%s) FROM public."{table}"', (f'public."{table}"',))
        rows, size = cur.fetchone()
        sizes[table] = (int(rows), int(size))
    return sizes


def init_source(url: str, *, scale: float, seed: int, workers: int = 2, progress: Progress | None = None,
                app_tables: int = 0) -> InitReport:
    """Create every source table in the database at ``url`` and fill it for ``seed`` and ``scale``,
    plus ``app_tables`` tables of a Django project's other apps (:mod:`techhub_lake.source.app_tables`).

    A database that already holds tables not made by this generator is refused
    (:class:`SourceNotSynthetic`); a previous synthetic one is replaced.
    """
    if not 0 < scale <= 10:
        raise UserError(f"--scale must be in (0, 10], got {scale}")
    progress = progress or (lambda _line: None)
    started = time.monotonic()
    counts = {fill.name: rows_at_scale(fill.name, scale) for fill in TABLE_FILLS}
    extra = generated_app_tables(app_tables, scale) if app_tables else []

    conn = connect(url, statement_timeout_ms=None, application_name="techhub-lake source init")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            _reset(cur, url)
            install_helpers(cur, seed)
            cur.execute(sql_file("schema.sql"))
            progress(f"created {len(counts)} tables in {redact(url)}; filling at scale {scale:g}, seed {seed}")
    finally:
        conn.close()

    _run_fills(url, seed, counts, progress, workers)

    conn = connect(url, statement_timeout_ms=None, application_name="techhub-lake source init")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            progress(f"[{time.monotonic() - started:7.1f}s] adding foreign keys and indexes")
            cur.execute(sql_file("constraints.sql"))
            if extra:
                progress(f"[{time.monotonic() - started:7.1f}s] adding {len(extra)} tables of other apps")
                cur.execute(f"SET search_path = public, {HELPER_SCHEMA}")
                for table in extra:
                    cur.execute(table.create)
                    cur.execute(table.fill)
                cur.execute("SET search_path = public")
            cur.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND is_identity = 'YES'"
            )
            for table, column in cur.fetchall():
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), coalesce((SELECT max(\"{column}\") FROM public.\"{table}\"), 0) + 1, false)",
                    (f'public."{table}"', column),
                )
            cur.execute("ANALYZE")
            info = {"seed": str(seed), "scale": repr(scale), "generator_version": GENERATOR_VERSION, "migrations": "0",
                    "app_tables": str(len(extra))}
            for key, value in info.items():
                cur.execute(
                    f"INSERT INTO {HELPER_SCHEMA}.info (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    (key, value),
                )
            sizes = table_sizes(cur, sorted([*counts, *(t.name for t in extra)]))
    finally:
        conn.close()

    report = InitReport(seed=seed, scale=scale, seconds=time.monotonic() - started)
    for table, (rows, size) in sizes.items():
        report.rows[table] = rows
        report.bytes[table] = size
    return report


def generated_with(url: str) -> tuple[int, float] | None:
    """The (seed, scale) the synthetic database at ``url`` was generated with, or None if it was not."""
    conn = connect(url, application_name="techhub-lake")
    try:
        with conn.cursor() as cur:
            if not _is_synthetic(cur):
                return None
            cur.execute(f"SELECT key, value FROM {HELPER_SCHEMA}.info WHERE key IN ('seed', 'scale')")
            info = dict(cur.fetchall())
        if {"seed", "scale"} - set(info):
            return None
        return int(info["seed"]), float(info["scale"])
    finally:
        conn.close()
