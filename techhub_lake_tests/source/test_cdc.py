"""Change data capture on a real PostgreSQL: the first snapshot and the stream join with no gap and
no overlap while writers keep writing; every change arrives in commit order, silent updates,
deletes and SET NULL cascades included; nothing is consumed until the lake confirms it."""

from __future__ import annotations

import threading

import psycopg2
import pytest

from techhub_lake.source import cdc, pgoutput
from techhub_lake_tests.conftest import execute


def _rows(cur, query: str) -> dict[str, dict[str, str | None]]:
    cur.execute(query)
    names = [d.name for d in cur.description]
    return {str(row[0]): dict(zip(names, (None if v is None else str(v) for v in row), strict=True))
            for row in cur.fetchall()}


def _drain(url: str, max_changes: int = 500) -> list[cdc.Change]:
    assert cdc.wait_for_flush(url)  # the embedded server commits asynchronously
    changes: list[cdc.Change] = []
    while True:
        batch = cdc.peek(url, max_changes)
        if batch.confirm_lsn is None:
            return changes
        changes += batch.changes
        cdc.confirm(url, batch.confirm_lsn)


@pytest.fixture
def source(new_database):
    url = new_database()
    execute(url,
             "CREATE TABLE parent (id bigint PRIMARY KEY, name text)",
             "CREATE TABLE item (id bigint PRIMARY KEY, parent_id bigint REFERENCES parent ON DELETE SET NULL, "
             "v integer, body text, updated_at timestamptz DEFAULT now())",
             "INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 5) i",
             "INSERT INTO item (id, parent_id, v) SELECT i, 1 + i % 5, i FROM generate_series(1, 200) i")
    cdc.ensure_publication(url, ["parent", "item"])
    yield url
    cdc.drop(url)


def test_the_first_snapshot_and_the_stream_join_without_gap_or_overlap(source):
    stop = threading.Event()
    written = []

    def writer() -> None:
        conn = psycopg2.connect(source)
        conn.autocommit = True
        n = 1000
        with conn.cursor() as cur:
            while not stop.is_set():
                n += 1
                cur.execute("INSERT INTO item (id, v) VALUES (%s, 0)", (n,))
                cur.execute("UPDATE item SET v = v + 1 WHERE id = %s", (1 + n % 200,))
                written.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:  # the writers are busy when the slot is made
            stop.wait(0.01)
        with cdc.new_slot(source) as (consistent_lsn, snapshot), cdc.read_in_snapshot(source, snapshot) as cur:
            first = _rows(cur, "SELECT id, v FROM item")
        while len(written) < 300:  # and go on after it
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join()

    changes = _drain(source)
    assert changes and all(c.commit_lsn >= consistent_lsn for c in changes)
    inserted = [c.values["id"] for c in changes if c.op == "insert"]
    assert not set(inserted) & set(first), "an insert the snapshot already holds: the stream overlaps it"
    state = dict(first)
    for change in changes:  # in commit order
        state[change.values["id"]] = {"id": change.values["id"], "v": change.values["v"]}
    conn = psycopg2.connect(source)
    with conn.cursor() as cur:
        assert state == _rows(cur, "SELECT id, v FROM item"), "the snapshot plus the stream is not the table"
    conn.close()


def test_silent_updates_deletes_cascades_and_untouched_large_values_arrive_in_order(source):
    execute(source, "UPDATE item SET body = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400)) "
                     "WHERE id = 7")
    with cdc.new_slot(source):
        pass
    execute(source,
             "UPDATE item SET v = -1 WHERE id = 7",  # silent: updated_at stays, the large body is untouched
             "DELETE FROM item WHERE id = 8",
             "DELETE FROM parent WHERE id = 2",  # ON DELETE SET NULL: its items change without being named
             "INSERT INTO item (id, v) VALUES (5000, 1)",
             "DELETE FROM item WHERE id = 5000",
             "INSERT INTO item (id, v) VALUES (5000, 2)")  # a key deleted and inserted again
    changes = _drain(source)
    lsns = [c.lsn for c in changes]
    assert lsns == sorted(lsns)
    silent = next(c for c in changes if c.op == "update" and c.values["id"] == "7")
    assert silent.values["v"] == "-1" and silent.values["body"] is pgoutput.UNCHANGED
    assert silent.values["updated_at"] is not None  # the row as it is, not a diff
    deleted = next(c for c in changes if c.op == "delete" and c.table == "item")
    assert deleted.values["id"] == "8" and deleted.values["v"] is None  # a delete carries the key
    cascaded = {c.values["id"] for c in changes if c.table == "item" and c.op == "update" and c.values["parent_id"] is None}
    assert cascaded == {str(i) for i in range(1, 201) if 1 + i % 5 == 2 and i != 8}
    assert [(c.op, c.values.get("v")) for c in changes if c.table == "item" and c.values["id"] == "5000"] == [
        ("insert", "1"), ("delete", None), ("insert", "2")]
    assert {c.table for c in changes} == {"item", "parent"}


def test_nothing_is_consumed_until_the_lake_confirms_it(source):
    with cdc.new_slot(source):
        pass
    execute(source, "UPDATE item SET v = 100 WHERE id <= 10", "UPDATE item SET v = 200 WHERE id <= 5")
    assert cdc.wait_for_flush(source)
    first = cdc.peek(source, 1000)
    again = cdc.peek(source, 1000)
    assert [c.lsn for c in first.changes] == [c.lsn for c in again.changes] and len(first.changes) == 15
    assert first.transactions == 2
    partial = cdc.peek(source, 5)  # a transaction is never split, whatever the limit
    assert partial.transactions == 1 and len(partial.changes) == 10
    cdc.confirm(source, partial.confirm_lsn)
    rest = cdc.peek(source, 1000)
    assert [c.values["v"] for c in rest.changes] == ["200"] * 5
    cdc.confirm(source, rest.confirm_lsn)
    assert cdc.peek(source, 1000).changes == []
    state = cdc.slot_state(source)
    assert state.exists and state.confirmed_lsn == rest.confirm_lsn and state.wal_status in ("reserved", "extended")


def test_drop_removes_the_slot_and_the_publication(source):
    with cdc.new_slot(source):
        pass
    assert cdc.drop(source) == [f"replication slot {cdc.slot_name(source)}", f"publication {cdc.PUBLICATION}"]
    assert cdc.slot_name(source).startswith("techhub_lake_techhub_test_")  # one slot per source database
    assert not cdc.slot_state(source).exists
    assert cdc.drop(source) == []
