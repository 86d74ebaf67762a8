-- Fills core_country: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_country OVERRIDING SYSTEM VALUE SELECT i, 'Казахстан' FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
