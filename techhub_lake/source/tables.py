"""How each synthetic TechHub table is filled: row counts at scale 1 and one set-based INSERT each.

Every INSERT selects from ``generate_series({lo}, {hi})`` so a big table is filled in chunks
(progress, and both cores busy); ids are explicit, so chunks may run in any order and the
result is the same. Randomness comes from the seeded helpers in ``sql/helpers.sql``
(``u``, ``ri``, ``pick``, ``created``, ``updated``, ``para``, ``ml``...). ``{n_<table>}`` is the
row count of a table at the requested scale; ``%(name)s`` parameters are word lists from
:mod:`techhub_lake.source.corpus`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Rows at scale 1: the real system (the figures of the TechHub data-lake plan, docs/requirements.md). Reference tables keep their
# size at every scale. Excluded tables are filled at a tenth of their real count: the lake
# never reads them, they exist to prove that it does not.
SCALE_1_ROWS = {
    "account_company": 6_600,
    "account_user": 54_000,
    "account_usercompany": 9_000,
    "account_activation": 30_000,
    "core_event": 1_400,
    "core_eventparticipant": 45_000,
    "core_vacancy": 1_200,
    "core_vacancycandidate": 15_000,
    "core_blog": 1_800,
    "core_techtask": 2_000,
    "core_comment": 20_000,
    "core_actionlog": 125_000,
    "service_hubform": 1_000,
    "service_servicerequest": 56_000,
    "service_servicerequestlog": 150_000,
    "service_hubformdata": 61_000,
    "service_report": 30_000,
    "booking_booking": 8_600,
    "booking_bookingstatus": 20_000,
    "techorda_school": 1_000,
    "techorda_course": 2_000,
    "techorda_flow": 5_000,
    "user_sessions_session": 290_000,
    "django_session": 5_000,
    "silk_request": 5_000,
    "silk_response": 5_000,
    "hub_cache_table": 2_000,
}
FIXED_ROWS = {
    "core_country": 1,
    "core_city": 16,
    "core_category": 14,
    "core_organization": 45,
    "booking_room": 16,
    "service_service": 310,
}

# Named services of the data-lake plan's "top services", with their share of requests.
TOP_SERVICES = [
    ("ast_startup_school", 0.12),
    ("mat_pass", 0.107),
    ("ast_nocode", 0.088),
    ("ast_BetaCareer2022", 0.055),
    ("techorda_graduate_v2", 0.05),
    ("techpark", 0.08),
]


def rows_at_scale(table: str, scale: float) -> int:
    """Row count of ``table`` at ``scale`` (reference tables are fixed)."""
    if table in FIXED_ROWS:
        return FIXED_ROWS[table]
    return max(1, round(SCALE_1_ROWS[table] * scale))


@dataclass(frozen=True)
class TableFill:
    """One table's INSERT and the tables whose rows it reads (they must be filled first)."""

    name: str
    sql: str
    after: tuple[str, ...] = field(default=())
    chunks: int = 1


_COMPANY = """
INSERT INTO account_company OVERRIDING SYSTEM VALUE
SELECT i,
    pick('co.form', i, ARRAY['ТОО', 'ТОО', 'ТОО', 'ИП', 'АО', 'LLP'])
        || ' «' || pick('co.w', i, %(company_words)s) || ' ' || pick('co.n', i, %(company_nouns)s) || '»',
    CASE WHEN u('co.tin', i) < 0.112 THEN NULL ELSE to_char(c, 'YYMM') || '4' || lpad(i::text, 7, '0') END,
    CASE WHEN u('co.type', i) < 0.08 THEN NULL WHEN u('co.type', i) < 0.18 THEN ''
         ELSE pick('co.typev', i, ARRAY['startup', 'it_company', 'sme', 'corporate', 'ngo', 'other']) END,
    pick('co.status', i, ARRAY['active', 'active', 'active', 'pending', 'blocked']),
    u('co.verified', i) < 0.6,
    CASE WHEN u('co.bank', i) < 0.05 THEN pick('co.bankn', i, ARRAY['АО «Kaspi Bank»', 'АО «Halyk Bank»', 'АО «Bank CenterCredit»']) END,
    CASE WHEN u('co.bank', i) < 0.05 THEN 'KZ' || lpad(ri('co.iik', i, 0, 999999999)::text, 9, '0') || lpad(i::text, 9, '0') END,
    CASE WHEN u('co.bank', i) < 0.05 THEN pick('co.bik', i, ARRAY['CASPKZKA', 'HSBKKZKX', 'KCJBKZKX']) END,
    CASE WHEN u('co.rating', i) < 0.3 THEN NULL ELSE round((u('co.ratingv', i) * 5)::numeric, 2) END,
    CASE WHEN u('co.tag_startup', i) < 0.25 THEN jsonb_build_object(
        'status', pick('co.ts', i, ARRAY['approved', 'approved', 'pending', 'rejected', 'draft']),
        'data', jsonb_build_object('stage', pick('co.stage', i, ARRAY['idea', 'mvp', 'growth', 'scale']),
                                   'team_size', ri('co.team', i, 1, 40)),
        'moderation_data', CASE WHEN u('co.ts.md', i) < 0.02 THEN to_jsonb('n/a'::text)
            ELSE jsonb_build_object('verified_at', c + interval '20 days', 'verified_by', ri('co.vb', i, 1, 50)) END)
        - CASE WHEN u('co.ts.nostatus', i) < 0.02 THEN 'status' ELSE '' END
    END,
    CASE WHEN u('co.tag_it', i) < 0.2 THEN jsonb_build_object(
        'status', pick('co.ti', i, ARRAY['approved', 'approved', 'pending', 'rejected']),
        'data', jsonb_build_object('activity_code', '62.01', 'license', u('co.lic', i) < 0.5),
        'moderation_data', jsonb_build_object('verified_at', c + interval '30 days', 'verified_by', ri('co.vb2', i, 1, 50)))
    END,
    CASE WHEN u('co.tag_tp', i) < 0.12 THEN jsonb_build_object(
        'status', pick('co.tp', i, ARRAY['approved', 'approved', 'approved', 'pending', 'expired']),
        'data', jsonb_build_object('priority_area', pick('co.pa', i, ARRAY['fintech', 'edtech', 'govtech', 'ai'])),
        'moderation_data', jsonb_build_object('verified_at', c + interval '45 days', 'verified_by', ri('co.vb3', i, 1, 50)))
    END,
    CASE WHEN u('co.tag_ts', i) < 0.08 THEN jsonb_build_object(
        'status', pick('co.tm', i, ARRAY['approved', 'pending']), 'data', '{{}}'::jsonb,
        'moderation_data', NULL)
    END,
    jsonb_build_object(
        'company_tag', CASE WHEN u('co.ctag', i) < 0.3 THEN NULL ELSE pick('co.ctagv', i, ARRAY['startup', 'it', 'techpark', 'partner']) END,
        'website', 'https://company' || i || '.example.kz',
        'employees', ri('co.emp', i, 1, 500),
        'address', pick('co.city', i, %(cities)s) || ', ул. ' || pick('co.street', i, %(last_names)s) || ' ' || ri('co.house', i, 1, 120),
        'description', para('co.descr', i, 'ru', 3)),
    c,
    updated('co', i, c, 0.7)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('co', i, {n_account_company}) AS c) t
"""

