-- Fills service_hubformdata: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
-- Each form has its own fields (a stable subset of HUBFORM_FIELDS chosen by form id); value types
-- follow the field's position: long text, number, boolean, short text. Now and then a value is
-- NULL or a number arrives as a formatted string.
INSERT INTO service_hubformdata OVERRIDING SYSTEM VALUE
SELECT i, f, CASE WHEN u('hd.noauthor', i) < 0.03 THEN NULL ELSE ri('hd.author', i, 1, {n_account_user}) END,
    (SELECT jsonb_object_agg(field, CASE
            WHEN u('hd.null.' || o, i) < 0.02 THEN 'null'::jsonb
            WHEN mod(o, 4) IN (0, 1) THEN to_jsonb(para('hd.v.' || o, i, pick('hd.l', i, ARRAY['ru', 'ru', 'kk', 'en']), 3 - mod(o, 4)::int))
            WHEN mod(o, 4) = 2 THEN CASE WHEN u('hd.str.' || o, i) < 0.01
                                         THEN to_jsonb(to_char(ri('hd.n.' || o, i, 0, 99999999), 'FM999 999 999'))
                                         ELSE to_jsonb(ri('hd.n.' || o, i, 0, 99999999)) END
            ELSE to_jsonb(u('hd.b.' || o, i) < 0.5) END)
     FROM unnest(%(hubform_fields)s::text[]) WITH ORDINALITY AS hf(field, o)
     WHERE u('hd.field.' || o, f) < 0.45 OR o = 1),
    c, updated('hd', i, c, 0.5)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('hd', i, {n_service_hubformdata}) AS c,
    CASE WHEN u('hd.popular', i) < 0.7 THEN ri('hd.formp', i, 1, least(50, {n_service_hubform}))
         ELSE ri('hd.form', i, 1, {n_service_hubform}) END AS f) t
