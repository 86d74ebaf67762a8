"""``techhub-lake catalog discover``: a catalog proposed from any PostgreSQL schema.

What the server knows is read in one read-only snapshot (``pg_catalog`` and the statistics views),
plus a bounded sample of each ``jsonb`` column for its top-level keys; then every table gets a
proposal (strategy, key, watermark, module, JSON keys, PII) with the reason for each choice and its
size, written as catalog YAML with those reasons as comments for the user to review.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg2.extensions
from psycopg2 import sql

# Column names that say "the row's last change" and "the row's creation", in order of preference.
WATERMARK_NAMES = ("updated_at", "modified_at", "updated", "modified", "last_modified", "date_updated", "changed_at")
CREATED_NAMES = ("created_at", "created", "date_created", "inserted_at", "timestamp")
TEMPORAL_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")
# Django's and its common apps' own tables: sessions, migrations, admin log, permissions, content
# types, caches, profilers; none of them is business data.
FRAMEWORK_TABLES = ("django_session", "django_migrations", "django_admin_log", "django_content_type",
                    "auth_permission", "auth_group_permissions", "user_sessions_session")
FRAMEWORK_PREFIXES = ("silk_", "django_celery_", "celery_", "axes_")
PII_NAMES = ("email", "phone", "iin", "tin", "bin", "password", "first_name", "last_name", "middle_name", "patronymic",
             "birth_date", "birthday", "date_of_birth", "passport", "address", "ip", "ip_address", "iik", "bik", "bank",
             "contact_info", "code", "signed_xml")
FULL_ROWS_LIMIT = 1_000_000  # a table without a change column is copied whole at most this big
SMALL_TABLE_ROWS = 10_000  # below this a table is copied whole (full): cheap, and it sees every update and delete
EXCLUDE_BYTES_LIMIT = 5 * 1024**3  # a table without a primary key above this is not loaded
JSON_SAMPLE_ROWS = 1000
JSON_KEYS_LIMIT = 50


@dataclass(frozen=True)
class SourceColumn:
    """One column as the server describes it."""

    name: str
    type: str  # format_type()
    comment: str | None = None
    indexed: bool = False  # the first column of some index
    nullable: bool = True
    null_fraction: float | None = None  # the planner's statistics (None: never analysed)

    @property
    def holds_nulls(self) -> bool:
        """Whether the statistics show NULLs in it (a NOT NULL column never holds one)."""
        return self.nullable and bool(self.null_fraction)


@dataclass(frozen=True)
class SourceTable:
    """One table as the server describes it, with its statistics."""

    schema: str
    name: str
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...]
    rows: int  # the planner's estimate
    bytes: int
    readable: bool  # the role may SELECT it
    updates: int = 0  # since the statistics were reset
    deletes: int = 0
    comment: str | None = None

    def column(self, name: str) -> SourceColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class Proposal:
    """A catalog entry proposed for one table, and why."""

    table: SourceTable
    entry: dict
    reasons: list[str] = field(default_factory=list)


def read_source_tables(cur: psycopg2.extensions.cursor, schema: str = "public") -> list[SourceTable]:
    """Every table of ``schema`` with its columns, key, size, statistics and whether it is readable."""
    cur.execute(
        """
        SELECT c.oid, c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid),
               has_table_privilege(c.oid, 'SELECT'), coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_del, 0),
               obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname
        """, (schema,))
    tables = cur.fetchall()
    cur.execute(
        """
        SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum),
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum),
               NOT a.attnotnull, s.null_frac
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
        WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attrelid, a.attnum
        """, (schema,))
    columns: dict[int, list[SourceColumn]] = {}
    for oid, name, type_, comment, indexed, nullable, null_fraction in cur.fetchall():
        columns.setdefault(oid, []).append(SourceColumn(name, type_, comment, indexed, nullable, null_fraction))
    cur.execute(
        """
        SELECT i.indrelid, a.attname FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE n.nspname = %s AND i.indisprimary
        ORDER BY i.indrelid, k.position
        """, (schema,))
    keys: dict[int, list[str]] = {}
    for oid, name in cur.fetchall():
        keys.setdefault(oid, []).append(name)
    return [SourceTable(schema, name, tuple(columns.get(oid, ())), tuple(keys.get(oid, [])),
                        rows, size, readable, updates, deletes, comment)
            for oid, name, rows, size, readable, updates, deletes, comment in tables]


def json_keys(cur: psycopg2.extensions.cursor, table: SourceTable, column: str, sample_rows: int = JSON_SAMPLE_ROWS) -> list[str]:
    """The top-level keys seen in the objects of a ``jsonb``/``json`` column, in a sample of at most
    ``sample_rows`` rows (the first ones the server returns: a bounded read, not a scan)."""
    as_jsonb = sql.SQL("{}::jsonb").format(sql.Identifier(column))
    cur.execute(sql.SQL("""
        SELECT DISTINCT k FROM (SELECT {value} AS v FROM {table} WHERE {column} IS NOT NULL LIMIT %s) s,
             LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(s.v) = 'object' THEN s.v ELSE '{{}}'::jsonb END) k
        ORDER BY k LIMIT %s""").format(value=as_jsonb, table=sql.Identifier(table.schema, table.name),
                                       column=sql.Identifier(column)), (sample_rows, JSON_KEYS_LIMIT))
    return [row[0] for row in cur.fetchall()]


def app_labels(cur: psycopg2.extensions.cursor, schema: str = "public") -> set[str]:
    """The Django app labels the database's ``django_migrations`` names (none when it has no such
    table, or the role may not read it): labels may hold underscores (``user_sessions``)."""
    cur.execute("SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = 'django_migrations'", (schema,))
    found = cur.fetchone()
    if not found or not found[0]:
        return set()
    cur.execute(sql.SQL("SELECT DISTINCT app FROM {}").format(sql.Identifier(schema, "django_migrations")))
    return {row[0] for row in cur.fetchall()}


def module_of(name: str, labels: Iterable[str] = ()) -> str:
    """The Django app label a table belongs to: the longest known label its name starts with (and an
    underscore), else its name up to the first underscore, else the name itself."""
    known = [label for label in labels if name.startswith(f"{label}_")]
    if known:
        return max(known, key=len)
    return name.split("_", 1)[0] if "_" in name else name


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def _watermark(table: SourceTable, names: Iterable[str], reasons: list[str]) -> SourceColumn | None:
    """The first change column of ``names`` that holds no NULL: a row whose watermark is NULL falls in
    no day, so daily extraction would never read it (the column passed over is said in ``reasons``)."""
    candidates = [c for name in names if (c := table.column(name)) is not None and c.type in TEMPORAL_TYPES]
    for column in candidates:
        if not column.holds_nulls:
            return column
        reasons.append(f"{column.name} is NULL on ~{column.null_fraction:.0%} of rows, which no daily partition "
                       "would read: not a watermark")
    return None


def framework_reason(name: str) -> str | None:
    """Why a table is the framework's own and not business data, or None."""
    if name in FRAMEWORK_TABLES or name.startswith(FRAMEWORK_PREFIXES):
        return "a framework table (sessions, migrations, admin log, permissions, profiling), not business data"
    if re.search(r"(^|_)cache(_|$)", name):
        return "a cache table, not business data"
    return None


