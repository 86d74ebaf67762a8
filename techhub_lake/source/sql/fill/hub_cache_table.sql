-- Fills hub_cache_table: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO hub_cache_table
SELECT ':1:views.decorators.cache.' || md5('cache' || i || {seed}), blob('ch.v', i, 2000), created('ch', i, {n_hub_cache_table}) + interval '1 day'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
