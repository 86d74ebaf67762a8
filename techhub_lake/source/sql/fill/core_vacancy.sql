-- Fills core_vacancy: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
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
