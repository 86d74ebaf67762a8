-- Fills techorda_school: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO techorda_school OVERRIDING SYSTEM VALUE
SELECT i, 'Школа «' || pick('sc.w', i, %(company_words)s) || ' ' || pick('sc.n', i, %(company_nouns)s) || '» №' || i,
    created('sc', i, {n_techorda_school})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
