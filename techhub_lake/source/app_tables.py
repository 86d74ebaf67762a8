"""The rest of a Django project's schema, for ``source init --app-tables N``: N more tables in the
synthetic source, so a database the size of the real one (~150 tables) can be discovered and loaded.

The TechHub tables the lake was built around are 33 of the production database's ~150; the others
belong to many small Django apps. These tables imitate them, in the shapes such apps have and with
the values their data holds, none of which the TechHub tables show:

- per app, for each of its models: the model (identity key, ``created_at``/``updated_at``, a
  ``details`` jsonb whose shape changes from row to row: nested objects, arrays, strings, ``null``,
  numbers as text, keys in Cyrillic and with spaces), its log (insert-only, ``inet``, ``uuid``), its
  type list (a small reference table with ru/kk/en names) and its tags (a many-to-many table named
  as Django names them, ``<app>_<model>_tags``);
- per app, its settings (a text primary key) and, for some, an archive without a primary key;
- a legacy app whose tables are all empty, and a model whose ``updated_at`` is NULL on old rows;
- Django's own tables (``django_migrations`` naming every app, ``django_content_type``,
  ``auth_permission``, ``auth_group``, ``auth_group_permissions``, ``django_admin_log``).

Everything is generated server-side from the seeded helpers, so the same seed, scale and N give the
same tables on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

# (app label, its models); the legacy app's tables stay empty.
APPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("notifications", ("notification",)), ("billing", ("invoice", "payment")), ("cms", ("page", "menuitem")),
    ("mentorship", ("mentor", "meeting")), ("accelerator", ("cohort", "startup")), ("grants", ("grant", "application")),
    ("partners", ("partner",)), ("surveys", ("survey", "answer")), ("news", ("article",)), ("media", ("file",)),
    ("crm", ("lead", "deal")), ("hr", ("employee",)), ("support", ("ticket",)), ("integrations", ("webhook",)),
    ("residents", ("resident",)), ("investments", ("fund", "round")), ("marketplace", ("offer",)),
    ("legacy", ("oldform", "oldrequest")),
)
EMPTY_APPS = ("legacy",)
ARCHIVED_APPS = ("billing", "crm", "support")  # an archive table without a primary key
NULL_UPDATED_AT = "support_ticket"  # updated_at added late: NULL on its older rows
FRAMEWORK_TABLES = ("django_migrations", "django_content_type", "auth_permission", "auth_group",
                    "auth_group_permissions", "django_admin_log")
# Rows at scale 1 per kind of table (references keep their size at every scale).
SCALE_1_ROWS = {"model": 2_000, "log": 8_000, "tags": 3_000, "settings": 12, "archive": 500, "types": 8}
MIN_ROWS = 10  # at any scale, so every model shows each shape of its JSON


@dataclass(frozen=True)
class AppTable:
    """One generated table: its name, app, kind and the statements that create and fill it."""

    name: str
    app: str
    kind: str  # model, log, types, tags, settings, archive, framework
    create: str
    fill: str


def _rows(kind: str, scale: float, app: str) -> int:
    if app in EMPTY_APPS:
        return 0
    if kind in ("settings", "types"):
        return SCALE_1_ROWS[kind]
    return max(MIN_ROWS, round(SCALE_1_ROWS[kind] * scale))


# The JSON a model's ``details`` holds, by row: the shapes of data that several releases wrote, one
# after the other (every table of ten rows or more holds each of them).
_DETAILS = """CASE (g - 1) % 10
    WHEN 0 THEN jsonb_build_object('status', pick('{t}.st', g, ARRAY['new', 'open', 'closed', ' Open ', '']),
                'amount', ri('{t}.amt', g, 0, 50000), 'owner', jsonb_build_object('id', g, 'name', sent('{t}.o', g, 'ru')))
    WHEN 1 THEN jsonb_build_object('status', 'open', 'amount', ri('{t}.amt', g, 0, 50000)::text,
                'комментарий', sent('{t}.c', g, 'kk'), 'due date', (date '2020-01-01' + ri('{t}.d', g, 0, 2000)::int)::text)
    WHEN 2 THEN jsonb_build_object('status', NULL, 'tags', jsonb_build_array('a', 1, NULL, jsonb_build_object('x', 1)))
    WHEN 3 THEN jsonb_build_array(jsonb_build_object('status', 'closed'), 2)
    WHEN 4 THEN to_jsonb(sent('{t}.s', g, 'en'))
    WHEN 5 THEN 'null'::jsonb
    WHEN 6 THEN '{{}}'::jsonb
    WHEN 7 THEN jsonb_build_object('status', 'closed', 'amount', 1e308, 'flag', 'yes', 'nested', jsonb_build_object('deep', jsonb_build_object('deeper', jsonb_build_array())))
    ELSE jsonb_build_object('status', pick('{t}.st2', g, ARRAY['new', 'open', 'closed']), 'amount', ri('{t}.amt', g, 0, 50000),
                'emoji', '🚀 ' || sent('{t}.e', g, 'en'))
