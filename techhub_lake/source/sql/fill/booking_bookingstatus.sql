-- Fills booking_bookingstatus: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO booking_bookingstatus OVERRIDING SYSTEM VALUE
SELECT i, b.id,
    CASE WHEN u('bs.final', i) < 0.5 THEN b.status ELSE pick('bs.st', i, ARRAY['pending', 'confirmed']) END,
    least(history_end(), b.created_at + interval '1 minute' * ri('bs.delay', i, 1, 3000))
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
JOIN booking_booking b
  ON b.id = least({n_booking_booking}, 1 + ((i - 1)::bigint * {n_booking_booking}) / {n_booking_bookingstatus})
