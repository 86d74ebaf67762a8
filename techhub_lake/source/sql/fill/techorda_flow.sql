-- Fills techorda_flow: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO techorda_flow OVERRIDING SYSTEM VALUE
SELECT i, ri('fl.course', i, 1, {n_techorda_course}), 'Поток ' || i,
    (c AT TIME ZONE 'Asia/Almaty')::date + 14, (c AT TIME ZONE 'Asia/Almaty')::date + 14 + ri('fl.len', i, 30, 180)::int,
    c
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('fl', i, {n_techorda_flow}) AS c) t
