"""Fixed tables that take most of a serving process's start, kept on disk between processes.

A new Ingress replica builds post-processing's tables from the knowledge base before it takes traffic: about a
second of CPU of the ~3 a replica spends starting (2-core machine), and during a promotional spike every second
a new replica spends starting is a second of queue. Built once, the tables are pickled under `artifacts/cache/`,
keyed by everything they are built from (the knowledge data and the code of `knowledge/`, `pipeline/` and
`contract/`, and the numpy and coloraide versions), so an edit to any of them builds afresh. The files are the
project's own, written next to its model files and trusted as they are; an unreadable file is rebuilt, and a
read-only disk only costs the build. `PACKDESIGN_TABLE_CACHE=off` builds every time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "artifacts" / "cache"
SOURCES = (ROOT / "knowledge", ROOT / "pipeline", ROOT / "contract")

log = logging.getLogger("packdesign.pipeline")
T = TypeVar("T")


def source_key(roots: Iterable[Path] = SOURCES) -> str:
    """A digest of every file under `roots` (names and bytes, compiled caches aside) and of the libraries the
    tables' numbers come from."""
    import coloraide
    import numpy

    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root.parent).as_posix().encode())
                digest.update(path.read_bytes())
    digest.update(f"{sys.version_info[:2]} numpy {numpy.__version__} coloraide {coloraide.__version__}".encode())
    return digest.hexdigest()[:16]


@cache
def _key() -> str:
    return source_key()


def load_or_build(name: str, build: Callable[[], T], cache_dir: Path | None = None, key: str | None = None) -> T:
    """`build()`'s value, from `<cache_dir>/<name>-<key>.pkl` when a process has built it before (else built and
    written there, atomically: replicas starting together may each write it)."""
    if os.environ.get("PACKDESIGN_TABLE_CACHE", "on") == "off":  # measurements of the build itself
        return build()
    cache_dir = CACHE_DIR if cache_dir is None else cache_dir
    path = cache_dir / f"{name}-{key or _key()}.pkl"
    try:
        with path.open("rb") as file:
            return pickle.load(file)
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - truncated or from an incompatible build: build afresh
        log.warning("table cache %s unreadable (%s); building it again", path.name, exc)
    value = build()
    written: Path | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=f".{name}-", delete=False) as file:
            written = Path(file.name)
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        written.chmod(0o644)  # as any other build output (a temporary file starts private)
        os.replace(written, path)
        for stale in cache_dir.glob(f"{name}-*.pkl"):  # built from sources since edited: never read again
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        log.info("table cache %s not written (%s)", path.name, exc)
        if written is not None:
            written.unlink(missing_ok=True)
    return value
