-- Fills core_vacancycandidate: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_vacancycandidate OVERRIDING SYSTEM VALUE
SELECT i, ri('vc.vac', i, 1, {n_core_vacancy}), ri('vc.user', i, 1, {n_account_user}),
    pick('vc.status', i, ARRAY['new', 'new', 'reviewed', 'invited', 'rejected', 'hired']),
    created('vc', i, {n_core_vacancycandidate})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
