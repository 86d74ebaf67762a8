-- Fills service_report: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
-- Techpark participants' reports (the techpark reporting plan): 30+ fields in `data`, the BIN inside signed XML.
INSERT INTO service_report OVERRIDING SYSTEM VALUE
SELECT i, co.id,
    CASE WHEN u('rp.noreq', i) < 0.2 THEN NULL ELSE ri('rp.req', i, 1, {n_service_servicerequest}) END,
    pick('rp.status', i, ARRAY['draft', 'submitted', 'submitted', 'accepted', 'accepted', 'accepted', 'rejected']),
    jsonb_strip_nulls(jsonb_build_object(
        'report_year', yr, 'report_period', pick('rp.period', i, ARRAY['Q1', 'Q2', 'Q3', 'Q4', 'year']),
        'bin', CASE WHEN u('rp.nobin', i) < 0.03 THEN NULL ELSE co.tin END,
        'company_name', co.name,
        'certificate_number', CASE WHEN u('rp.nocert', i) < 0.1 THEN NULL ELSE 'ТП-' || yr || '-' || lpad(co.id::text, 6, '0') END,
        'revenue', round((u('rp.rev', i) * 900000000)::numeric, 2),
        'income_total', round((u('rp.inc', i) * 950000000)::numeric, 2),
        'expenses_total', round((u('rp.exp', i) * 700000000)::numeric, 2),
        'rd_expenses', round((u('rp.rd', i) * 90000000)::numeric, 2),
        'loans', round((u('rp.loans', i) * 100000000)::numeric, 2),
        'investments', CASE WHEN u('rp.inv', i) < 0.7 THEN 0 ELSE round((u('rp.invv', i) * 500000000)::numeric, 2) END,
        'grants', CASE WHEN u('rp.gr', i) < 0.8 THEN 0 ELSE round((u('rp.grv', i) * 50000000)::numeric, 2) END,
        'own_funds', round((u('rp.own', i) * 100000000)::numeric, 2),
        'foreign_investments', CASE WHEN u('rp.finv', i) < 0.9 THEN 0 ELSE round((u('rp.finvv', i) * 300000000)::numeric, 2) END,
        'tax_kpn', round((u('rp.kpn', i) * 20000000)::numeric, 2),
        'tax_nds', round((u('rp.nds', i) * 30000000)::numeric, 2),
        'tax_ipn', round((u('rp.ipn', i) * 10000000)::numeric, 2),
        'tax_sn', round((u('rp.sn', i) * 8000000)::numeric, 2),
        'tax_benefits_total', round((u('rp.tb', i) * 60000000)::numeric, 2),
        'employees_residents', ri('rp.res', i, 1, 300),
        'employees_nonresidents', ri('rp.nres', i, 0, 20),
        'employees_gph', ri('rp.gph', i, 0, 40),
        'employees_women', ri('rp.women', i, 0, 150),
        'average_salary', ri('rp.sal', i, 250, 1500) * 1000,
        'export_revenue', CASE WHEN u('rp.export', i) < 0.6 THEN 0 ELSE round((u('rp.expv', i) * 400000000)::numeric, 2) END,
        'export_by_country', CASE
            WHEN u('rp.ebc', i) < 0.10 THEN NULL
            WHEN u('rp.ebc', i) < 0.30 THEN '[]'::jsonb
            WHEN u('rp.ebc', i) < 0.32 THEN to_jsonb('Узбекистан: 100%%'::text)
            WHEN u('rp.ebc', i) < 0.33 THEN jsonb_build_array(jsonb_build_object('country', 'Грузия'), jsonb_build_object('amount', 'много'))
            ELSE (SELECT jsonb_agg(jsonb_build_object('country', ctry, 'amount', round((u('rp.ea.' || o, i) * 50000000)::numeric, 2)) ORDER BY o)
                  FROM unnest(%(countries)s::text[]) WITH ORDINALITY AS x(ctry, o)
                  WHERE u('rp.ec.' || o, i) < 0.2 OR o = 1 + mod(i, 9)) END,
        'products_count', ri('rp.prod', i, 0, 20),
        'patents', ri('rp.pat', i, 0, 3),
        'priority_area', pick('rp.pa', i, ARRAY['fintech', 'edtech', 'govtech', 'ai', 'healthtech', 'agritech']),
        'contact_person', pick('rp.fn', i, %(first_names)s) || ' ' || pick('rp.ln', i, %(last_names)s),
        'contact_phone', '+7 701 ' || lpad(ri('rp.ph', i, 0, 9999999)::text, 7, '0'),
        'comment', para('rp.comment', i, 'ru', 1)
    )) - CASE WHEN u('rp.noebc', i) < 0.05 THEN 'export_by_country' ELSE '' END,
    CASE WHEN u('rp.noxml', i) < 0.03 THEN NULL
         ELSE '<?xml version="1.0" encoding="UTF-8"?><Report xmlns="urn:astanahub:techpark:report">'
              || '<Header><BIN>' || coalesce(co.tin, '') || '</BIN><Year>' || yr || '</Year>'
              || '<Company>' || replace(replace(co.name, '&', '&amp;'), '<', '&lt;') || '</Company></Header>'
              || '<Body>' || replace(para('rp.xml', i, 'ru', 1), '<', '&lt;') || '</Body>'
              || '<Signature>' || blob('rp.sig', i, 1800) || '</Signature>'
              || CASE WHEN u('rp.badxml', i) < 0.02 THEN '<Unclosed>' ELSE '</Report>' END END,
    c, updated('rp', i, c, 0.85)
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
CROSS JOIN LATERAL (SELECT created('rp', i, {n_service_report}) AS c) t
CROSS JOIN LATERAL (SELECT greatest(2019, least(2026, extract(year FROM c AT TIME ZONE 'Asia/Almaty')::int
                                             - (u('rp.prev', i) < 0.4)::int)) AS yr) y
JOIN account_company co ON co.id = 1 + mod(ri('rp.co', i, 0, 1000000000), greatest(1, ({n_account_company} * 45) / 100))
