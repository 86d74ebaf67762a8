-- Fills core_eventparticipant: rows {lo}..{hi} of one chunk (see techhub_lake/source/tables.py).
INSERT INTO core_eventparticipant OVERRIDING SYSTEM VALUE
SELECT i, ri('ep.event', i, 1, {n_core_event}), ri('ep.user', i, 1, {n_account_user}),
    pick('ep.status', i, ARRAY['registered', 'registered', 'attended', 'cancelled']),
    created('ep', i, {n_core_eventparticipant})
FROM generate_series({lo}::bigint, {hi}::bigint) AS g(i)