_USER = """
INSERT INTO account_user OVERRIDING SYSTEM VALUE
SELECT i,
    'pbkdf2_sha256$600000$' || left(md5('salt' || i), 22) || '$' || encode(sha256(convert_to('pw' || i, 'UTF8')), 'base64'),
    CASE WHEN u('us.login', i) < 0.15 THEN NULL ELSE c + (history_end() - c) * u('us.loginv', i) END,
    i <= 3,
    CASE WHEN u('us.email', i) < 0.39 THEN NULL
         WHEN u('us.emailq', i) < 0.03 THEN ' User.' || i || '@Mail.KZ '
         ELSE 'user' || i || '@' || pick('us.dom', i, ARRAY['mail.kz', 'gmail.com', 'astanahub.com', 'inbox.ru', 'yandex.kz']) END,
    CASE WHEN u('us.phone', i) < 0.2 THEN NULL WHEN u('us.phone', i) < 0.23 THEN ''
         ELSE '+7 7' || ri('us.op', i, 0, 9) || ri('us.op2', i, 0, 9) || ' ' || lpad(ri('us.ph', i, 0, 9999999)::text, 7, '0') END,
    pick('us.fn', i, %(first_names)s),
    pick('us.ln', i, %(last_names)s),
    CASE WHEN u('us.iin', i) < 0.002 THEN to_char(c - interval '25 years', 'YYMMDD') || lpad(ri('us.iinv', i, 0, 999999)::text, 6, '0') END,
    pick('us.role', i, ARRAY['user', 'user', 'user', 'user', 'user', 'user', 'company_admin', 'mentor', 'moderator', 'investor']),
    u('us.active', i) < 0.9,
    u('us.staff', i) < 0.01,
    CASE WHEN u('us.company', i) < 0.3 THEN ri('us.companyv', i, 1, {n_account_company}) END,
    md5('external' || i || {seed})::uuid,
    pick('us.lang', i, ARRAY['ru', 'ru', 'kk', 'en']),
    jsonb_build_object(
        'goals', CASE WHEN u('us.goalsq', i) < 0.02 THEN 'null'::jsonb
                      WHEN u('us.goalsq', i) < 0.03 THEN to_jsonb(pick('us.goal1', i, %(goals)s))
                      ELSE (SELECT coalesce(jsonb_agg(goal ORDER BY o), '[]'::jsonb)
                            FROM unnest(%(goals)s::text[]) WITH ORDINALITY AS gl(goal, o)
                            WHERE u('us.goal.' || o, i) < 0.3) END,
        'auth_flow', CASE WHEN u('us.af', i) < 0.01 THEN jsonb_build_object('type', NULL)
                          ELSE jsonb_build_object('type', pick('us.aft', i, ARRAY['phone_registration', 'email_registration', 'egov', 'google'])) END,
        'hard_skills', (SELECT coalesce(jsonb_agg(s ORDER BY o), '[]'::jsonb)
                        FROM unnest(%(skills)s::text[]) WITH ORDINALITY AS sk(s, o) WHERE u('us.hs.' || o, i) < 0.2),
        'soft_skills', (SELECT coalesce(jsonb_agg(s ORDER BY o), '[]'::jsonb)
                        FROM unnest(%(soft_skills)s::text[]) WITH ORDINALITY AS sk(s, o) WHERE u('us.ss.' || o, i) < 0.3),
        'extra_courses', CASE WHEN u('us.ec', i) < 0.6 THEN '[]'::jsonb
                              ELSE jsonb_build_array(sent('us.ecv', i, 'ru')) END,
        'bio', para('us.bio', i, pick('us.biol', i, ARRAY['ru', 'kk', 'en']), 5),
        'notifications', jsonb_build_object('email', u('us.ne', i) < 0.5, 'telegram', u('us.nt', i) < 0.3))
      - CASE WHEN u('us.goalsmiss', i) < 0.03 THEN 'goals' ELSE '' END
      - CASE WHEN u('us.afmiss', i) < 0.02 THEN 'auth_flow' ELSE '' END,
    jsonb_build_object(
        'article', CASE WHEN u('us.tagq', i) < 0.02 THEN to_jsonb('yes'::text) ELSE to_jsonb(u('us.tag', i) < 0.2) END,
        'newsletter', u('us.tagn', i) < 0.5),
    jsonb_build_object('documentolog', u('us.perm', i) < 0.05, 'crm', u('us.permc', i) < 0.02),
    c,
    updated('us', i, c, 0.6)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('us', i, {n_account_user}) AS c) t
"""

