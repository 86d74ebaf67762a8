-- Fills service_hubform: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO service_hubform OVERRIDING SYSTEM VALUE
SELECT i, 'form_' || lpad(i::text, 4, '0'), ml('hf.title', i, 0, 0, 0), created('hf', i, {n_service_hubform})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