def propose(table: SourceTable, *, labels: Iterable[str] = (), watermark_names: Iterable[str] = WATERMARK_NAMES,
            created_names: Iterable[str] = CREATED_NAMES) -> Proposal:
    """The catalog entry proposed for ``table`` (``labels``: the database's Django app labels) and
    the reasons for it (comments in the YAML)."""
    module = module_of(table.name, labels)
    entry: dict = {"name": table.name, "module": module}
    if table.schema != "public":
        entry["schema"] = table.schema
    proposal = Proposal(table, entry, [f"~{table.rows:,} rows, {_human(table.bytes)}"])
    if table.primary_key and table.primary_key != ("id",):
        entry["primary_key"] = list(table.primary_key)
    excluded = (framework_reason(table.name)
                or (None if table.readable else "the lake's role may not SELECT it (GRANT SELECT to load it)"))
    if excluded is None and not table.primary_key:
        if table.bytes > EXCLUDE_BYTES_LIMIT:
            excluded = f"no primary key, and at {_human(table.bytes)} too big to copy whole every day"
        else:
            proposal.reasons.append("no primary key: copied whole each day (full), rows cannot be merged by key")
            entry["strategy"] = "full"
            entry["primary_key"] = [c.name for c in table.columns]  # the whole row identifies it
    if excluded:
        entry["strategy"] = "exclude"
        if not table.primary_key and table.columns:  # the catalog wants a key even for what it leaves out
            entry["primary_key"] = [table.columns[0].name]
        proposal.reasons.append(excluded)
        return proposal
    if "strategy" not in entry:
        changed, created = _watermark(table, watermark_names, proposal.reasons), _watermark(table, created_names, [])
        if changed is not None:
            entry |= {"strategy": "incremental", "watermark": changed.name}
            proposal.reasons.append(f"incremental on {changed.name}" + ("" if changed.indexed else
                                    f" (no index starts with {changed.name}: each run scans the table; add one)"))
        elif created is not None and table.updates == 0 and table.deletes == 0 and table.rows >= SMALL_TABLE_ROWS:
            entry |= {"strategy": "append", "watermark": created.name}
            proposal.reasons.append(f"append on {created.name}: no update or delete in the server's statistics")
        else:
            entry["strategy"] = "full"
            why = ("small: copied whole each day" if table.rows < SMALL_TABLE_ROWS and created is not None
                   else "no change column")
            proposal.reasons.append(f"full: {why}" + ("" if table.rows <= FULL_ROWS_LIMIT else
                                    f"; at ~{table.rows:,} rows a daily copy is costly: add an updated_at column"))
    pii = [c.name for c in table.columns if c.name in PII_NAMES]
    if pii:
        entry["pii"] = pii
        proposal.reasons.append(f"pii guessed from column names: {', '.join(pii)} (review)")
    described = {c.name: c.comment for c in table.columns if c.comment}
    if table.comment:
        entry["description"] = " ".join(table.comment.split())
    if described:  # the source's own words, shown for each column in the UI (bronze and silver)
        entry["columns"] = {name: " ".join(text.split()) for name, text in described.items()}
    return proposal