_USERCOMPANY = """
INSERT INTO account_usercompany OVERRIDING SYSTEM VALUE
SELECT i, ri('uc.user', i, 1, {n_account_user}), ri('uc.company', i, 1, {n_account_company}),
    pick('uc.role', i, ARRAY['employee', 'employee', 'employee', 'admin', 'owner']),
    created('uc', i, {n_account_usercompany})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_ACTIVATION = """
INSERT INTO account_activation OVERRIDING SYSTEM VALUE
SELECT i, ri('ac.user', i, 1, {n_account_user}), md5('activation' || i || {seed}), u('ac.used', i) < 0.8,
    c, c + interval '1 day'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('ac', i, {n_account_activation}) AS c) t
"""

_COUNTRY = "INSERT INTO core_country OVERRIDING SYSTEM VALUE SELECT i, 'Казахстан' FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)"

_CITY = """
INSERT INTO core_city OVERRIDING SYSTEM VALUE
SELECT i, (%(cities)s::text[])[i], 1 FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_CATEGORY = """
INSERT INTO core_category OVERRIDING SYSTEM VALUE
SELECT i, jsonb_build_object('ru', (%(categories_ru)s::text[])[i], 'kk', (%(categories_kk)s::text[])[i],
                             'en', (%(categories_en)s::text[])[i])
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_ORGANIZATION = """
INSERT INTO core_organization
SELECT CASE i WHEN 1 THEN 'astana_hub' WHEN 2 THEN 'techorda' WHEN 3 THEN 'mdai' ELSE 'org_' || lpad(i::text, 3, '0') END,
    CASE WHEN u('org.plain', i) < 0.04 THEN to_jsonb('Организация ' || i)
         ELSE jsonb_strip_nulls(jsonb_build_object(
            'ru', CASE WHEN u('org.noru', i) < 0.05 THEN NULL ELSE 'Организация «' || pick('org.w', i, %(company_words)s) || ' ' || i || '»' END,
            'kk', CASE WHEN u('org.nokk', i) < 0.15 THEN NULL ELSE '«' || pick('org.w', i, %(company_words)s) || ' ' || i || '» ұйымы' END,
            'en', 'Organization ' || pick('org.w', i, %(company_words)s) || ' ' || i)) END
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_EVENT = """
INSERT INTO core_event OVERRIDING SYSTEM VALUE
SELECT i,
    ml('ev.title', i, 0, 0, 0),
    ml('ev.content', i, 3, 3, 3),
    CASE WHEN u('ev.ci', i) < 0.15 THEN NULL
         ELSE jsonb_strip_nulls(jsonb_build_object(
            'email', CASE WHEN u('ev.cie', i) < 0.1 THEN NULL ELSE 'events' || i || '@astanahub.com' END,
            'phone', CASE WHEN u('ev.cip', i) < 0.2 THEN NULL WHEN u('ev.cip', i) < 0.22 THEN to_jsonb(77000000000 + i)
                          ELSE to_jsonb('+7 701 ' || lpad(i::text, 7, '0')) END,
            'full_name', pick('ev.fn', i, %(first_names)s) || ' ' || pick('ev.ln', i, %(last_names)s))) END,
    pick('ev.status', i, ARRAY['draft', 'published', 'published', 'finished', 'finished', 'cancelled']),
    pick('ev.type', i, ARRAY['conference', 'meetup', 'workshop', 'hackathon', 'webinar', 'demo_day']),
    pick('ev.format', i, ARRAY['offline', 'online', 'hybrid']),
    s, s + interval '1 hour' * ri('ev.dur', i, 1, 8),
    u('ev.pub', i) < 0.8,
    CASE WHEN u('ev.co', i) < 0.6 THEN ri('ev.cov', i, 1, {n_account_company}) END,
    CASE WHEN u('ev.org', i) < 0.7 THEN
        CASE ri('ev.orgv', i, 1, 45) WHEN 1 THEN 'astana_hub' WHEN 2 THEN 'techorda' WHEN 3 THEN 'mdai'
             ELSE 'org_' || lpad(ri('ev.orgv', i, 1, 45)::text, 3, '0') END END,
    CASE WHEN u('ev.cat', i) < 0.9 THEN ri('ev.catv', i, 1, 14) END,
    CASE WHEN u('ev.city', i) < 0.85 THEN ri('ev.cityv', i, 1, 16) END,
    ARRAY(SELECT t FROM unnest(ARRAY['ai', 'startup', 'fintech', 'career', 'наука', 'ойын']) WITH ORDINALITY AS x(t, o)
          WHERE u('ev.tag.' || o, i) < 0.25 ORDER BY o)::varchar(64)[],
    ri('ev.views', i, 0, 20000),
    c, updated('ev', i, c, 0.7)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('ev', i, {n_core_event}) AS c) t
CROSS JOIN LATERAL (SELECT date_trunc('hour', c + interval '1 day' * ri('ev.ahead', i, 3, 60))
                           + CASE WHEN u('ev.late', i) < 0.05 THEN interval '22 hours' ELSE interval '0' END AS s) st
"""

