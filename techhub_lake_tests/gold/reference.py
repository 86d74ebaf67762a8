"""The five gold marts computed straight on the source PostgreSQL, in plain SQL, from the contract in
the gold issue (not from the data-lake plan's SQL, which fans out). Each count is aggregated on its own table
and joined on by key, so a join never multiplies what another counts.

``text(j)`` below reads a JSON scalar as text the way the lake does: strings, numbers and booleans
as text; absent, null, arrays and objects as NULL. ``first_text`` takes ru, else kk, else en,
skipping empty strings.
"""

from __future__ import annotations

TIMEZONE = "Asia/Almaty"


def text(json: str) -> str:
    return f"(CASE WHEN jsonb_typeof({json}) IN ('string', 'number', 'boolean') THEN {json} #>> '{{}}' END)"


def first_text(json: str) -> str:
    return "COALESCE(" + ", ".join(f"NULLIF({text(f'{json} -> {lang!r}')}, '')" for lang in ("ru", "kk", "en")) + ")"


DM_USERS = r"""
WITH companies AS (SELECT user_id, count(DISTINCT company_id) AS n FROM account_usercompany GROUP BY user_id),
     requests AS (SELECT author_id, count(DISTINCT id) AS n FROM service_servicerequest GROUP BY author_id),
     attended AS (SELECT author_id, count(DISTINCT event_id) AS n FROM core_eventparticipant GROUP BY author_id)
SELECT u.id AS user_id,
       CASE WHEN lower(btrim(u.email)) ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN lower(btrim(u.email)) END AS email,
       u.first_name, u.last_name, u.role, u.is_active,
       u.created_at AS registered_at,
       CASE WHEN jsonb_typeof(u.data -> 'goals') = 'array'
            THEN ARRAY(SELECT g FROM jsonb_array_elements_text(u.data -> 'goals') WITH ORDINALITY AS e(g, n) ORDER BY n)
       END AS goals,
       u.company_id AS primary_company_id,
       c.name AS primary_company_name,
       coalesce(companies.n, 0) AS companies_count,
       coalesce(requests.n, 0) AS service_requests_count,
       coalesce(attended.n, 0) AS events_attended
FROM account_user u
LEFT JOIN account_company c ON c.id = u.company_id
LEFT JOIN companies ON companies.user_id = u.id
LEFT JOIN requests ON requests.author_id = u.id
LEFT JOIN attended ON attended.author_id = u.id
"""

DM_COMPANIES = f"""
WITH employees AS (SELECT company_id, count(DISTINCT user_id) AS n FROM account_usercompany GROUP BY company_id),
     events AS (SELECT company_id, count(*) AS n FROM core_event GROUP BY company_id),
     vacancies AS (SELECT company_id, count(*) AS n FROM core_vacancy GROUP BY company_id),
     requests AS (SELECT company_id, count(DISTINCT id) AS n,
                         count(DISTINCT id) FILTER (WHERE status = 'success') AS successful
                  FROM service_servicerequest GROUP BY company_id)
SELECT c.id AS company_id, c.tin, c.name, c.company_type, c.status, c.verified, c.created_at,
       {text("c.tag_startup -> 'status'")} AS startup_status,
       {text("c.tag_it_company -> 'status'")} AS it_company_status,
       coalesce(employees.n, 0) AS employees_count,
       coalesce(events.n, 0) AS events_count,
       coalesce(vacancies.n, 0) AS vacancies_count,
       coalesce(requests.n, 0) AS service_requests_count,
       coalesce(requests.successful, 0) AS successful_requests
FROM account_company c
LEFT JOIN employees ON employees.company_id = c.id
LEFT JOIN events ON events.company_id = c.id
LEFT JOIN vacancies ON vacancies.company_id = c.id
LEFT JOIN requests ON requests.company_id = c.id
"""

DM_SERVICE_FUNNEL = f"""
SELECT r.service_id AS service_code,
       COALESCE({first_text("s.data -> 'name'")}, {text("s.data -> 'name'")}) AS service_name,
       date_trunc('month', r.created_at AT TIME ZONE '{TIMEZONE}')::date AS month,
       count(*) AS total_requests,
       count(*) FILTER (WHERE r.status = 'draft') AS draft,
       count(*) FILTER (WHERE r.status = 'sent') AS sent,
       count(*) FILTER (WHERE r.status = 'approved') AS approved,
       count(*) FILTER (WHERE r.status = 'success') AS success,
       count(*) FILTER (WHERE r.status IN ('reject', 'rejected')) AS rejected,
       count(*) FILTER (WHERE r.status = 'signed') AS signed,
       count(*) FILTER (WHERE r.status IS NULL OR r.status NOT IN
                        ('draft', 'sent', 'approved', 'success', 'reject', 'rejected', 'signed')) AS other
FROM service_servicerequest r
LEFT JOIN service_service s ON s.code = r.service_id
GROUP BY 1, 2, 3
"""

DM_EVENTS_ANALYTICS = f"""
WITH participants AS (SELECT event_id, count(*) AS n FROM core_eventparticipant GROUP BY event_id)
SELECT e.id AS event_id, {first_text("e.title")} AS title, e.status, e.event_type, e.event_format,
       e.datetime_start, e.datetime_end, e.published,
       c.name AS company_name,
       {first_text("o.name")} AS organization_name,
       coalesce(participants.n, 0) AS participants_count,
       e.view_count
FROM core_event e
LEFT JOIN account_company c ON c.id = e.company_id
LEFT JOIN core_organization o ON o.code = e.organization_id
LEFT JOIN participants ON participants.event_id = e.id
"""

DM_VACANCIES_MARKET = f"""
WITH candidates AS (SELECT vacancy_id, count(*) AS n FROM core_vacancycandidate GROUP BY vacancy_id)
SELECT v.id AS vacancy_id, {first_text("v.title")} AS title, v.status, v.vacancy_type, v.salary_min, v.salary_max,
       (v.salary_min::float8 + v.salary_max::float8) / 2 AS salary_avg,
       c.name AS company_name, c.verified AS company_verified,
       city.name AS city_name,
       v.created_at,
       coalesce(candidates.n, 0) AS candidates_count
FROM core_vacancy v
LEFT JOIN account_company c ON c.id = v.company_id
LEFT JOIN core_city city ON city.id = v.city_id
LEFT JOIN candidates ON candidates.vacancy_id = v.id
"""

REFERENCE_SQL = {
    "dm_users": DM_USERS,
    "dm_companies": DM_COMPANIES,
    "dm_service_funnel": DM_SERVICE_FUNNEL,
    "dm_events_analytics": DM_EVENTS_ANALYTICS,
    "dm_vacancies_market": DM_VACANCIES_MARKET,
}
