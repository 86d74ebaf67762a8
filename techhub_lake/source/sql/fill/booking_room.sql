-- Fills booking_room: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO booking_room OVERRIDING SYSTEM VALUE
SELECT i, CASE WHEN i <= 10 THEN 'Переговорная ' || i ELSE 'Зал «' || pick('rm.w', i, %(company_words)s) || '»' END,
    ri('rm.cap', i, 4, 120), CASE WHEN u('rm.free', i) < 0.25 THEN NULL ELSE round((ri('rm.price', i, 20, 200) * 250)::numeric, 2) END
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