_EVENTPARTICIPANT = """
INSERT INTO core_eventparticipant OVERRIDING SYSTEM VALUE
SELECT i, ri('ep.event', i, 1, {n_core_event}), ri('ep.user', i, 1, {n_account_user}),
    pick('ep.status', i, ARRAY['registered', 'registered', 'attended', 'cancelled']),
    created('ep', i, {n_core_eventparticipant})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_VACANCY = """
INSERT INTO core_vacancy OVERRIDING SYSTEM VALUE
SELECT i, ml('va.title', i, 0, 0, 0), ml('va.descr', i, 2, 2, 2),
    pick('va.status', i, ARRAY['open', 'open', 'closed', 'draft', 'archived']),
    pick('va.type', i, ARRAY['full_time', 'part_time', 'internship', 'remote', 'contract']),
    CASE WHEN swap THEN smax ELSE smin END,
    CASE WHEN swap THEN smin ELSE smax END,
    ARRAY(SELECT s FROM unnest(%(skills)s::text[]) WITH ORDINALITY AS x(s, o) WHERE u('va.sk.' || o, i) < 0.15 ORDER BY o),
    CASE WHEN u('va.co', i) < 0.9 THEN ri('va.cov', i, 1, {n_account_company}) END,
    CASE WHEN u('va.city', i) < 0.9 THEN ri('va.cityv', i, 1, 16) END,
    c, updated('va', i, c, 0.6)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('va', i, {n_core_vacancy}) AS c,
    CASE WHEN u('va.smin', i) < 0.45 THEN NULL ELSE (ri('va.sminv', i, 150, 900) * 1000)::int END AS smin,
    CASE WHEN u('va.smax', i) < 0.45 THEN NULL ELSE (ri('va.smaxv', i, 400, 2000) * 1000)::int END AS smax,
    u('va.swap', i) < 0.05 AS swap) t
"""

_VACANCYCANDIDATE = """
INSERT INTO core_vacancycandidate OVERRIDING SYSTEM VALUE
SELECT i, ri('vc.vac', i, 1, {n_core_vacancy}), ri('vc.user', i, 1, {n_account_user}),
    pick('vc.status', i, ARRAY['new', 'new', 'reviewed', 'invited', 'rejected', 'hired']),
    created('vc', i, {n_core_vacancycandidate})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_BLOG = """
INSERT INTO core_blog OVERRIDING SYSTEM VALUE
SELECT i, ml('bl.title', i, 0, 0, 0), ml('bl.content', i, 135, 60, 60),
    CASE WHEN u('bl.author', i) < 0.95 THEN ri('bl.authorv', i, 1, {n_account_user}) END,
    CASE WHEN u('bl.co', i) < 0.5 THEN ri('bl.cov', i, 1, {n_account_company}) END,
    u('bl.pub', i) < 0.85,
    c, updated('bl', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('bl', i, {n_core_blog}) AS c) t
"""

_TECHTASK = """
INSERT INTO core_techtask OVERRIDING SYSTEM VALUE
SELECT i, ml('tt.title', i, 0, 0, 0),
    CASE WHEN u('tt.budget', i) < 0.3 THEN NULL ELSE round((u('tt.budgetv', i) * 50000000)::numeric, 2) END,
    CASE WHEN u('tt.co', i) < 0.95 THEN ri('tt.cov', i, 1, {n_account_company}) END,
    pick('tt.status', i, ARRAY['open', 'in_progress', 'done', 'cancelled']),
    c, updated('tt', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('tt', i, {n_core_techtask}) AS c) t
"""

_COMMENT = """
INSERT INTO core_comment OVERRIDING SYSTEM VALUE
SELECT i, ri('cm.user', i, 1, {n_account_user}),
    pick('cm.type', i, ARRAY['blog', 'event', 'vacancy']), ri('cm.obj', i, 1, 2000),
    sent('cm.text', i, pick('cm.lang', i, ARRAY['ru', 'ru', 'kk', 'en'])),
    created('cm', i, {n_core_comment})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_ACTIONLOG = """
