-- Fills account_user: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO account_user OVERRIDING SYSTEM VALUE
SELECT i,
    'pbkdf2_sha256$600000$' || left(md5('salt' || i), 22) || '$' || encode(sha256(convert_to('pw' || i, 'UTF8')), 'base64'),
    CASE WHEN u('us.login', i) < 0.15 THEN NULL ELSE c + (history_end() - c) * u('us.loginv', i) END,
    i <= 3,
    CASE WHEN u('us.email', i) < 0.39 THEN NULL
         WHEN u('us.emailq', i) < 0.03 THEN ' User.' || i || '@Mail.KZ '
         ELSE 'user' || i || '@' || pick('us.dom', i, ARRAY['mail.kz', 'gmail.com', 'astanahub.com', 'inbox.ru', 'yandex.kz']) END,
    CASE WHEN u('us.phone', i) < 0.2 THEN NULL WHEN u('us.phone', i) < 0.23 THEN ''
         ELSE '+7 7' || ri('us.op', i, 0, 9) || ri('us.op2', i, 0, 9) || ' ' || lpad(ri('us.ph', i, 0, 9999999)::text, 7, '0') END,
    pick('us.fn', i, %(first_names)s),
    pick('us.ln', i, %(last_names)s),
    CASE WHEN u('us.iin', i) < 0.002 THEN to_char(c - interval '25 years', 'YYMMDD') || lpad(ri('us.iinv', i, 0, 999999)::text, 6, '0') END,
    pick('us.role', i, ARRAY['user', 'user', 'user', 'user', 'user', 'user', 'company_admin', 'mentor', 'moderator', 'investor']),
    u('us.active', i) < 0.9,
    u('us.staff', i) < 0.01,
    CASE WHEN u('us.company', i) < 0.3 THEN ri('us.companyv', i, 1, {n_account_company}) END,
    md5('external' || i || {seed})::uuid,
    pick('us.lang', i, ARRAY['ru', 'ru', 'kk', 'en']),
    jsonb_build_object(
        'goals', CASE WHEN u('us.goalsq', i) < 0.02 THEN 'null'::jsonb
                      WHEN u('us.goalsq', i) < 0.03 THEN to_jsonb(pick('us.goal1', i, %(goals)s))
                      ELSE (SELECT coalesce(jsonb_agg(goal ORDER BY o), '[]'::jsonb)
                            FROM unnest(%(goals)s::text[]) WITH ORDINALITY AS gl(goal, o)
                            WHERE u('us.goal.' || o, i) < 0.3) END,
        'auth_flow', CASE WHEN u('us.af', i) < 0.01 THEN jsonb_build_object('type', NULL)
                          ELSE jsonb_build_object('type', pick('us.aft', i, ARRAY['phone_registration', 'email_registration', 'egov', 'google'])) END,
        'hard_skills', (SELECT coalesce(jsonb_agg(s ORDER BY o), '[]'::jsonb)
                        FROM unnest(%(skills)s::text[]) WITH ORDINALITY AS sk(s, o) WHERE u('us.hs.' || o, i) < 0.2),
        'soft_skills', (SELECT coalesce(jsonb_agg(s ORDER BY o), '[]'::jsonb)
                        FROM unnest(%(soft_skills)s::text[]) WITH ORDINALITY AS sk(s, o) WHERE u('us.ss.' || o, i) < 0.3),
        'extra_courses', CASE WHEN u('us.ec', i) < 0.6 THEN '[]'::jsonb
                              ELSE jsonb_build_array(sent('us.ecv', i, 'ru')) END,
        'bio', para('us.bio', i, pick('us.biol', i, ARRAY['ru', 'kk', 'en']), 5),
        'notifications', jsonb_build_object('email', u('us.ne', i) < 0.5, 'telegram', u('us.nt', i) < 0.3))
      - CASE WHEN u('us.goalsmiss', i) < 0.03 THEN 'goals' ELSE '' END
      - CASE WHEN u('us.afmiss', i) < 0.02 THEN 'auth_flow' ELSE '' END,
    jsonb_build_object(
        'article', CASE WHEN u('us.tagq', i) < 0.02 THEN to_jsonb('yes'::text) ELSE to_jsonb(u('us.tag', i) < 0.2) END,
        'newsletter', u('us.tagn', i) < 0.5),
    jsonb_build_object('documentolog', u('us.perm', i) < 0.05, 'crm', u('us.permc', i) < 0.02),
    c,
    updated('us', i, c, 0.6)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('us', i, {n_account_user}) AS c) t
