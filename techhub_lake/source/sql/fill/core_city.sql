-- Fills core_city: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_city OVERRIDING SYSTEM VALUE
SELECT i, (%(cities)s::text[])[i], 1 FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
