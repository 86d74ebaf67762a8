-- Fills silk_request: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO silk_request
SELECT md5('silk' || i || {seed})::uuid, '/api/v1/' || pick('sk.path', i, ARRAY['events', 'users', 'requests']),
    pick('sk.m', i, ARRAY['GET', 'POST']), blob('sk.body', i, 600), created('sk', i, {n_silk_request}), u('sk.t', i) * 900
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
