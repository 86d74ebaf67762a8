-- Helper schema of the synthetic source: deterministic pseudo-random functions and the text
-- corpus. Everything random is a hash of (salt, row number) under the run's seed, so the same
-- seed and scale give the same database on any machine. {seed} is filled in by the generator.
-- The lake never reads this schema (the catalog names tables in `public` only).

CREATE SCHEMA IF NOT EXISTS techhub_synthetic;

-- uniform in [0, 1)
CREATE OR REPLACE FUNCTION techhub_synthetic.u(salt text, i bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashtextextended(salt || ':' || i::text, {seed}) & 4503599627370495)::double precision
           / 4503599627370496.0
$$;

-- integer in [lo, hi]
CREATE OR REPLACE FUNCTION techhub_synthetic.ri(salt text, i bigint, lo bigint, hi bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lo + floor(techhub_synthetic.u(salt, i) * (hi - lo + 1))::bigint
$$;

-- one of the options
CREATE OR REPLACE FUNCTION techhub_synthetic.pick(salt text, i bigint, options text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT options[1 + floor(techhub_synthetic.u(salt, i) * cardinality(options))::int]
$$;

-- the moment at fraction f of the history (2019-01-01 .. 2026-11-01, Asia/Almaty); activity
-- grows over the years, so later fractions are denser
CREATE OR REPLACE FUNCTION techhub_synthetic.moment(f double precision) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT timestamptz '2019-01-01 00:00:00+06'
           + (timestamptz '2026-11-01 00:00:00+05' - timestamptz '2019-01-01 00:00:00+06')
             * power(greatest(least(f, 0.999999), 0.0), 0.8)
$$;

-- the end of the generated history
CREATE OR REPLACE FUNCTION techhub_synthetic.history_end() RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT timestamptz '2026-10-31 23:59:59+05' $$;

-- ~2% of times moved onto a local day boundary (00:00:00.000 or 23:59:59.999 Asia/Almaty), so
-- the lake's daily partitions are tested at their edges
CREATE OR REPLACE FUNCTION techhub_synthetic.edge(salt text, i bigint, t timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN techhub_synthetic.u(salt || '.edge', i) < 0.01 THEN date_trunc('day', t, 'Asia/Almaty')
        WHEN techhub_synthetic.u(salt || '.edge', i) < 0.02
            THEN date_trunc('day', t, 'Asia/Almaty') + interval '1 day' - interval '1 millisecond'
        ELSE t END
$$;

-- a creation time for row i of n (ids grow with time, as Django's do)
CREATE OR REPLACE FUNCTION techhub_synthetic.created(salt text, i bigint, n bigint) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT techhub_synthetic.edge(salt, i,
        techhub_synthetic.moment(((i - 1) + techhub_synthetic.u(salt || '.t', i)) / greatest(n, 1)))
$$;

-- a last-update time: unchanged for a share of rows, else some time between creation and the end
CREATE OR REPLACE FUNCTION techhub_synthetic.updated(salt text, i bigint, created timestamptz, p_edited double precision)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN techhub_synthetic.u(salt || '.upd', i) >= p_edited THEN created
        ELSE greatest(created, techhub_synthetic.edge(salt || '.u', i,
            created + (techhub_synthetic.history_end() - created) * power(techhub_synthetic.u(salt || '.ut', i), 3)))
        END
$$;

CREATE TABLE IF NOT EXISTS techhub_synthetic.sentence (
    lang text NOT NULL, idx int NOT NULL, body text NOT NULL, PRIMARY KEY (lang, idx));
CREATE TABLE IF NOT EXISTS techhub_synthetic.paragraph (
    lang text NOT NULL, idx int NOT NULL, body text NOT NULL, PRIMARY KEY (lang, idx));

-- one sentence
CREATE OR REPLACE FUNCTION techhub_synthetic.sent(salt text, i bigint, lang text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT body FROM techhub_synthetic.sentence s
    WHERE s.lang = $3
      AND s.idx = techhub_synthetic.ri(salt, i, 0,
          (SELECT count(*) - 1 FROM techhub_synthetic.sentence c WHERE c.lang = $3))
$$;

-- n paragraphs (~1 KB each in Cyrillic) of one language
CREATE OR REPLACE FUNCTION techhub_synthetic.para(salt text, i bigint, lang text, n int) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT string_agg(p.body, E'\n\n' ORDER BY k)
    FROM generate_series(1, n) AS k
    JOIN techhub_synthetic.paragraph p
      ON p.lang = $3 AND p.idx = techhub_synthetic.ri(salt || '.' || k, i, 0, 255)
$$;

-- a multilingual {"ru","kk","en"} value; now and then a language is missing, as in real data
CREATE OR REPLACE FUNCTION techhub_synthetic.ml(salt text, i bigint, n_ru int, n_kk int, n_en int) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ru', CASE WHEN techhub_synthetic.u(salt || '.no_ru', i) < 0.01 THEN NULL
                   WHEN n_ru = 0 THEN techhub_synthetic.sent(salt || '.ru', i, 'ru')
                   ELSE techhub_synthetic.para(salt || '.ru', i, 'ru', n_ru) END,
        'kk', CASE WHEN techhub_synthetic.u(salt || '.no_kk', i) < 0.08 THEN NULL
                   WHEN n_kk = 0 THEN techhub_synthetic.sent(salt || '.kk', i, 'kk')
                   ELSE techhub_synthetic.para(salt || '.kk', i, 'kk', n_kk) END,
        'en', CASE WHEN techhub_synthetic.u(salt || '.no_en', i) < 0.05 THEN NULL
                   WHEN n_en = 0 THEN techhub_synthetic.sent(salt || '.en', i, 'en')
                   ELSE techhub_synthetic.para(salt || '.en', i, 'en', n_en) END))
$$;

-- a fake signature blob (base64-looking), ~size bytes
CREATE OR REPLACE FUNCTION techhub_synthetic.blob(salt text, i bigint, size int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(repeat(encode(sha256(convert_to(salt || ':' || i::text, 'UTF8')), 'base64'),
                       size / 44 + 1), size)
$$;

CREATE TABLE IF NOT EXISTS techhub_synthetic.info (
    key text PRIMARY KEY,
    value text NOT NULL
);
