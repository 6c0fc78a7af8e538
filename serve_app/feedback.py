"""Durable store for served answers and designer feedback: SQLite in WAL mode.

Feedback rows are committed with synchronous=FULL (fsync'd before the API answers) and are idempotent on
(request_id, scheme_index, action). Answer summaries are kept so feedback can be checked against what
was actually served and exported later as a training set.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
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

    def record_answer(self, request_id: str, brief: dict, schemes: list[dict], model_version: str) -> None:
        summary = [
            {"palette": s["palette"]["id"], "style": s["style"]["id"], "font_pair": s["typography"]["pair_id"],
             "colors": [c["hex"] for c in s["palette"]["colors"]]}
            for s in schemes
        ]
        brief = {k: v for k, v in brief.items() if k != "reference_image"}  # images are not kept
        with self._lock:
            # NORMAL in WAL mode: durable across a process kill, may lose the last commits on power loss.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                (request_id, time.time(), json.dumps(brief, ensure_ascii=False), json.dumps(summary), model_version),
            )

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

    def count_feedback(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
