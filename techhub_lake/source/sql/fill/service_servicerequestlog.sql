-- Fills service_servicerequestlog: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO service_servicerequestlog OVERRIDING SYSTEM VALUE
SELECT i, r.id,
    CASE WHEN u('sl.first', i) < 0.3 THEN NULL ELSE pick('sl.from', i, ARRAY['draft', 'sent', 'approved']) END,
    CASE WHEN u('sl.final', i) < 0.4 THEN r.status ELSE pick('sl.to', i, ARRAY['sent', 'approved', 'in_review']) END,
    least(history_end(), r.created_at + interval '1 minute' * ri('sl.delay', i, 1, 20000))
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
JOIN service_servicerequest r
  ON r.id = least({n_service_servicerequest}, 1 + ((i - 1)::bigint * {n_service_servicerequest}) / {n_service_servicerequestlog})
