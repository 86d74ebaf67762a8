-- Fills core_organization: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_organization
SELECT CASE i WHEN 1 THEN 'astana_hub' WHEN 2 THEN 'techorda' WHEN 3 THEN 'mdai' ELSE 'org_' || lpad(i::text, 3, '0') END,
    CASE WHEN u('org.plain', i) < 0.04 THEN to_jsonb('Организация ' || i)
         ELSE jsonb_strip_nulls(jsonb_build_object(
            'ru', CASE WHEN u('org.noru', i) < 0.05 THEN NULL ELSE 'Организация «' || pick('org.w', i, %(company_words)s) || ' ' || i || '»' END,
            'kk', CASE WHEN u('org.nokk', i) < 0.15 THEN NULL ELSE '«' || pick('org.w', i, %(company_words)s) || ' ' || i || '» ұйымы' END,
            'en', 'Organization ' || pick('org.w', i, %(company_words)s) || ' ' || i)) END
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
