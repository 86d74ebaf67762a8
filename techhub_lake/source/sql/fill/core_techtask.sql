-- Fills core_techtask: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_techtask OVERRIDING SYSTEM VALUE
SELECT i, ml('tt.title', i, 0, 0, 0),
    CASE WHEN u('tt.budget', i) < 0.3 THEN NULL ELSE round((u('tt.budgetv', i) * 50000000)::numeric, 2) END,
    CASE WHEN u('tt.co', i) < 0.95 THEN ri('tt.cov', i, 1, {n_account_company}) END,
    pick('tt.status', i, ARRAY['open', 'in_progress', 'done', 'cancelled']),
    c, updated('tt', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('tt', i, {n_core_techtask}) AS c) t
