-- Fills core_comment: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_comment OVERRIDING SYSTEM VALUE
SELECT i, ri('cm.user', i, 1, {n_account_user}),
    pick('cm.type', i, ARRAY['blog', 'event', 'vacancy']), ri('cm.obj', i, 1, 2000),
    sent('cm.text', i, pick('cm.lang', i, ARRAY['ru', 'ru', 'kk', 'en'])),
    created('cm', i, {n_core_comment})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