END"""

# A text a person typed: mostly a sentence, sometimes blank, padded, in another script, or long.
_TEXT = """CASE ri('{t}.tx', g, 0, 19)
    WHEN 0 THEN '' WHEN 1 THEN '   ' WHEN 2 THEN NULL WHEN 3 THEN '  ' || sent('{t}.p', g, 'kk') || E'\\n'
    WHEN 4 THEN para('{t}.l', g, 'ru', 6) ELSE sent('{t}.n', g, pick('{t}.lg', g, ARRAY['ru', 'kk', 'en'])) END"""


def _model(app: str, model: str, scale: float) -> AppTable:
    name, n = f"{app}_{model}", _rows("model", scale, app)
    updated = ("CASE WHEN g <= greatest(1, {n} / 3) THEN NULL ELSE updated('{t}.u', g, created('{t}', g, {n}), 0.4) END"
               if name == NULL_UPDATED_AT else "updated('{t}.u', g, created('{t}', g, {n}), 0.4)").format(t=name, n=n)
    nullable = "" if name == NULL_UPDATED_AT else " NOT NULL"
    return AppTable(name, app, "model", f"""
        CREATE TABLE {name} (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            public_id uuid NOT NULL,
            owner_id bigint,
            title varchar(200) NOT NULL,
            body text,
            price numeric(12, 2),
            score double precision,
            is_active boolean,
            labels varchar(32)[],
            starts_on date,
            details jsonb,
            created_at timestamptz NOT NULL,
            updated_at timestamptz{nullable});
        CREATE INDEX {name}_updated_at ON {name} (updated_at);
        COMMENT ON TABLE {name} IS '{model.capitalize()} records of the {app} app';
        COMMENT ON COLUMN {name}.title IS 'What the {model} is called, as its author typed it';""",
        f"""INSERT INTO {name} (id, public_id, owner_id, title, body, price, score, is_active, labels, starts_on,
                                details, created_at, updated_at)
        SELECT g, md5('{name}' || g)::uuid, CASE WHEN u('{name}.o', g) < 0.1 THEN NULL ELSE ri('{name}.o', g, 1, 500) END,
               left(coalesce(sent('{name}.t', g, pick('{name}.lang', g, ARRAY['ru', 'kk', 'en'])), ''), 200),
               {_TEXT.format(t=name)},
               CASE ri('{name}.pr', g, 0, 9) WHEN 0 THEN NULL WHEN 1 THEN 0 WHEN 2 THEN -1.5 ELSE ri('{name}.pr', g, 1, 9999999) / 100.0 END,
               CASE ri('{name}.sc', g, 0, 19) WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN 'Infinity'::float8 WHEN 2 THEN NULL
                    ELSE u('{name}.sc', g) * 100 END,
               CASE ri('{name}.a', g, 0, 2) WHEN 0 THEN NULL WHEN 1 THEN false ELSE true END,
               CASE WHEN u('{name}.lb', g) < 0.3 THEN NULL WHEN u('{name}.lb', g) < 0.4 THEN '{{}}'::varchar[]
                    ELSE ARRAY[pick('{name}.l1', g, ARRAY['new', 'vip', 'Кызылорда', 'b2b']), NULL, 'x']::varchar[] END,
               CASE ri('{name}.so', g, 0, 29) WHEN 0 THEN 'infinity'::date WHEN 1 THEN '0001-01-01'::date WHEN 2 THEN NULL
                    ELSE (created('{name}', g, {n}))::date + ri('{name}.so', g, 0, 60)::int END,
               {_DETAILS.format(t=name)},
               created('{name}', g, {n}), {updated}
        FROM generate_series(1, {n}) g""")


def _log(app: str, model: str, scale: float) -> AppTable:
    name, n = f"{app}_{model}log", _rows("log", scale, app)
    return AppTable(name, app, "log", f"""
        CREATE TABLE {name} (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            {model}_id bigint NOT NULL,
            action varchar(32) NOT NULL,
            request_id uuid,
            client_ip inet,
            payload jsonb,
            created_at timestamptz NOT NULL);""",
        f"""INSERT INTO {name} ({model}_id, action, request_id, client_ip, payload, created_at)
        SELECT ri('{name}.m', g, 1, 2000), pick('{name}.a', g, ARRAY['create', 'update', 'delete', 'view']),
               CASE WHEN u('{name}.r', g) < 0.2 THEN NULL ELSE md5('{name}' || g)::uuid END,
               CASE WHEN u('{name}.ip', g) < 0.1 THEN '::1'::inet
                    ELSE ('10.' || ri('{name}.i1', g, 0, 255) || '.' || ri('{name}.i2', g, 0, 255) || '.1')::inet END,
               CASE WHEN u('{name}.pl', g) < 0.5 THEN jsonb_build_object('changed', jsonb_build_array('title', 'details'))
                    ELSE jsonb_build_object('before', jsonb_build_object('status', 'new'), 'after', NULL) END,
               created('{name}', g, {n})
        FROM generate_series(1, {n}) g""")


def _types(app: str, model: str, scale: float) -> AppTable:
    name, n = f"{app}_{model}type", _rows("types", scale, app)
    return AppTable(name, app, "types", f"""
        CREATE TABLE {name} (
            id serial PRIMARY KEY, code varchar(32) NOT NULL UNIQUE,
            name_ru text NOT NULL, name_kk text, name_en text, sort_order smallint NOT NULL DEFAULT 0);""",
        f"""INSERT INTO {name} (code, name_ru, name_kk, name_en, sort_order)
        SELECT 'type_' || g, sent('{name}.ru', g, 'ru'), CASE WHEN g % 3 = 0 THEN '' ELSE sent('{name}.kk', g, 'kk') END,
               CASE WHEN g % 4 = 0 THEN NULL ELSE sent('{name}.en', g, 'en') END, g
        FROM generate_series(1, {n}) g""")


def _tags(app: str, model: str, scale: float) -> AppTable:
    name, n = f"{app}_{model}_tags", _rows("tags", scale, app)
    return AppTable(name, app, "tags", f"""
        CREATE TABLE {name} (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, {model}_id bigint NOT NULL, tag_id integer NOT NULL,
            UNIQUE ({model}_id, tag_id));""",
        f"""INSERT INTO {name} ({model}_id, tag_id) SELECT g, ri('{name}.t', g, 1, 40) FROM generate_series(1, {n}) g""")


def _settings(app: str, scale: float) -> AppTable:
    name, n = f"{app}_settings", _rows("settings", scale, app)
    return AppTable(name, app, "settings", f"""
        CREATE TABLE {name} (key varchar(64) PRIMARY KEY, value jsonb, changed timestamptz NOT NULL DEFAULT now());""",
        f"""INSERT INTO {name} (key, value, changed)
        SELECT 'setting_' || g, CASE g % 4 WHEN 0 THEN to_jsonb(g) WHEN 1 THEN to_jsonb('on'::text)
                                      WHEN 2 THEN jsonb_build_object('enabled', g % 2 = 0, 'limit', g) ELSE NULL END,
               timestamptz '2024-01-01 00:00+05' + g * interval '1 day'
        FROM generate_series(1, {n}) g""")


def _archive(app: str, scale: float) -> AppTable:
    name, n = f"{app}_archive", _rows("archive", scale, app)
    return AppTable(name, app, "archive", f"""
        CREATE TABLE {name} (entity varchar(64), entity_id bigint, snapshot jsonb, archived_on date);""",
        f"""INSERT INTO {name} (entity, entity_id, snapshot, archived_on)
        SELECT pick('{name}.e', g, ARRAY['invoice', 'lead', 'ticket']), g % 97,
               jsonb_build_object('title', sent('{name}.t', g, 'ru')), date '2021-01-01' + (g % 700)
        FROM generate_series(1, {n}) g""")


def _framework(apps: list[str]) -> list[AppTable]:
    labels = ", ".join(f"('{app}')" for app in sorted({*apps, "account", "core", "service", "booking", "techorda",
                                                      "user_sessions", "auth", "admin", "contenttypes"}))
    return [
        AppTable("django_migrations", "django", "framework",
                 "CREATE TABLE django_migrations (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                 "app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamptz NOT NULL);",
                 f"INSERT INTO django_migrations (app, name, applied) SELECT app, '0001_initial', "
                 f"timestamptz '2019-01-01 00:00+06' FROM (VALUES {labels}) v(app)"),
        AppTable("django_content_type", "django", "framework",
                 "CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label varchar(100) NOT NULL, "
                 "model varchar(100) NOT NULL, UNIQUE (app_label, model));",
                 "INSERT INTO django_content_type (app_label, model) SELECT app, 'model' FROM "
                 "(SELECT DISTINCT app FROM django_migrations) a"),
        AppTable("auth_permission", "auth", "framework",
                 "CREATE TABLE auth_permission (id serial PRIMARY KEY, name varchar(255) NOT NULL, "
                 "content_type_id integer NOT NULL, codename varchar(100) NOT NULL);",
                 "INSERT INTO auth_permission (name, content_type_id, codename) SELECT 'Can ' || a || ' model', c.id, "
                 "a || '_model' FROM django_content_type c, unnest(ARRAY['add', 'change', 'delete', 'view']) a"),
        AppTable("auth_group", "auth", "framework",
                 "CREATE TABLE auth_group (id serial PRIMARY KEY, name varchar(150) NOT NULL UNIQUE);",
                 "INSERT INTO auth_group (name) VALUES ('Модераторы'), ('Analysts'), ('Residents')"),
        AppTable("auth_group_permissions", "auth", "framework",
                 "CREATE TABLE auth_group_permissions (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                 "group_id integer NOT NULL, permission_id integer NOT NULL);",
                 "INSERT INTO auth_group_permissions (group_id, permission_id) SELECT 1 + p.id % 3, p.id FROM auth_permission p"),
        AppTable("django_admin_log", "admin", "framework",
                 "CREATE TABLE django_admin_log (id serial PRIMARY KEY, action_time timestamptz NOT NULL, "
                 "object_repr varchar(200) NOT NULL, change_message text NOT NULL);",
                 "INSERT INTO django_admin_log (action_time, object_repr, change_message) "
                 "SELECT timestamptz '2025-01-01 00:00+05' + g * interval '1 hour', 'object ' || g, '[]' FROM generate_series(1, 50) g"),
    ]


def app_tables(count: int, scale: float) -> list[AppTable]:
    """The first ``count`` generated tables (Django's own first, then the apps' in order) at ``scale``;
    a ``count`` above what the apps hold is refused (:func:`max_app_tables`)."""
    if count > max_app_tables():
        raise ValueError(f"--app-tables at most {max_app_tables()}, got {count}")
    tables: list[AppTable] = _framework([app for app, _ in APPS])
    for app, models in APPS:
        for model in models:
            tables += [_model(app, model, scale), _log(app, model, scale), _types(app, model, scale),
                       _tags(app, model, scale)]
        tables.append(_settings(app, scale))
        if app in ARCHIVED_APPS:
            tables.append(_archive(app, scale))
    return tables[:count]


def max_app_tables() -> int:
    """How many tables ``--app-tables`` can add."""
    return len(FRAMEWORK_TABLES) + sum(4 * len(models) + 1 + (app in ARCHIVED_APPS) for app, models in APPS)
