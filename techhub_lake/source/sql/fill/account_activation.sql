-- Fills account_activation: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO account_activation OVERRIDING SYSTEM VALUE
SELECT i, ri('ac.user', i, 1, {n_account_user}), md5('activation' || i || {seed}), u('ac.used', i) < 0.8,
    c, c + interval '1 day'
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('ac', i, {n_account_activation}) AS c) t