JSON_TYPES = ("jsonb", "json")


def earliest_day(cur: psycopg2.extensions.cursor, proposals: list[Proposal]) -> str | None:
    """The first day any proposed watermark holds (ISO), for ``start_date``: history before the
    catalog's start would not be loaded into daily partitions."""
    days = []
    for proposal in proposals:
        watermark = proposal.entry.get("watermark")
        if watermark:
            table = proposal.table
            cur.execute(sql.SQL("SELECT min({column})::date FROM {table}").format(
                column=sql.Identifier(watermark), table=sql.Identifier(table.schema, table.name)))
            day = cur.fetchone()[0]
            if day is not None:
                days.append(day)
    return min(days).isoformat() if days else None


def add_json_keys(cur: psycopg2.extensions.cursor, proposal: Proposal) -> None:
    """Each JSON column of a table the lake loads, with the top-level keys a sample of it shows."""
    if proposal.entry["strategy"] == "exclude":
        return
    found = {c.name: json_keys(cur, proposal.table, c.name) for c in proposal.table.columns if c.type in JSON_TYPES}
    if found:
        proposal.entry["json_columns"] = found
        proposal.reasons.append(f"json_columns: top-level keys seen in up to {JSON_SAMPLE_ROWS:,} rows (review)")


_ORDER = ("name", "schema", "module", "strategy", "primary_key", "watermark", "json_columns", "pii", "description",
          "columns")


