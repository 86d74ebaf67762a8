-- Fills booking_booking: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO booking_booking OVERRIDING SYSTEM VALUE
SELECT i, ri('bk.room', i, 1, 16), CASE WHEN u('bk.noauthor', i) < 0.02 THEN NULL ELSE ri('bk.author', i, 1, {n_account_user}) END,
    s, s + interval '30 minutes' * ri('bk.len', i, 1, 8),
    pick('bk.status', i, ARRAY['pending', 'confirmed', 'confirmed', 'cancelled', 'finished', 'finished']),
    c, updated('bk', i, c, 0.6)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('bk', i, {n_booking_booking}) AS c) t
CROSS JOIN LATERAL (SELECT date_trunc('hour', c + interval '1 hour' * ri('bk.ahead', i, 1, 400)) AS s) st
