-- Fills service_servicerequest: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO service_servicerequest OVERRIDING SYSTEM VALUE
SELECT i, svc,
    CASE WHEN u('sr.noauthor', i) < 0.02 THEN NULL ELSE ri('sr.author', i, 1, {n_account_user}) END,
    CASE WHEN svc = 'techpark' OR u('sr.co', i) < 0.005 THEN ri('sr.cov', i, 1, {n_account_company}) END,
    st,
    jsonb_strip_nulls(jsonb_build_object(
        'signatures', CASE WHEN u('sr.sigq', i) < 0.02 THEN 'null'::jsonb
            ELSE (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'signer', pick('sr.signer' || k, i, %(last_names)s),
                    'signed_at', c + interval '1 hour' * k,
                    'signature', blob('sr.sig' || k, i, 1100)) ORDER BY k), '[]'::jsonb)
                  FROM generate_series(1, ri('sr.nsig', i, 0, 3)::int) AS k) END,
        'reject_detail', CASE WHEN st IN ('reject', 'rejected') THEN sent('sr.rej', i, 'ru') END,
        -- signed techpark requests carry the certificate (one in ten lacks it); some approved ones already
        -- carry the number issued for them (the certificate fallback's third level finds those)
        'certificate_number', CASE WHEN svc = 'techpark' AND ((st = 'signed' AND u('sr.nocert', i) >= 0.1)
                                                             OR (st = 'approved' AND u('sr.precert', i) < 0.6))
                                   THEN 'ТП-' || to_char(c, 'YYYY') || '-' || lpad(i::text, 6, '0') END,
        'certificate_issue_date', CASE WHEN svc = 'techpark' AND st = 'signed' THEN to_char(c + interval '14 days', 'YYYY-MM-DD') END,
        'certificate_end_date', CASE WHEN svc = 'techpark' AND st = 'signed' THEN to_char(c + interval '14 days' + interval '3 years', 'YYYY-MM-DD') END,
        'form', jsonb_build_object('about', para('sr.about', i, 'ru', 2), 'team_size', ri('sr.team', i, 1, 30),
                                   'city', pick('sr.city', i, %(cities)s))
    )),
    c, updated('sr', i, c, 0.75)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('sr', i, {n_service_servicerequest}) AS c, u('sr.svc', i) AS p) t
CROSS JOIN LATERAL (SELECT CASE
        WHEN p < 0.12 THEN 'ast_startup_school' WHEN p < 0.227 THEN 'mat_pass' WHEN p < 0.315 THEN 'ast_nocode'
        WHEN p < 0.37 THEN 'ast_BetaCareer2022' WHEN p < 0.42 THEN 'techorda_graduate_v2' WHEN p < 0.50 THEN 'techpark'
        ELSE 'svc_' || lpad(ri('sr.svcv', i, 7, 310)::text, 3, '0') END AS svc) s
CROSS JOIN LATERAL (SELECT CASE WHEN svc = 'techpark'
        THEN pick('sr.tpst', i, ARRAY['signed', 'signed', 'signed', 'signed', 'signed', 'signed', 'draft', 'sent', 'approved', 'rejected'])
        ELSE pick('sr.st', i, ARRAY['draft', 'draft', 'sent', 'sent', 'approved', 'success', 'success', 'success', 'reject', 'rejected', 'signed', 'in_review'])
        END AS st) x
