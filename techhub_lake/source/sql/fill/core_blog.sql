-- Fills core_blog: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_blog OVERRIDING SYSTEM VALUE
SELECT i, ml('bl.title', i, 0, 0, 0), ml('bl.content', i, 135, 60, 60),
    CASE WHEN u('bl.author', i) < 0.95 THEN ri('bl.authorv', i, 1, {n_account_user}) END,
    CASE WHEN u('bl.co', i) < 0.5 THEN ri('bl.cov', i, 1, {n_account_company}) END,
    u('bl.pub', i) < 0.85,
    c, updated('bl', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('bl', i, {n_core_blog}) AS c) t