def _flow(value: object) -> str:
    """A scalar or a list in YAML's flow style, on one line."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip().removesuffix("...").strip()


def _entry_yaml(entry: dict) -> list[str]:
    lines = []
    for key in sorted(entry, key=_ORDER.index):
        value = entry[key]
        if isinstance(value, dict):
            lines += [f"{key}:", *(f"  {_flow(k)}: {_flow(v if isinstance(v, str) else list(v))}" for k, v in value.items())]
        else:
            lines.append(f"{key}: {_flow(value)}")
    return ["  - " + lines[0], *("    " + line for line in lines[1:])]


def render_catalog(proposals: list[Proposal], *, source: str, timezone: str, start_date: str | None) -> str:
    """The proposals as catalog YAML, each table preceded by comments saying what it costs and why
    it got its strategy; the header says what to review."""
    loaded = sum(1 for p in proposals if p.entry["strategy"] != "exclude")
    lines = [
        f"# Discovered by `techhub-lake catalog discover` from {source}: {len(proposals)} tables, {loaded} proposed",
        f"# for the lake, {len(proposals) - loaded} excluded. Review before the first refresh: each strategy (and its",
        "# reason above the table), the guessed pii, the json_columns keys, the excluded tables; then",
        "# `TECHHUB_CATALOG=<this file> techhub-lake catalog check` and `techhub-lake refresh`.",
        "# Field reference: docs/catalog.md.",
        "",
        "defaults:",
        f"  timezone: {timezone}",
        f'  start_date: "{start_date or "2019-01-01"}"' + ("" if start_date else "   # no watermark holds a date: change it"),
        "",
        "tables:",
    ]
    for proposal in proposals:
        lines += [f"  # {reason}" for reason in proposal.reasons]
        lines += _entry_yaml(proposal.entry)
        lines.append("")
    return "\n".join(lines)


def propose_schema(cur: psycopg2.extensions.cursor, schema: str = "public") -> list[Proposal]:
    """A proposal for every table of ``schema``, its JSON columns' keys sampled: what both a new
    catalog and a merge start from."""
    labels = app_labels(cur, schema)
    proposals = [propose(table, labels=labels) for table in read_source_tables(cur, schema)]
    for proposal in proposals:
        add_json_keys(cur, proposal)
    return proposals


def discover_catalog(cur: psycopg2.extensions.cursor, *, source: str, schema: str = "public",
                     timezone: str = "UTC") -> str:
    """The proposed catalog of every table of ``schema`` read through ``cur`` (a read-only snapshot)."""
    proposals = propose_schema(cur, schema)
    return render_catalog(proposals, source=source, timezone=timezone, start_date=earliest_day(cur, proposals))


MERGE_MARK = "# discover:"  # the comments --merge writes; a comment already there is not written again


def _referenced_columns(entry: dict) -> list[str]:
    named = [*entry.get("primary_key", []), *([entry["watermark"]] if entry.get("watermark") else []),
             *(entry.get("json_columns") or {}), *entry.get("pii", [])]
    return list(dict.fromkeys(named))


def merge_catalog(existing: str, proposals: list[Proposal]) -> str:
    """``existing`` catalog text with what discovery found since: every line of it kept as written
    (hand edits and comments included); a ``# discover:`` comment above an entry whose table or
    columns are gone from the source, or whose JSON columns show keys it does not list; the tables
    it does not describe appended as proposals. Merging the result again changes nothing."""
    import yaml

    document = yaml.safe_load(existing) or {}
    entries = {e["name"]: e for e in document.get("tables") or []}
    found = {p.table.name: p for p in proposals}
    notes: dict[str, list[str]] = {}
    for name, entry in entries.items():
        proposal = found.get(name)
        if proposal is None:
            notes[name] = [f"{MERGE_MARK} table gone from the source"]
            continue
        columns = {c.name for c in proposal.table.columns}
        gone = [c for c in _referenced_columns(entry) if c not in columns]
        if gone:
            notes.setdefault(name, []).append(f"{MERGE_MARK} column(s) gone from the source: {', '.join(gone)}")
        listed = {column: set(keys or []) for column, keys in (entry.get("json_columns") or {}).items()}
        for column, keys in (proposal.entry.get("json_columns") or {}).items():
            if column in listed and (new := [k for k in keys if k not in listed[column]]):
                notes.setdefault(name, []).append(f"{MERGE_MARK} keys seen in {column} but not listed: {', '.join(new)}")
    lines = existing.rstrip("\n").split("\n")
    out: list[str] = []
    for line in lines:
        match = re.match(r"^(\s*)-\s+name:\s*['\"]?([A-Za-z0-9_.]+)['\"]?\s*$", line)
        if match and match.group(2) in notes:
            indent = match.group(1)
            for note in notes[match.group(2)]:
                if f"{indent}{note}" not in out[-6:]:  # said already, just above
                    out.append(f"{indent}{note}")
        out.append(line)
    new = [p for name, p in found.items() if name not in entries]
    if new:
        out += ["", f"  {MERGE_MARK} {len(new)} table(s) the catalog did not describe, as proposed (review them)"]
        for proposal in new:
            out += [f"  # {reason}" for reason in proposal.reasons]
            out += _entry_yaml(proposal.entry)
    return "\n".join(out) + "\n"


def merge_discovered(cur: psycopg2.extensions.cursor, existing: str, *, schema: str = "public") -> str:
    """``merge_catalog`` of ``existing`` with what ``cur`` shows of ``schema`` now."""
    return merge_catalog(existing, propose_schema(cur, schema))