INSERT INTO core_actionlog OVERRIDING SYSTEM VALUE
SELECT i,
    CASE WHEN u('al.anon', i) < 0.1 THEN NULL ELSE ri('al.user', i, 1, {n_account_user}) END,
    pick('al.action', i, ARRAY['login', 'logout', 'view', 'view', 'view', 'create', 'update', 'delete', 'apply', 'download']),
    pick('al.obj', i, ARRAY['event', 'vacancy', 'blog', 'servicerequest', 'company', 'user']),
    ri('al.objid', i, 1, 60000),
    jsonb_build_object(
        'request', jsonb_build_object(
            'method', pick('al.m', i, ARRAY['GET', 'GET', 'POST', 'PATCH', 'DELETE']),
            'path', '/api/v1/' || pick('al.obj', i, ARRAY['events', 'vacancies', 'blogs', 'requests', 'companies', 'users']) || '/' || ri('al.objid', i, 1, 60000),
            'headers', jsonb_build_object('user-agent', 'Mozilla/5.0 (X11; Linux x86_64) TechHub/' || ri('al.ua', i, 1, 9),
                                          'accept-language', pick('al.al', i, ARRAY['ru-KZ', 'kk-KZ', 'en-US'])),
            'body', para('al.body', i, pick('al.bl', i, ARRAY['ru', 'kk', 'en']), 9)),
        'response', jsonb_build_object('status', pick('al.st', i, ARRAY['200', '200', '200', '201', '204', '400', '403', '500'])::int,
                                       'duration_ms', ri('al.dur', i, 3, 4000)),
        'changes', CASE WHEN u('al.ch', i) < 0.3 THEN jsonb_build_object('before', sent('al.b', i, 'ru'), 'after', sent('al.a', i, 'ru')) END),
    ('203.0.113.' || ri('al.ip', i, 1, 254))::inet,
    created('al', i, {n_core_actionlog})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_SERVICE = """
INSERT INTO service_service
SELECT code,
    jsonb_build_object(
        'name', CASE WHEN u('sv.plain', i) < 0.05 THEN to_jsonb('Услуга ' || i)
                     ELSE jsonb_strip_nulls(jsonb_build_object(
                        'ru', CASE WHEN u('sv.noru', i) < 0.03 THEN NULL ELSE 'Услуга «' || pick('sv.w', i, %(company_words)s) || ' ' || i || '»' END,
                        'kk', CASE WHEN u('sv.nokk', i) < 0.1 THEN NULL ELSE '«' || pick('sv.w', i, %(company_words)s) || ' ' || i || '» қызметі' END,
                        'en', 'Service ' || pick('sv.w', i, %(company_words)s) || ' ' || i)) END,
        'description', para('sv.descr', i, 'ru', 1),
        'category', pick('sv.cat', i, ARRAY['education', 'acceleration', 'access', 'grants', 'certification']),
        'form_schema', jsonb_build_object('fields', ri('sv.fields', i, 3, 25), 'requires_company', code = 'techpark'))
      - CASE WHEN u('sv.noname', i) < 0.02 AND i > 6 THEN 'name' ELSE '' END,
    u('sv.active', i) < 0.85 OR i <= 6,
    created('sv', i, 310)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT CASE WHEN i <= 6 THEN (%(top_services)s::text[])[i]
                                ELSE 'svc_' || lpad(i::text, 3, '0') END AS code) t
"""

_SERVICEREQUEST = """
INSERT INTO service_servicerequest OVERRIDING SYSTEM VALUE
SELECT i, svc,
    CASE WHEN u('sr.noauthor', i) < 0.02 THEN NULL ELSE ri('sr.author', i, 1, {n_account_user}) END,
    CASE WHEN svc = 'techpark' OR u('sr.co', i) < 0.005 THEN ri('sr.cov', i, 1, {n_account_company}) END,
    st,
    jsonb_strip_nulls(jsonb_build_object(
        'signatures', CASE WHEN u('sr.sigq', i) < 0.02 THEN 'null'::jsonb
            ELSE (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'signer', pick('sr.signer' || k, i, %(last_names)s),
                    'signed_at', c + interval '1 hour' * k,
                    'signature', blob('sr.sig' || k, i, 1100)) ORDER BY k), '[]'::jsonb)
                  FROM generate_series(1, ri('sr.nsig', i, 0, 3)::int) AS k) END,
        'reject_detail', CASE WHEN st IN ('reject', 'rejected') THEN sent('sr.rej', i, 'ru') END,
        -- signed techpark requests carry the certificate (one in ten lacks it); some approved ones already
        -- carry the number issued for them (the certificate fallback's third level finds those)
        'certificate_number', CASE WHEN svc = 'techpark' AND ((st = 'signed' AND u('sr.nocert', i) >= 0.1)
                                                             OR (st = 'approved' AND u('sr.precert', i) < 0.6))
                                   THEN 'ТП-' || to_char(c, 'YYYY') || '-' || lpad(i::text, 6, '0') END,
        'certificate_issue_date', CASE WHEN svc = 'techpark' AND st = 'signed' THEN to_char(c + interval '14 days', 'YYYY-MM-DD') END,
        'certificate_end_date', CASE WHEN svc = 'techpark' AND st = 'signed' THEN to_char(c + interval '14 days' + interval '3 years', 'YYYY-MM-DD') END,
        'form', jsonb_build_object('about', para('sr.about', i, 'ru', 2), 'team_size', ri('sr.team', i, 1, 30),
                                   'city', pick('sr.city', i, %(cities)s))
    )),
    c, updated('sr', i, c, 0.75)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('sr', i, {n_service_servicerequest}) AS c, u('sr.svc', i) AS p) t
CROSS JOIN LATERAL (SELECT CASE
        WHEN p < 0.12 THEN 'ast_startup_school' WHEN p < 0.227 THEN 'mat_pass' WHEN p < 0.315 THEN 'ast_nocode'
        WHEN p < 0.37 THEN 'ast_BetaCareer2022' WHEN p < 0.42 THEN 'techorda_graduate_v2' WHEN p < 0.50 THEN 'techpark'
        ELSE 'svc_' || lpad(ri('sr.svcv', i, 7, 310)::text, 3, '0') END AS svc) s
CROSS JOIN LATERAL (SELECT CASE WHEN svc = 'techpark'
        THEN pick('sr.tpst', i, ARRAY['signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'draft', 'sent', 'approved', 'rejected'])
        ELSE pick('sr.st', i, ARRAY['draft', 'draft', 'sent', 'sent', 'approved', 'success', 'success', 'success', 'reject', 'rejected', 'signed', 'in_review'])
        END AS st) x
"""

