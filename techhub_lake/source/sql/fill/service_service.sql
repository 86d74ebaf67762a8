-- Fills service_service: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO service_service
SELECT code,
    jsonb_build_object(
        'name', CASE WHEN u('sv.plain', i) < 0.05 THEN to_jsonb('Услуга ' || i)
                     ELSE jsonb_strip_nulls(jsonb_build_object(
                        'ru', CASE WHEN u('sv.noru', i) < 0.03 THEN NULL ELSE 'Услуга «' || pick('sv.w', i, %(company_words)s) || ' ' || i || '»' END,
                        'kk', CASE WHEN u('sv.nokk', i) < 0.1 THEN NULL ELSE '«' || pick('sv.w', i, %(company_words)s) || ' ' || i || '» қызметі' END,
                        'en', 'Service ' || pick('sv.w', i, %(company_words)s) || ' ' || i)) END,
        'description', para('sv.descr', i, 'ru', 1),
        'category', pick('sv.cat', i, ARRAY['education', 'acceleration', 'access', 'grants', 'certification']),
        'form_schema', jsonb_build_object('fields', ri('sv.fields', i, 3, 25), 'requires_company', code = 'techpark'))
      - CASE WHEN u('sv.noname', i) < 0.02 AND i > 6 THEN 'name' ELSE '' END,
    u('sv.active', i) < 0.85 OR i <= 6,
    created('sv', i, 310)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT CASE WHEN i <= 6 THEN (%(top_services)s::text[])[i]
                                ELSE 'svc_' || lpad(i::text, 3, '0') END AS code) t
