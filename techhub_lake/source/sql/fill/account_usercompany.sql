-- Fills account_usercompany: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO account_usercompany OVERRIDING SYSTEM VALUE
SELECT i, ri('uc.user', i, 1, {n_account_user}), ri('uc.company', i, 1, {n_account_company}),
    pick('uc.role', i, ARRAY['employee', 'employee', 'employee', 'admin', 'owner']),
    created('uc', i, {n_account_usercompany})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
