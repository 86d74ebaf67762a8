-- Fills core_category: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_category OVERRIDING SYSTEM VALUE
SELECT i, jsonb_build_object('ru', (%(categories_ru)s::text[])[i], 'kk', (%(categories_kk)s::text[])[i],
                             'en', (%(categories_en)s::text[])[i])
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