_SERVICEREQUESTLOG = """
INSERT INTO service_servicerequestlog OVERRIDING SYSTEM VALUE
SELECT i, r.id,
    CASE WHEN u('sl.first', i) < 0.3 THEN NULL ELSE pick('sl.from', i, ARRAY['draft', 'sent', 'approved']) END,
    CASE WHEN u('sl.final', i) < 0.4 THEN r.status ELSE pick('sl.to', i, ARRAY['sent', 'approved', 'in_review']) END,
    least(history_end(), r.created_at + interval '1 minute' * ri('sl.delay', i, 1, 20000))
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
JOIN service_servicerequest r
  ON r.id = least({n_service_servicerequest}, 1 + ((i - 1)::bigint * {n_service_servicerequest}) / {n_service_servicerequestlog})
"""

_HUBFORM = """
INSERT INTO service_hubform OVERRIDING SYSTEM VALUE
SELECT i, 'form_' || lpad(i::text, 4, '0'), ml('hf.title', i, 0, 0, 0), created('hf', i, {n_service_hubform})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

# Each form has its own fields (a stable subset of HUBFORM_FIELDS chosen by form id); value types
# follow the field's position: long text, number, boolean, short text. Now and then a value is
# NULL or a number arrives as a formatted string.
_HUBFORMDATA = """
INSERT INTO service_hubformdata OVERRIDING SYSTEM VALUE
SELECT i, f, CASE WHEN u('hd.noauthor', i) < 0.03 THEN NULL ELSE ri('hd.author', i, 1, {n_account_user}) END,
    (SELECT jsonb_object_agg(field, CASE
            WHEN u('hd.null.' || o, i) < 0.02 THEN 'null'::jsonb
            WHEN mod(o, 4) IN (0, 1) THEN to_jsonb(para('hd.v.' || o, i, pick('hd.l', i, ARRAY['ru', 'ru', 'kk', 'en']), 3 - mod(o, 4)::int))
            WHEN mod(o, 4) = 2 THEN CASE WHEN u('hd.str.' || o, i) < 0.01
                                         THEN to_jsonb(to_char(ri('hd.n.' || o, i, 0, 99999999), 'FM999 999 999'))
                                         ELSE to_jsonb(ri('hd.n.' || o, i, 0, 99999999)) END
            ELSE to_jsonb(u('hd.b.' || o, i) < 0.5) END)
     FROM unnest(%(hubform_fields)s::text[]) WITH ORDINALITY AS hf(field, o)
     WHERE u('hd.field.' || o, f) < 0.45 OR o = 1),
    c, updated('hd', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('hd', i, {n_service_hubformdata}) AS c,
    CASE WHEN u('hd.popular', i) < 0.7 THEN ri('hd.formp', i, 1, least(50, {n_service_hubform}))
         ELSE ri('hd.form', i, 1, {n_service_hubform}) END AS f) t
