"""The answer log's schema when several Ingress replicas open one file at once (a GPU node starts 7 together):
none may fail on the others' schema work. Run 15 lost an Ingress replica at start to `duplicate column name:
learner_version`, when two replicas upgraded a log that predated the learner in the same instant."""

from __future__ import annotations

import multiprocessing
import sqlite3

from serve_app.feedback import FeedbackStore

OPENERS = 8
# The answer log as written before the learner existed (no learner_version column).
OLD_SCHEMA = """CREATE TABLE answer_records (request_id TEXT PRIMARY KEY, created_at REAL NOT NULL, tenant TEXT NOT NULL,
    brief TEXT NOT NULL, model_version TEXT NOT NULL, choices TEXT NOT NULL)"""


def _open(path: str, start, errors) -> None:
    start.wait()
    try:
        FeedbackStore(path).close()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which asserts on it
        errors.put(repr(exc))


def _open_together(path: str) -> list[str]:
    context = multiprocessing.get_context("fork")  # forked openers reach the barrier within microseconds
    start, errors = context.Barrier(OPENERS), context.Queue()
    processes = [context.Process(target=_open, args=(path, start, errors)) for _ in range(OPENERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert all(process.exitcode == 0 for process in processes)
    return found


def test_replicas_opening_an_old_log_together_all_start(tmp_path):
    for attempt in range(5):  # the race's window is narrow: several rounds, each from the old schema
        path = tmp_path / f"old-{attempt}.sqlite3"
        with sqlite3.connect(path) as db:
            db.execute(OLD_SCHEMA)
            db.execute("INSERT INTO answer_records VALUES ('r1', 0, 'default', '{}', 'm', '[]')")
        assert _open_together(str(path)) == []
        with sqlite3.connect(path) as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(answer_records)")]
            rows = db.execute("SELECT request_id, learner_version FROM answer_records").fetchall()
        assert columns.count("learner_version") == 1
        assert rows == [("r1", None)]  # the old answers kept, as not re-ranked


def test_replicas_creating_a_new_log_together_all_start(tmp_path):
    for attempt in range(5):
        path = tmp_path / f"new-{attempt}.sqlite3"
        assert _open_together(str(path)) == []
        with sqlite3.connect(path) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = [row[1] for row in db.execute("PRAGMA table_info(answer_records)")]
        assert {"answer_records", "feedback", "learner_resets"} <= tables
        assert "learner_version" in columns
