-- Fills core_actionlog: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_actionlog OVERRIDING SYSTEM VALUE
SELECT i,
    CASE WHEN u('al.anon', i) < 0.1 THEN NULL ELSE ri('al.user', i, 1, {n_account_user}) END,
    pick('al.action', i, ARRAY['login', 'logout', 'view', 'view', 'view', 'create', 'update', 'delete', 'apply', 'download']),
    pick('al.obj', i, ARRAY['event', 'vacancy', 'blog', 'servicerequest', 'company', 'user']),
    ri('al.objid', i, 1, 60000),
    jsonb_build_object(
        'request', jsonb_build_object(
            'method', pick('al.m', i, ARRAY['GET', 'GET', 'POST', 'PATCH', 'DELETE']),
            'path', '/api/v1/' || pick('al.obj', i, ARRAY['events', 'vacancies', 'blogs', 'requests', 'companies', 'users']) || '/' || ri('al.objid', i, 1, 60000),
            'headers', jsonb_build_object('user-agent', 'Mozilla/5.0 (X11; Linux x86_64) TechHub/' || ri('al.ua', i, 1, 9),
                                          'accept-language', pick('al.al', i, ARRAY['ru-KZ', 'kk-KZ', 'en-US'])),
            'body', para('al.body', i, pick('al.bl', i, ARRAY['ru', 'kk', 'en']), 9)),
        'response', jsonb_build_object('status', pick('al.st', i, ARRAY['200', '200', '200', '201', '204', '400', '403', '500'])::int,
                                       'duration_ms', ri('al.dur', i, 3, 4000)),
        'changes', CASE WHEN u('al.ch', i) < 0.3 THEN jsonb_build_object('before', sent('al.b', i, 'ru'), 'after', sent('al.a', i, 'ru')) END),
    ('203.0.113.' || ri('al.ip', i, 1, 254))::inet,
    created('al', i, {n_core_actionlog})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