"""

# Techpark participants' reports (the techpark reporting plan): 30+ fields in `data`, the BIN inside signed XML.
_REPORT = """
INSERT INTO service_report OVERRIDING SYSTEM VALUE
SELECT i, co.id,
    CASE WHEN u('rp.noreq', i) < 0.2 THEN NULL ELSE ri('rp.req', i, 1, {n_service_servicerequest}) END,
    pick('rp.status', i, ARRAY['draft', 'submitted', 'submitted', 'accepted', 'accepted', 'accepted', 'rejected']),
    jsonb_strip_nulls(jsonb_build_object(
        'report_year', yr, 'report_period', pick('rp.period', i, ARRAY['Q1', 'Q2', 'Q3', 'Q4', 'year']),
        'bin', CASE WHEN u('rp.nobin', i) < 0.03 THEN NULL ELSE co.tin END,
        'company_name', co.name,
        'certificate_number', CASE WHEN u('rp.nocert', i) < 0.1 THEN NULL ELSE 'ТП-' || yr || '-' || lpad(co.id::text, 6, '0') END,
        'revenue', round((u('rp.rev', i) * 900000000)::numeric, 2),
        'income_total', round((u('rp.inc', i) * 950000000)::numeric, 2),
        'expenses_total', round((u('rp.exp', i) * 700000000)::numeric, 2),
        'rd_expenses', round((u('rp.rd', i) * 90000000)::numeric, 2),
        'loans', round((u('rp.loans', i) * 100000000)::numeric, 2),
        'investments', CASE WHEN u('rp.inv', i) < 0.7 THEN 0 ELSE round((u('rp.invv', i) * 500000000)::numeric, 2) END,
        'grants', CASE WHEN u('rp.gr', i) < 0.8 THEN 0 ELSE round((u('rp.grv', i) * 50000000)::numeric, 2) END,
        'own_funds', round((u('rp.own', i) * 100000000)::numeric, 2),
        'foreign_investments', CASE WHEN u('rp.finv', i) < 0.9 THEN 0 ELSE round((u('rp.finvv', i) * 300000000)::numeric, 2) END,
        'tax_kpn', round((u('rp.kpn', i) * 20000000)::numeric, 2),
        'tax_nds', round((u('rp.nds', i) * 30000000)::numeric, 2),
        'tax_ipn', round((u('rp.ipn', i) * 10000000)::numeric, 2),
        'tax_sn', round((u('rp.sn', i) * 8000000)::numeric, 2),
        'tax_benefits_total', round((u('rp.tb', i) * 60000000)::numeric, 2),
        'employees_residents', ri('rp.res', i, 1, 300),
        'employees_nonresidents', ri('rp.nres', i, 0, 20),
        'employees_gph', ri('rp.gph', i, 0, 40),
        'employees_women', ri('rp.women', i, 0, 150),
        'average_salary', ri('rp.sal', i, 250, 1500) * 1000,
        'export_revenue', CASE WHEN u('rp.export', i) < 0.6 THEN 0 ELSE round((u('rp.expv', i) * 400000000)::numeric, 2) END,
        'export_by_country', CASE
            WHEN u('rp.ebc', i) < 0.10 THEN NULL
            WHEN u('rp.ebc', i) < 0.30 THEN '[]'::jsonb
            WHEN u('rp.ebc', i) < 0.32 THEN to_jsonb('Узбекистан: 100%%'::text)
            WHEN u('rp.ebc', i) < 0.33 THEN jsonb_build_array(jsonb_build_object('country', 'Грузия'), jsonb_build_object('amount', 'много'))
            ELSE (SELECT jsonb_agg(jsonb_build_object('country', ctry, 'amount', round((u('rp.ea.' || o, i) * 50000000)::numeric, 2)) ORDER BY o)
                  FROM unnest(%(countries)s::text[]) WITH ORDINALITY AS x(ctry, o)
                  WHERE u('rp.ec.' || o, i) < 0.2 OR o = 1 + mod(i, 9)) END,
        'products_count', ri('rp.prod', i, 0, 20),
        'patents', ri('rp.pat', i, 0, 3),
        'priority_area', pick('rp.pa', i, ARRAY['fintech', 'edtech', 'govtech', 'ai', 'healthtech', 'agritech']),
        'contact_person', pick('rp.fn', i, %(first_names)s) || ' ' || pick('rp.ln', i, %(last_names)s),
        'contact_phone', '+7 701 ' || lpad(ri('rp.ph', i, 0, 9999999)::text, 7, '0'),
        'comment', para('rp.comment', i, 'ru', 1)
    )) - CASE WHEN u('rp.noebc', i) < 0.05 THEN 'export_by_country' ELSE '' END,
    CASE WHEN u('rp.noxml', i) < 0.03 THEN NULL
         ELSE '<?xml version="1.0" encoding="UTF-8"?><Report xmlns="urn:astanahub:techpark:report">'
              || '<Header><BIN>' || coalesce(co.tin, '') || '</BIN><Year>' || yr || '</Year>'
              || '<Company>' || replace(replace(co.name, '&', '&amp;'), '<', '&lt;') || '</Company></Header>'
              || '<Body>' || replace(para('rp.xml', i, 'ru', 1), '<', '&lt;') || '</Body>'
              || '<Signature>' || blob('rp.sig', i, 1800) || '</Signature>'
              || CASE WHEN u('rp.badxml', i) < 0.02 THEN '<Unclosed>' ELSE '</Report>' END END,
    c, updated('rp', i, c, 0.85)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('rp', i, {n_service_report}) AS c) t
CROSS JOIN LATERAL (SELECT greatest(2019, least(2026, extract(year FROM c AT TIME ZONE 'Asia/Almaty')::int
                                             - (u('rp.prev', i) < 0.4)::int)) AS yr) y
JOIN account_company co ON co.id = 1 + mod(ri('rp.co', i, 0, 1000000000), greatest(1, ({n_account_company} * 45) / 100))
"""

_ROOM = """
INSERT INTO booking_room OVERRIDING SYSTEM VALUE
SELECT i, CASE WHEN i <= 10 THEN 'Переговорная ' || i ELSE 'Зал «' || pick('rm.w', i, %(company_words)s) || '»' END,
    ri('rm.cap', i, 4, 120), CASE WHEN u('rm.free', i) < 0.25 THEN NULL ELSE round((ri('rm.price', i, 20, 200) * 250)::numeric, 2) END
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_BOOKING = """
INSERT INTO booking_booking OVERRIDING SYSTEM VALUE
SELECT i, ri('bk.room', i, 1, 16), CASE WHEN u('bk.noauthor', i) < 0.02 THEN NULL ELSE ri('bk.author', i, 1, {n_account_user}) END,
    s, s + interval '30 minutes' * ri('bk.len', i, 1, 8),
    pick('bk.status', i, ARRAY['pending', 'confirmed', 'confirmed', 'cancelled', 'finished', 'finished']),
    c, updated('bk', i, c, 0.6)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('bk', i, {n_booking_booking}) AS c) t
CROSS JOIN LATERAL (SELECT date_trunc('hour', c + interval '1 hour' * ri('bk.ahead', i, 1, 400)) AS s) st
"""

_BOOKINGSTATUS = """
INSERT INTO booking_bookingstatus OVERRIDING SYSTEM VALUE
SELECT i, b.id,
    CASE WHEN u('bs.final', i) < 0.5 THEN b.status ELSE pick('bs.st', i, ARRAY['pending', 'confirmed']) END,
    least(history_end(), b.created_at + interval '1 minute' * ri('bs.delay', i, 1, 3000))
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
JOIN booking_booking b
  ON b.id = least({n_booking_booking}, 1 + ((i - 1)::bigint * {n_booking_booking}) / {n_booking_bookingstatus})
"""

