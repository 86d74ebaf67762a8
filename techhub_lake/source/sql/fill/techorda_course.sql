-- Fills techorda_course: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO techorda_course OVERRIDING SYSTEM VALUE
SELECT i, ri('cs.school', i, 1, {n_techorda_school}),
    pick('cs.name', i, ARRAY['Python для начинающих', 'Frontend-разработка', 'Data Science', 'Java Backend', 'UX/UI дизайн', 'Go developer', 'QA Automation']) || ' #' || i,
    created('cs', i, {n_techorda_course})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
