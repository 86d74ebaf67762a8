-- Fills core_event: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
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
