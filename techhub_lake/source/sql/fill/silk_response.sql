-- Fills silk_response: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO silk_response
SELECT md5('silkr' || i || {seed})::uuid, md5('silk' || i || {seed})::uuid,
    pick('skr.code', i, ARRAY['200', '200', '201', '404', '500'])::int, blob('skr.body', i, 900)
FROM generate_series({lo}::bigint, least({hi}, {n_silk_request})::bigint) AS g(i)
