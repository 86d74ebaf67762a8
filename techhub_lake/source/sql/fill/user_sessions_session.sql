-- Fills user_sessions_session: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO user_sessions_session
SELECT left(md5('session' || i || {seed}) || md5('k' || i), 40),
    blob('ss.data', i, 380),
    c + interval '14 days',
    CASE WHEN u('ss.anon', i) < 0.3 THEN NULL ELSE ri('ss.user', i, 1, {n_account_user}) END,
    'Mozilla/5.0 (' || pick('ss.os', i, ARRAY['Windows NT 10.0', 'Macintosh', 'X11; Linux x86_64', 'iPhone']) || ')',
    c, ('198.51.100.' || ri('ss.ip', i, 1, 254))::inet
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('ss', i, {n_user_sessions_session}) AS c) t
