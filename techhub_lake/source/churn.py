"""`techhub-lake source churn`: one realistic batch of change on the synthetic source.

Inserts, updates that move ``updated_at``, hard deletes (with Django-style CASCADE and SET NULL
effects on child rows), new action-log rows, a few ``QuerySet.update()``-style changes that do
*not* move ``updated_at``, a few rows committed late with an earlier ``updated_at``, and
optionally a schema migration that adds a column. It all runs in one transaction, so a batch
lands whole or not at all.

The report is measured, not predicted: before the batch every row's key, ``xmin`` and
watermark are noted, and afterwards new keys are inserts, missing keys deletes, rows with a new
``xmin`` updates, and those whose ``updated_at`` did not move are the silent updates an
incremental load cannot see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import psycopg2.extensions

from techhub_lake.source.connection import connect
from techhub_lake.source.generator import HELPER_SCHEMA, install_helpers
from techhub_lake.source.introspection import single_column_keys

# Columns added by successive `--migrate` runs (table, column, type); after these, generic ones.
MIGRATIONS = [
    ("account_user", "telegram", "varchar(64)"),
    ("core_event", "registration_url", "varchar(200)"),
    ("service_servicerequest", "priority", "smallint"),
    ("account_company", "website_verified", "boolean"),
]


def migration(number: int) -> tuple[str, str, str]:
    """The ``number``-th migration (1-based): table, column and type of the column it adds."""
    if number <= len(MIGRATIONS):
        return MIGRATIONS[number - 1]
    return ("core_vacancy", f"extra_field_{number}", "text")


@dataclass
class TableChange:
    """What one batch did to one table."""

    inserted: int = 0
    updated: int = 0
    silent_updates: int = 0  # updated without moving the watermark (a subset of `updated`)
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass
class ChurnReport:
    """Per-table changes of one churn batch, and the column a migration added, if any."""

    seed: int
    at: dt.datetime
    tables: dict[str, TableChange] = field(default_factory=dict)
    migrated: tuple[str, str, str] | None = None

    def changed(self) -> dict[str, TableChange]:
        return {t: c for t, c in self.tables.items() if c.total}


# Each statement runs with: %(at)s (the batch time), %(seed)s, and {k_<table>_<op>} row counts.
# `ts(salt, id)` below spreads the batch's timestamps over the ten minutes before `at`.
_TS = "(%(at)s::timestamptz - interval '10 minutes' * u('{salt}', {id}))"


def _ts(salt: str, id_expr: str = "id") -> str:
    return _TS.format(salt=salt, id=id_expr)


def _sample(table: str, salt: str, k: str, where: str = "TRUE") -> str:
    return f"SELECT id FROM {table} WHERE {where} ORDER BY u('{salt}', id), id LIMIT {{{k}}}"


_STATEMENTS = [
    # --- companies: a few new, some edited, a few deleted (CASCADE reports, SET NULL elsewhere)
    f"""INSERT INTO account_company OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY c.id), c.name || ' 2',
               CASE WHEN c.tin IS NULL THEN NULL
                    ELSE to_char(%(at)s::timestamptz, 'YYMM') || '5' || lpad((m.base + row_number() OVER (ORDER BY c.id))::text, 7, '0') END,
               c.company_type, 'pending', false, c.bank, c.iik, c.bik, c.rating, c.tag_startup, c.tag_it_company,
               c.tag_techpark, c.tag_ts_member, c.basic_info, {_ts('ch.co.ins', 'c.id')}, {_ts('ch.co.ins', 'c.id')}
        FROM account_company c CROSS JOIN (SELECT max(id) AS base FROM account_company) m
        WHERE c.id IN ({_sample('account_company', 'ch.co.ins', 'k_account_company_ins')})""",
    f"""UPDATE account_company SET status = CASE status WHEN 'active' THEN 'pending' ELSE 'active' END,
               verified = NOT verified, updated_at = {_ts('ch.co.upd')}
        WHERE id IN ({_sample('account_company', 'ch.co.upd', 'k_account_company_upd')})""",
    f"""DELETE FROM account_company WHERE id IN ({_sample('account_company', 'ch.co.del', 'k_account_company_del')})""",
    # --- users
    f"""INSERT INTO account_user OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY u.id), u.password, NULL, false,
               CASE WHEN u.email IS NULL THEN NULL ELSE 'user' || (m.base + row_number() OVER (ORDER BY u.id)) || '@mail.kz' END,
               u.phone, u.first_name, u.last_name, NULL, 'user', true, false, u.company_id,
               md5('external' || (m.base + row_number() OVER (ORDER BY u.id)) || %(seed)s)::uuid, u.language,
               u.data, u.tags, u.permissions, {_ts('ch.us.ins', 'u.id')}, {_ts('ch.us.ins', 'u.id')}
        FROM account_user u CROSS JOIN (SELECT max(id) AS base FROM account_user) m
        WHERE u.id IN ({_sample('account_user', 'ch.us.ins', 'k_account_user_ins')})""",
    f"""UPDATE account_user SET last_login = %(at)s::timestamptz,
               data = data || jsonb_build_object('last_profile_edit', %(seed)s), updated_at = {_ts('ch.us.upd')}
        WHERE id IN ({_sample('account_user', 'ch.us.upd', 'k_account_user_upd')})""",
    # Django QuerySet.update(): no updated_at
    f"""UPDATE account_user SET is_active = NOT is_active
        WHERE id IN ({_sample('account_user', 'ch.us.silent', 'k_account_user_silent')})""",
    # committed late: updated_at a day before the batch
    f"""UPDATE account_user SET role = CASE role WHEN 'mentor' THEN 'user' ELSE 'mentor' END,
               updated_at = %(at)s::timestamptz - interval '26 hours'
        WHERE id IN ({_sample('account_user', 'ch.us.late', 'k_account_user_late')})""",
    f"""DELETE FROM account_user WHERE id > 3 AND id IN ({_sample('account_user', 'ch.us.del', 'k_account_user_del')})""",
    # --- service requests, with a log row for every status change
    f"""INSERT INTO service_servicerequest OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY r.id), r.service_id, r.author_id, r.company_id, 'draft',
               r.data - 'signatures' - 'certificate_number', {_ts('ch.sr.ins', 'r.id')}, {_ts('ch.sr.ins', 'r.id')}
        FROM service_servicerequest r CROSS JOIN (SELECT max(id) AS base FROM service_servicerequest) m
        WHERE r.id IN ({_sample('service_servicerequest', 'ch.sr.ins', 'k_service_servicerequest_ins')})""",
    f"""WITH moved AS (
            UPDATE service_servicerequest r SET status = CASE r.status
                    WHEN 'draft' THEN 'sent' WHEN 'sent' THEN 'approved' WHEN 'approved' THEN 'success'
                    WHEN 'in_review' THEN 'reject' ELSE 'sent' END,
                updated_at = {_ts('ch.sr.upd', 'r.id')}
            FROM service_servicerequest old
            WHERE old.id = r.id
              AND r.id IN ({_sample('service_servicerequest', 'ch.sr.upd', 'k_service_servicerequest_upd')})
            RETURNING r.id, old.status AS status_from, r.status AS status_to, r.updated_at)
        INSERT INTO service_servicerequestlog (request_id, status_from, status_to, created_at)
        SELECT id, status_from, status_to, updated_at FROM moved ORDER BY id""",
    f"""DELETE FROM service_servicerequest
        WHERE id IN ({_sample('service_servicerequest', 'ch.sr.del', 'k_service_servicerequest_del')})""",
    # --- action log: append only
    f"""INSERT INTO core_actionlog (user_id, action, object_type, object_id, payload, ip, created_at)
        SELECT a.user_id, a.action, a.object_type, a.object_id, a.payload, a.ip, {_ts('ch.al.ins', 'a.id')}
        FROM core_actionlog a
        WHERE a.id IN ({_sample('core_actionlog', 'ch.al.ins', 'k_core_actionlog_ins')})
        ORDER BY a.id""",
    # --- reports: edited often, a few new and deleted
    f"""UPDATE service_report SET status = CASE status WHEN 'draft' THEN 'submitted' WHEN 'submitted' THEN 'accepted' ELSE 'submitted' END,
               data = data || jsonb_build_object('revenue', round((u('ch.rp.rev', id) * 900000000)::numeric, 2)),
               updated_at = {_ts('ch.rp.upd')}
        WHERE id IN ({_sample('service_report', 'ch.rp.upd', 'k_service_report_upd')})""",
    f"""INSERT INTO service_report OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY r.id), r.company_id, r.request_id, 'draft', r.data, r.signed_xml,
               {_ts('ch.rp.ins', 'r.id')}, {_ts('ch.rp.ins', 'r.id')}
        FROM service_report r CROSS JOIN (SELECT max(id) AS base FROM service_report) m
        WHERE r.id IN ({_sample('service_report', 'ch.rp.ins', 'k_service_report_ins')})""",
    f"""DELETE FROM service_report WHERE id IN ({_sample('service_report', 'ch.rp.del', 'k_service_report_del')})""",
    # --- hub form submissions
    f"""INSERT INTO service_hubformdata OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY h.id), h.form_id, h.author_id, h.data,
               {_ts('ch.hd.ins', 'h.id')}, {_ts('ch.hd.ins', 'h.id')}
        FROM service_hubformdata h CROSS JOIN (SELECT max(id) AS base FROM service_hubformdata) m
        WHERE h.id IN ({_sample('service_hubformdata', 'ch.hd.ins', 'k_service_hubformdata_ins')})""",
    f"""UPDATE service_hubformdata SET data = data || jsonb_build_object('Stage', 'updated'), updated_at = {_ts('ch.hd.upd')}
        WHERE id IN ({_sample('service_hubformdata', 'ch.hd.upd', 'k_service_hubformdata_upd')})""",
    # --- events: edits, and view counters bumped with QuerySet.update(F('view_count') + 1)
    f"""UPDATE core_event SET published = NOT published, updated_at = {_ts('ch.ev.upd')}
        WHERE id IN ({_sample('core_event', 'ch.ev.upd', 'k_core_event_upd')})""",
    f"""UPDATE core_event SET view_count = view_count + 1
        WHERE id IN ({_sample('core_event', 'ch.ev.silent', 'k_core_event_silent')})""",
    f"""DELETE FROM core_event WHERE id IN ({_sample('core_event', 'ch.ev.del', 'k_core_event_del')})""",
    # --- vacancies
    f"""UPDATE core_vacancy SET salary_max = coalesce(salary_max, 500000) + 50000, updated_at = {_ts('ch.va.upd')}
        WHERE id IN ({_sample('core_vacancy', 'ch.va.upd', 'k_core_vacancy_upd')})""",
    f"""UPDATE core_vacancy SET status = CASE status WHEN 'open' THEN 'closed' ELSE 'open' END
        WHERE id IN ({_sample('core_vacancy', 'ch.va.silent', 'k_core_vacancy_silent')})""",
    # --- blog
    f"""UPDATE core_blog SET title = title || jsonb_build_object('en', 'Updated: ' || coalesce(title ->> 'en', '')),
               updated_at = {_ts('ch.bl.upd')}
        WHERE id IN ({_sample('core_blog', 'ch.bl.upd', 'k_core_blog_upd')})""",
    # --- bookings, with a status row per change
    f"""INSERT INTO booking_booking OVERRIDING SYSTEM VALUE
        SELECT m.base + row_number() OVER (ORDER BY b.id), b.room_id, b.author_id,
               date_trunc('hour', %(at)s::timestamptz) + interval '1 day', date_trunc('hour', %(at)s::timestamptz) + interval '1 day 2 hours',
               'pending', {_ts('ch.bk.ins', 'b.id')}, {_ts('ch.bk.ins', 'b.id')}
        FROM booking_booking b CROSS JOIN (SELECT max(id) AS base FROM booking_booking) m
        WHERE b.id IN ({_sample('booking_booking', 'ch.bk.ins', 'k_booking_booking_ins')})""",
    f"""WITH moved AS (
            UPDATE booking_booking SET status = CASE status WHEN 'pending' THEN 'confirmed' WHEN 'confirmed' THEN 'finished' ELSE 'cancelled' END,
                   updated_at = {_ts('ch.bk.upd')}
            WHERE id IN ({_sample('booking_booking', 'ch.bk.upd', 'k_booking_booking_upd')})
            RETURNING id, status, updated_at)
        INSERT INTO booking_bookingstatus (booking_id, status, created_at) SELECT id, status, updated_at FROM moved ORDER BY id""",
    f"""DELETE FROM booking_booking WHERE id IN ({_sample('booking_booking', 'ch.bk.del', 'k_booking_booking_del')})""",
    # --- full-load tables: memberships and registrations come and go
    f"""INSERT INTO account_usercompany (user_id, company_id, role, created_at)
        SELECT (SELECT id FROM account_user ORDER BY u('ch.uc.u', x.id), id LIMIT 1 OFFSET x.id - 1), x.company_id,
               'employee', {_ts('ch.uc.ins', 'x.id')}
        FROM (SELECT row_number() OVER (ORDER BY u('ch.uc.c', id), id) AS id, id AS company_id
              FROM account_company ORDER BY u('ch.uc.c', id), id LIMIT {{k_account_usercompany_ins}}) x""",
    f"""DELETE FROM account_usercompany WHERE id IN ({_sample('account_usercompany', 'ch.uc.del', 'k_account_usercompany_del')})""",
    f"""INSERT INTO core_eventparticipant (event_id, author_id, status, created_at)
        SELECT p.event_id, p.author_id, 'registered', {_ts('ch.ep.ins', 'p.id')}
        FROM core_eventparticipant p
        WHERE p.id IN ({_sample('core_eventparticipant', 'ch.ep.ins', 'k_core_eventparticipant_ins')})
        ORDER BY p.id""",
]

# Share of a table's rows touched by each kind of change (at least one row each).
_RATES = {
    "ins": 0.005,
    "upd": 0.01,
    "del": 0.001,
    "silent": 0.003,
    "late": 0.001,
}


def _row_counts(cur: psycopg2.extensions.cursor) -> dict[str, int]:
    cur.execute("SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'public'")
    counts = {name: int(n) for name, n in cur.fetchall()}
    for table in list(counts):  # statistics can lag right after a load: count the small ones exactly
        if counts[table] < 100_000:
            cur.execute(f'SELECT count(*) FROM public."{table}"')
            counts[table] = int(cur.fetchone()[0])
    return counts


def _limits(counts: dict[str, int]) -> dict[str, int]:
    limits = {}
    for table, rows in counts.items():
        for op, rate in _RATES.items():
            limits[f"k_{table}_{op}"] = max(1, round(rows * rate))
    return limits


def _has_column(cur: psycopg2.extensions.cursor, table: str, column: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s AND column_name = %s",
        (table, column),
    )
    return cur.fetchone() is not None


def _snapshot(cur: psycopg2.extensions.cursor, keys: dict[str, str]) -> None:
    for table, key in keys.items():
        watermark = "updated_at" if _has_column(cur, table, "updated_at") else "NULL::timestamptz"
        cur.execute(
            f'CREATE TEMP TABLE "_before_{table}" ON COMMIT DROP AS '
            f'SELECT "{key}"::text AS k, xmin::text AS x, {watermark} AS w FROM public."{table}"'
        )


def _diff(cur: psycopg2.extensions.cursor, keys: dict[str, str]) -> dict[str, TableChange]:
    changes = {}
    for table, key in keys.items():
        watermark = "updated_at" if _has_column(cur, table, "updated_at") else "NULL::timestamptz"
        cur.execute(
            f"""
            SELECT count(*) FILTER (WHERE b.k IS NULL),
                   count(*) FILTER (WHERE a.k IS NULL),
                   count(*) FILTER (WHERE a.k IS NOT NULL AND b.k IS NOT NULL AND a.x <> b.x),
                   count(*) FILTER (WHERE a.k IS NOT NULL AND b.k IS NOT NULL AND a.x <> b.x
                                    AND a.w IS NOT DISTINCT FROM b.w)
            FROM (SELECT "{key}"::text AS k, xmin::text AS x, {watermark} AS w FROM public."{table}") a
            FULL JOIN "_before_{table}" b ON a.k = b.k
            """
        )
        inserted, deleted, updated, silent = (int(v) for v in cur.fetchone())
        changes[table] = TableChange(inserted=inserted, updated=updated, silent_updates=silent, deleted=deleted)
    return changes


def churn_source(url: str, *, seed: int, migrate: bool = False, at: dt.datetime | None = None) -> ChurnReport:
    """Apply one batch of change to the synthetic source at ``url`` and report what it changed."""
    at = at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise ValueError("churn time must be timezone-aware")
    report = ChurnReport(seed=seed, at=at)
    conn = connect(url, statement_timeout_ms=None, application_name="techhub-lake source churn")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{HELPER_SCHEMA}.info",))
            if not cur.fetchone()[0]:
                raise RuntimeError("the source was not made by `techhub-lake source init`; churn only changes synthetic data")
            install_helpers(cur, seed)
            cur.execute(f"SET LOCAL search_path = public, {HELPER_SCHEMA}")
            keys = single_column_keys(cur)
            limits = _limits(_row_counts(cur))
            _snapshot(cur, keys)
            params = {"at": at, "seed": int(seed)}
            for statement in _STATEMENTS:
                cur.execute(statement.format(**limits), params)
            if migrate:
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # DDL cannot follow pending FK checks
                report.migrated = _apply_migration(cur, at)
            report.tables = _diff(cur, keys)
        conn.commit()
    finally:
        conn.close()
    return report


def _apply_migration(cur: psycopg2.extensions.cursor, at: dt.datetime) -> tuple[str, str, str]:
    """Add the next migration's column; rows this batch touched get a value (the app now writes it)."""
    cur.execute(f"SELECT value::int FROM {HELPER_SCHEMA}.info WHERE key = 'migrations'")
    row = cur.fetchone()
    number = (row[0] if row else 0) + 1
    table, column, sql_type = migration(number)
    cur.execute(f'ALTER TABLE public."{table}" ADD COLUMN "{column}" {sql_type}')
    value = {"varchar(64)": "'@user' || id", "varchar(200)": "'https://example.kz/r/' || id", "smallint": "(mod(id, 3) + 1)::smallint",
             "boolean": "mod(id, 2) = 0"}.get(sql_type, "'v' || id")
    if _has_column(cur, table, "updated_at"):
        cur.execute(
            f'UPDATE public."{table}" SET "{column}" = {value} '
            "WHERE updated_at >= %(at)s::timestamptz - interval '10 minutes'",
            {"at": at},
        )
    cur.execute(
        f"INSERT INTO {HELPER_SCHEMA}.info (key, value) VALUES ('migrations', %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (str(number),),
    )
    return table, column, sql_type
