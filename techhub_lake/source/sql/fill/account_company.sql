-- Fills account_company: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO account_company OVERRIDING SYSTEM VALUE
SELECT i,
    pick('co.form', i, ARRAY['ТОО', 'ТОО', 'ТОО', 'ИП', 'АО', 'LLP'])
        || ' «' || pick('co.w', i, %(company_words)s) || ' ' || pick('co.n', i, %(company_nouns)s) || '»',
    CASE WHEN u('co.tin', i) < 0.112 THEN NULL ELSE to_char(c, 'YYMM') || '4' || lpad(i::text, 7, '0') END,
    CASE WHEN u('co.type', i) < 0.08 THEN NULL WHEN u('co.type', i) < 0.18 THEN ''
         ELSE pick('co.typev', i, ARRAY['startup', 'it_company', 'sme', 'corporate', 'ngo', 'other']) END,
    pick('co.status', i, ARRAY['active', 'active', 'active', 'pending', 'blocked']),
    u('co.verified', i) < 0.6,
    CASE WHEN u('co.bank', i) < 0.05 THEN pick('co.bankn', i, ARRAY['АО «Kaspi Bank»', 'АО «Halyk Bank»', 'АО «Bank CenterCredit»']) END,
    CASE WHEN u('co.bank', i) < 0.05 THEN 'KZ' || lpad(ri('co.iik', i, 0, 999999999)::text, 9, '0') || lpad(i::text, 9, '0') END,
    CASE WHEN u('co.bank', i) < 0.05 THEN pick('co.bik', i, ARRAY['CASPKZKA', 'HSBKKZKX', 'KCJBKZKX']) END,
    CASE WHEN u('co.rating', i) < 0.3 THEN NULL ELSE round((u('co.ratingv', i) * 5)::numeric, 2) END,
    CASE WHEN u('co.tag_startup', i) < 0.25 THEN jsonb_build_object(
        'status', pick('co.ts', i, ARRAY['approved', 'approved', 'pending', 'rejected', 'draft']),
        'data', jsonb_build_object('stage', pick('co.stage', i, ARRAY['idea', 'mvp', 'growth', 'scale']),
                                   'team_size', ri('co.team', i, 1, 40)),
        'moderation_data', CASE WHEN u('co.ts.md', i) < 0.02 THEN to_jsonb('n/a'::text)
            ELSE jsonb_build_object('verified_at', c + interval '20 days', 'verified_by', ri('co.vb', i, 1, 50)) END)
        - CASE WHEN u('co.ts.nostatus', i) < 0.02 THEN 'status' ELSE '' END
    END,
    CASE WHEN u('co.tag_it', i) < 0.2 THEN jsonb_build_object(
        'status', pick('co.ti', i, ARRAY['approved', 'approved', 'pending', 'rejected']),
        'data', jsonb_build_object('activity_code', '62.01', 'license', u('co.lic', i) < 0.5),
        'moderation_data', jsonb_build_object('verified_at', c + interval '30 days', 'verified_by', ri('co.vb2', i, 1, 50)))
    END,
    CASE WHEN u('co.tag_tp', i) < 0.12 THEN jsonb_build_object(
        'status', pick('co.tp', i, ARRAY['approved', 'approved', 'approved', 'pending', 'expired']),
        'data', jsonb_build_object('priority_area', pick('co.pa', i, ARRAY['fintech', 'edtech', 'govtech', 'ai'])),
        'moderation_data', jsonb_build_object('verified_at', c + interval '45 days', 'verified_by', ri('co.vb3', i, 1, 50)))
    END,
    CASE WHEN u('co.tag_ts', i) < 0.08 THEN jsonb_build_object(
        'status', pick('co.tm', i, ARRAY['approved', 'pending']), 'data', '{{}}'::jsonb,
        'moderation_data', NULL)
    END,
    jsonb_build_object(
        'company_tag', CASE WHEN u('co.ctag', i) < 0.3 THEN NULL ELSE pick('co.ctagv', i, ARRAY['startup', 'it', 'techpark', 'partner']) END,
        'website', 'https://company' || i || '.example.kz',
        'employees', ri('co.emp', i, 1, 500),
        'address', pick('co.city', i, %(cities)s) || ', ул. ' || pick('co.street', i, %(last_names)s) || ' ' || ri('co.house', i, 1, 120),
        'description', para('co.descr', i, 'ru', 3)),
    c,
    updated('co', i, c, 0.7)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('co', i, {n_account_company}) AS c) t
