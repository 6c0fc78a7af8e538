"""Durable store for served answers and designer feedback: SQLite in WAL mode.

Feedback rows are committed with synchronous=FULL (fsync'd before the API answers) and are idempotent on
(request_id, scheme_index, action). Every answer is recorded before it is sent, compactly: request id, tenant
(API key id, or "default"), the brief without its image, model version, and per scheme the chosen palette,
font pair, style and layout template ids, so feedback can be checked against what was actually served and
exported later as a training set (what learning from feedback reads: `learning_events`, after any reset of
the tenant's learned taste; each answer also keeps the learner version that re-ranked it, if any):

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
from dataclasses import dataclass
from pathlib import Path

import orjson

DEFAULT_TENANT = "default"  # answers to unauthenticated callers (API keys off)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answer_records (
    request_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    tenant TEXT NOT NULL,
    brief TEXT NOT NULL,
    model_version TEXT NOT NULL,
    choices TEXT NOT NULL,
    learner_version TEXT
);
CREATE TABLE IF NOT EXISTS learner_resets (
    tenant TEXT PRIMARY KEY,
    reset_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    scheme_index INTEGER NOT NULL,
    action TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (request_id, scheme_index, action)
);
"""


def _use_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL. The switch needs the file to itself, and SQLite answers SQLITE_BUSY at once, without
    its busy handler, while another connection has it open (replicas starting together: 4 of 1,600 openers in a
    local repro), so ask again until `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class UnknownAnswer(LookupError):
    pass


@dataclass(frozen=True)
class AnswerRecord:
    """What the log keeps of one answer. Built off the event loop (in the post-processing thread)."""

    request_id: str
    tenant: str
    brief_json: str  # the brief without its reference image
    model_version: str
    choices_json: str  # [{"palette", "font_pair", "style", "template"}, ...] per scheme, in answer order
    learner_version: str | None = None  # the learned taste that re-ranked this answer, if any

    @classmethod
    def from_schemes(cls, request_id: str, tenant: str, brief_json: str, model_version: str,
                     schemes: list[dict], learner_version: str | None = None) -> "AnswerRecord":
        choices = [{"palette": s["palette"]["id"], "font_pair": s["typography"]["pair_id"], "style": s["style"]["id"],
                    "template": s["layout"]["template_id"]} for s in schemes]
        return cls(request_id, tenant, brief_json, model_version, orjson.dumps(choices).decode(), learner_version)

    @classmethod
    def for_batch(cls, request_ids: list[str], tenants: list[str], briefs: list, model_version: str,
                  batch_schemes: list[list[dict] | None],
                  learner_versions: list[str | None] | None = None) -> list["AnswerRecord"]:
        """A micro-batch's records (briefs are `contract.brief.Brief`); rejected briefs (None) get none.
        Reference images are never kept."""
        versions = learner_versions or [None] * len(request_ids)
        return [cls.from_schemes(rid, tenant, brief.model_dump_json(exclude={"reference_image"}), model_version,
                                 schemes, version)
                for rid, tenant, brief, schemes, version in zip(request_ids, tenants, briefs, batch_schemes, versions)
                if schemes is not None]

    def row(self) -> tuple:
        return (self.request_id, time.time(), self.tenant, self.brief_json, self.model_version, self.choices_json,
                self.learner_version)


class FeedbackStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: writes are tiny and SQLite serialises writers anyway.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._lock = threading.Lock()
        with self._lock:
            _use_wal(self._db, timeout_s=30.0)
            self._db.execute("PRAGMA busy_timeout=30000")
            # Replicas that start together open one file at once: the schema work is one write transaction each,
            # so the second sees what the first made (two that both saw the column missing both added it, and one
            # replica died at start).
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
                # Logs written before the learner existed: add its column (NULL = not re-ranked).
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(answer_records)")}
                if "learner_version" not in columns:
                    self._db.execute("ALTER TABLE answer_records ADD COLUMN learner_version TEXT")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        # Answers are written by one writer thread in group commits: every answer waiting when the writer
        # comes round goes into one transaction. Under load that is one commit per batch instead of one per
        # request (several ingress replicas share the file, and each commit takes SQLite's write lock).
        self._pending: list[tuple[tuple, Future]] = []
        self._wake = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_answers, name="answer-writer", daemon=True)
        self._writer.start()

    def submit_answers(self, records: list[AnswerRecord]) -> Future:
        """Queue a micro-batch of answer records; the future resolves once all are committed (await it before
        replying). One future per batch: the event loop pays one wake-up, not one per answer."""
        done: Future = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError("feedback store is closed")
            self._pending.append(([r.row() for r in records], done))
            self._wake.notify()
        return done

    def record_answer(self, record: AnswerRecord) -> None:
        self.submit_answers([record]).result()

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
                        self._db.executemany("INSERT OR REPLACE INTO answer_records (request_id, created_at, tenant, "
                                             "brief, model_version, choices, learner_version) "
                                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                             [row for rows, _ in batch for row in rows])
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

    def record_feedback(self, request_id: str, scheme_index: int, action: str, tenant: str | None = None) -> bool:
        """True if newly recorded, False if this exact event was already stored (idempotent). With `tenant`, only
        that tenant's answers take feedback (another tenant's request id is as unknown as a made-up one), so a
        choice teaches the tenant it was made for."""
        with self._lock:
            row = self._db.execute("SELECT choices, tenant FROM answer_records WHERE request_id = ?",
                                   (request_id,)).fetchone()
            if row is None or (tenant is not None and row[1] != tenant):
                raise UnknownAnswer(f"no answer with request_id {request_id!r}")
            served = len(json.loads(row[0]))
            if scheme_index >= served:
                raise IndexError(f"answer {request_id} has {served} schemes")
            self._db.execute("PRAGMA synchronous=FULL")
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO feedback VALUES (?, ?, ?, ?)", (request_id, scheme_index, action, time.time())
            )
            return cursor.rowcount == 1

    def export(self) -> list[dict]:
        """Feedback joined with what was served: one training example per event."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.request_id, f.scheme_index, f.action, f.created_at, a.tenant, a.brief, a.choices, "
                "a.model_version FROM feedback f JOIN answer_records a USING (request_id) ORDER BY f.created_at"
            ).fetchall()
        return [
            {"request_id": r[0], "scheme_index": r[1], "action": r[2], "created_at": r[3], "tenant": r[4],
             "brief": json.loads(r[5]), "scheme": json.loads(r[6])[r[1]], "model_version": r[7]}
            for r in rows
        ]

    def learning_events(self) -> list[dict]:
        """What the learner trains on: every choose / reject with the whole answer it was made on (the other
        schemes are what the choice was made against), oldest first, leaving out a tenant's events up to its
        last reset."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.tenant, f.request_id, a.choices, f.scheme_index, f.action, f.created_at "
                "FROM feedback f JOIN answer_records a USING (request_id) "
                "LEFT JOIN learner_resets r ON r.tenant = a.tenant "
                "WHERE f.action IN ('chosen', 'rejected') AND (r.reset_at IS NULL OR f.created_at > r.reset_at) "
                "ORDER BY f.created_at"
            ).fetchall()
        return [{"tenant": r[0], "request_id": r[1], "choices": json.loads(r[2]), "scheme_index": r[3],
                 "action": r[4], "created_at": r[5]} for r in rows]

    def tenant_events(self, tenant: str) -> int:
        """Choose / reject events of `tenant` since its last reset (what the next training would use)."""
        with self._lock:
            return int(self._db.execute(
                "SELECT COUNT(*) FROM feedback f JOIN answer_records a USING (request_id) "
                "LEFT JOIN learner_resets r ON r.tenant = a.tenant WHERE a.tenant = ? AND "
                "f.action IN ('chosen', 'rejected') AND (r.reset_at IS NULL OR f.created_at > r.reset_at)",
                (tenant,)).fetchone()[0])

    def reset_tenant(self, tenant: str) -> float:
        """Forget a tenant's learned taste: its events so far no longer train, and serving drops weights trained
        before this moment (durable before the call returns). Returns the reset time."""
        at = time.time()
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("INSERT OR REPLACE INTO learner_resets VALUES (?, ?)", (tenant, at))
        return at

    def resets(self) -> dict[str, float]:
        with self._lock:
            return dict(self._db.execute("SELECT tenant, reset_at FROM learner_resets").fetchall())

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
            args.out.parent.mkdir(parents=True, exist_ok=True)
            print(json.dumps({"events": store.export_jsonl(args.out), "out": str(args.out)}))
        else:
            print(json.dumps({"events": store.count_feedback()}))
    finally:
        store.close()


if __name__ == "__main__":
    main()
