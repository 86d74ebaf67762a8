-- Fills django_session: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO django_session
SELECT left(md5('dj' || i || {seed}) || md5('dk' || i), 40), blob('dj.data', i, 300), created('dj', i, {n_django_session}) + interval '14 days'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