_SCHOOL = """
INSERT INTO techorda_school OVERRIDING SYSTEM VALUE
SELECT i, 'Школа «' || pick('sc.w', i, %(company_words)s) || ' ' || pick('sc.n', i, %(company_nouns)s) || '» №' || i,
    created('sc', i, {n_techorda_school})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_COURSE = """
INSERT INTO techorda_course OVERRIDING SYSTEM VALUE
SELECT i, ri('cs.school', i, 1, {n_techorda_school}),
    pick('cs.name', i, ARRAY['Python для начинающих', 'Frontend-разработка', 'Data Science', 'Java Backend', 'UX/UI дизайн', 'Go developer', 'QA Automation']) || ' #' || i,
    created('cs', i, {n_techorda_course})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_FLOW = """
INSERT INTO techorda_flow OVERRIDING SYSTEM VALUE
SELECT i, ri('fl.course', i, 1, {n_techorda_course}), 'Поток ' || i,
    (c AT TIME ZONE 'Asia/Almaty')::date + 14, (c AT TIME ZONE 'Asia/Almaty')::date + 14 + ri('fl.len', i, 30, 180)::int,
    c
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('fl', i, {n_techorda_flow}) AS c) t
"""

_USER_SESSIONS = """
INSERT INTO user_sessions_session
SELECT left(md5('session' || i || {seed}) || md5('k' || i), 40),
    blob('ss.data', i, 380),
    c + interval '14 days',
    CASE WHEN u('ss.anon', i) < 0.3 THEN NULL ELSE ri('ss.user', i, 1, {n_account_user}) END,
    'Mozilla/5.0 (' || pick('ss.os', i, ARRAY['Windows NT 10.0', 'Macintosh', 'X11; Linux x86_64', 'iPhone']) || ')',
    c, ('198.51.100.' || ri('ss.ip', i, 1, 254))::inet
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('ss', i, {n_user_sessions_session}) AS c) t
"""

_DJANGO_SESSION = """
INSERT INTO django_session
SELECT left(md5('dj' || i || {seed}) || md5('dk' || i), 40), blob('dj.data', i, 300), created('dj', i, {n_django_session}) + interval '14 days'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_SILK_REQUEST = """
INSERT INTO silk_request
SELECT md5('silk' || i || {seed})::uuid, '/api/v1/' || pick('sk.path', i, ARRAY['events', 'users', 'requests']),
    pick('sk.m', i, ARRAY['GET', 'POST']), blob('sk.body', i, 600), created('sk', i, {n_silk_request}), u('sk.t', i) * 900
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

_SILK_RESPONSE = """
INSERT INTO silk_response
SELECT md5('silkr' || i || {seed})::uuid, md5('silk' || i || {seed})::uuid,
    pick('skr.code', i, ARRAY['200', '200', '201', '404', '500'])::int, blob('skr.body', i, 900)
FROM generate_series({lo}::bigint, least({hi}, {n_silk_request})::bigint) AS g(i)
"""

_CACHE = """
INSERT INTO hub_cache_table
SELECT ':1:views.decorators.cache.' || md5('cache' || i || {seed}), blob('ch.v', i, 2000), created('ch', i, {n_hub_cache_table}) + interval '1 day'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
"""

# Order matters only where a fill reads another table's rows (`after`); the biggest tables are
# listed first so the two workers finish together.
TABLE_FILLS = [
    TableFill("core_actionlog", _ACTIONLOG, chunks=16),
    TableFill("service_hubformdata", _HUBFORMDATA, chunks=10),
    TableFill("core_blog", _BLOG, chunks=6),
    TableFill("account_user", _USER, chunks=8),
    TableFill("service_servicerequest", _SERVICEREQUEST, after=("service_service",), chunks=8),
    TableFill("account_company", _COMPANY, chunks=2),
    TableFill("service_report", _REPORT, after=("account_company",), chunks=6),
    TableFill("user_sessions_session", _USER_SESSIONS, chunks=4),
    TableFill("core_event", _EVENT, chunks=2),
    TableFill("core_vacancy", _VACANCY),
    TableFill("service_servicerequestlog", _SERVICEREQUESTLOG, after=("service_servicerequest",), chunks=2),
    TableFill("core_eventparticipant", _EVENTPARTICIPANT),
    TableFill("account_activation", _ACTIVATION),
    TableFill("core_comment", _COMMENT),
    TableFill("core_vacancycandidate", _VACANCYCANDIDATE),
    TableFill("account_usercompany", _USERCOMPANY),
    TableFill("booking_booking", _BOOKING),
    TableFill("booking_bookingstatus", _BOOKINGSTATUS, after=("booking_booking",)),
    TableFill("core_techtask", _TECHTASK),
    TableFill("service_hubform", _HUBFORM),
    TableFill("service_service", _SERVICE),
    TableFill("core_organization", _ORGANIZATION),
    TableFill("core_category", _CATEGORY),
    TableFill("core_city", _CITY),
    TableFill("core_country", _COUNTRY),
    TableFill("booking_room", _ROOM),
    TableFill("techorda_school", _SCHOOL),
    TableFill("techorda_course", _COURSE),
    TableFill("techorda_flow", _FLOW),
    TableFill("django_session", _DJANGO_SESSION),
    TableFill("silk_request", _SILK_REQUEST),
    TableFill("silk_response", _SILK_RESPONSE),
    TableFill("hub_cache_table", _CACHE),
]
