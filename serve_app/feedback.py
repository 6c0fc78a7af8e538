"""Durable store for served answers and designer feedback: SQLite in WAL mode.

Feedback rows are committed with synchronous=FULL (fsync'd before the API answers) and are idempotent on
(request_id, scheme_index, action). Answer summaries are kept so feedback can be checked against what
was actually served and exported later as a training set:

    python -m serve_app.feedback export --db artifacts/feedback.sqlite3 --out feedback.jsonl
    python -m serve_app.feedback count --db artifacts/feedback.sqlite3
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    request_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    brief TEXT NOT NULL,
    schemes TEXT NOT NULL,
    model_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    scheme_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (request_id, scheme_index, action)
);
"""


class UnknownAnswer(LookupError):
    pass


class FeedbackStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: writes are tiny and SQLite serialises writers anyway.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
        # Answers are written by one writer thread in group commits: every answer waiting when the writer
        # comes round goes into one transaction. Under load that is one commit per batch instead of one per
        # request (several ingress replicas share the file, and each commit takes SQLite's write lock).
        self._pending: list[tuple[tuple, Future]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_answers, name="answer-writer", daemon=True)
        self._writer.start()

    @staticmethod
    def _answer_row(request_id: str, brief: dict, schemes: list[dict], model_version: str) -> tuple:
        summary = [
            {"palette": s["palette"]["id"], "style": s["style"]["id"], "font_pair": s["typography"]["pair_id"],
             "colors": [c["hex"] for c in s["palette"]["colors"]]}
            for s in schemes
        ]
        brief = {k: v for k, v in brief.items() if k != "reference_image"}  # images are not kept
        return (request_id, time.time(), json.dumps(brief, ensure_ascii=False), json.dumps(summary), model_version)

    def submit_answer(self, request_id: str, brief: dict, schemes: list[dict], model_version: str) -> Future:
        """Queue an answer record; the future resolves once it is committed (await it before replying)."""
        done: Future = Future()
        row = self._answer_row(request_id, brief, schemes, model_version)
        with self._wake:
            if self._closed:
                raise RuntimeError("feedback store is closed")
            self._pending.append((row, done))
            self._wake.notify()
        return done

    def record_answer(self, request_id: str, brief: dict, schemes: list[dict], model_version: str) -> None:
        self.submit_answer(request_id, brief, schemes, model_version).result()

    def _write_answers(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    return  # closed and drained
                batch, self._pending = self._pending, []
            try:
                with self._lock:
                    # NORMAL in WAL mode: durable across a process kill, may lose the last commits on power loss.
                    self._db.execute("PRAGMA synchronous=NORMAL")
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                                             [row for row, _ in batch])
                        self._db.execute("COMMIT")
                    except BaseException:
                        self._db.execute("ROLLBACK")
                        raise
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of the failure
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)

    def record_feedback(self, request_id: str, scheme_index: int, action: str) -> bool:
        """True if newly recorded, False if this exact event was already stored (idempotent)."""
        with self._lock:
            row = self._db.execute("SELECT schemes FROM answers WHERE request_id = ?", (request_id,)).fetchone()
            if row is None:
                raise UnknownAnswer(f"no answer with request_id {request_id!r}")
            if scheme_index >= len(json.loads(row[0])):
                raise IndexError(f"answer {request_id} has {len(json.loads(row[0]))} schemes")
            self._db.execute("PRAGMA synchronous=FULL")
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?)", (request_id, scheme_index, action, time.time())
            )
            return cursor.rowcount == 1

    def export(self) -> list[dict]:
        """Feedback joined with what was served: one training example per event."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.request_id, f.scheme_index, f.action, f.created_at, a.brief, a.schemes, a.model_version "
                "FROM feedback f JOIN answers a USING (request_id) ORDER BY f.created_at"
            ).fetchall()
        return [
            {"request_id": r[0], "scheme_index": r[1], "action": r[2], "created_at": r[3],
             "brief": json.loads(r[4]), "scheme": json.loads(r[5])[r[1]], "model_version": r[6]}
            for r in rows
        ]

    def export_jsonl(self, out: str | Path) -> int:
        """Write the training set as JSON Lines (one event per line), atomically; returns the row count."""
        rows = self.export()
        out = Path(out)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(out)  # a half-written file never stands in for the training set
        return len(rows)

    def count_feedback(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._writer.join(timeout=30)  # pending answers are committed first
        with self._lock:
            self._db.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Feedback store tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="feedback joined with the served brief and scheme, as JSON Lines")
    export.add_argument("--db", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    count = sub.add_parser("count", help="number of feedback events stored")
    count.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.db.exists():  # FeedbackStore would create an empty database: say what is wrong instead
        parser.error(f"no feedback database at {args.db}")
    store = FeedbackStore(args.db)
    try:
        if args.command == "export":
            print(json.dumps({"events": store.export_jsonl(args.out), "out": str(args.out)}))
        else:
            print(json.dumps({"events": store.count_feedback()}))
    finally:
        store.close()


if __name__ == "__main__":
    main()
