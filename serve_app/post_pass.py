"""The Ingress's post-processing passes: micro-batches whose model outputs are back -> answer bytes and answer
records, in the replica's worker thread or in warm child processes (`ingress_post_processes`, each its own GIL).

Nothing here imports Ray: a child unpickles the passes it is sent, whose classes all live in Ray-free modules
(this one, `serve_app.model_io`, `pipeline`, `contract`, `serve_app.feedback`), so a spawned child loads numpy and
the post-processing tables, not Ray, gRPC and FastAPI. Children start while their replica warms itself and sends
its warm-up brief through both hops; the replica waits for them only before its warm-up brief's own pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from contract.brief import Brief
from contract.scheme import HeatmapEncoding
from pipeline import postprocess
from pipeline.features import BriefRejection, EncodedBatch
from pipeline.postprocess import answer_batch
from pipeline.taste import TasteBatch
from serve_app.feedback import AnswerRecord
from serve_app.heap import freeze_startup_heap
from serve_app.model_io import ModelOutputs


@dataclass
class Pending:
    """One brief waiting for its micro-batch."""

    brief: Brief
    encoding: HeatmapEncoding
    tenant: str
    request_id: str
    started: float


@dataclass
class Inferred:
    """A micro-batch back from the recommender, waiting for its post-processing pass."""

    items: list[Pending]
    encoded: EncodedBatch
    result: ModelOutputs
    started: float
    encoded_at: float
    inferred_at: float

    def rows(self, start: int, stop: int) -> Inferred:
        """Its briefs start..stop-1 as a micro-batch of their own (the model call's figures kept)."""
        if (start, stop) == (0, len(self.items)):
            return self
        result = ModelOutputs({name: rows[start:stop] for name, rows in self.result.outputs.items()},
                              self.result.backend, self.result.model_version, self.result.infer_ms,
                              self.result.batch_size)
        return Inferred(self.items[start:stop], self.encoded.rows(start, stop), result, self.started,
                        self.encoded_at, self.inferred_at)


# A run of fewer briefs does not pay for itself: each run costs a pass's fixed part (~1-2.5 ms on a development
# core) and a round trip to its child. `python -m benchmarks.post_split` (2 cores, median wall of 40, one child then
# two alternating): 4 briefs 5.33 -> 5.13 ms, 8 11.52 -> 9.73, 16 17.43 -> 14.33, 32 25.80 -> 18.93; a pass of 2
# cut in two was slower (3.80 -> 4.56 on the golden briefs).
MIN_BRIEFS_A_RUN = 2


def split_pass(parts: list[Inferred], pieces: int) -> list[list[tuple[int, Inferred]]]:
    """One pass's micro-batches as at most `pieces` runs of consecutive briefs (of at least MIN_BRIEFS_A_RUN), as
    equal as whole briefs allow, each a list of (index of the micro-batch it comes from, that micro-batch's briefs in
    it): each run goes to its own post-processing child, so a pass of b briefs takes about b / pieces of the time.
    Answers do not depend on which briefs share a pass (tests/serve/test_post_processes.py)."""
    total = sum(len(part.items) for part in parts)
    pieces = max(1, min(pieces, total // MIN_BRIEFS_A_RUN))
    bounds = [round(total * k / pieces) for k in range(pieces + 1)]  # brief offsets where the runs begin and end
    runs: list[list[tuple[int, Inferred]]] = [[] for _ in range(pieces)]  # none empty: each holds >= 2 briefs
    offset = 0
    for index, part in enumerate(parts):
        size = len(part.items)
        for k in range(pieces):
            start, stop = max(bounds[k], offset), min(bounds[k + 1], offset + size)
            if start < stop:
                runs[k].append((index, part.rows(start - offset, stop - offset)))
        offset += size
    return runs


def join_split(parts: int, runs: list[list[tuple[int, Inferred]]],
               answered: list[list[tuple[list, list[AnswerRecord]]]]) -> list[tuple[list, list[AnswerRecord]]]:
    """Each run's answers and records (per piece of a micro-batch, in `split_pass`'s order) -> per micro-batch of the
    pass, its answers and records in brief order."""
    joined: list[tuple[list, list[AnswerRecord]]] = [([], []) for _ in range(parts)]
    for run, results in zip(runs, answered):
        for (index, _), (answers, records) in zip(run, results):
            joined[index][0].extend(answers)
            joined[index][1].extend(records)
    return joined


def post_process(passes: list[tuple[list[Inferred], TasteBatch | None]]
                 ) -> list[list[tuple[list[bytes | BriefRejection], list[AnswerRecord]]]]:
    """Worker thread or child process: each pass's micro-batches (one model version and backend) post-processed
    together, each answer serialised and its log record built; per pass, per micro-batch, its answers and records."""
    done = []
    for group, taste in passes:
        items = [item for part in group for item in part.items]
        model_version, backend = group[0].result.model_version, group[0].result.backend
        encoded = EncodedBatch.concat([part.encoded for part in group])
        outputs = group[0].result.outputs if len(group) == 1 else {
            name: np.concatenate([part.result.outputs[name] for part in group]) for name in group[0].result.outputs}
        stage_ms = [{"encode": (part.encoded_at - part.started) * 1000,
                     "infer": (part.inferred_at - part.encoded_at) * 1000, "model": part.result.infer_ms}
                    for part in group for _ in part.items]
        # perf_counter is CLOCK_MONOTONIC, one clock for every process of the host: a child's `now` and the
        # replica's `started` times compare.
        answers, batch_schemes = answer_batch(
            [item.brief for item in items], encoded, outputs, [item.request_id for item in items],
            [item.encoding for item in items], model_version, backend, stage_ms,
            [item.started for item in items], time.perf_counter, taste)
        versions = ([taste.version if a else None for a in taste.applied.tolist()] if taste is not None
                    else [None] * len(items))
        answered, start = [], 0
        for part in group:
            end = start + len(part.items)
            records = AnswerRecord.for_batch([item.request_id for item in part.items],
                                             [item.tenant for item in part.items],
                                             [item.brief for item in part.items], model_version,
                                             batch_schemes[start:end], versions[start:end])
            answered.append((answers[start:end], records))
            start = end
        done.append(answered)
    return done


# In a post-processing child only: its CPU seconds when warm (start-up is not load for the autoscaler), and when
# it was warm (perf_counter: CLOCK_MONOTONIC, one clock for the host's processes).
_child_started_cpu_s = 0.0
_child_warm_at = 0.0


def post_in_child(passes: list[tuple[list[Inferred], TasteBatch | None]]):
    """A child's pass -> (its pid, its CPU seconds since it was warm, `post_process`'s result)."""
    done = post_process(passes)
    return os.getpid(), time.process_time() - _child_started_cpu_s, done


def _exit_with(parent: int) -> None:
    """A child's watch on its replica: a replica killed outright (`ray stop`, a crash, an OOM kill) never shuts its
    pool down, and an orphaned child would keep its ~200 MB of tables forever."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


# How long a warm child waits for its siblings before it takes work anyway (their warm-up is ~1 s on a development
# core; a sibling that died breaks the pool, which the replica replaces, so waiting longer gains nothing).
SIBLINGS_WARM_TIMEOUT_S = 60.0


def warm_post_process(parent: int, siblings_warm=None) -> None:
    """A post-processing child's start: it leaves with its replica; the lazy tables are filled before its first
    pass, then the heap frozen; then it waits at `siblings_warm` (a barrier of all the pool's children), so that
    no child takes work before every one is warm: the first tasks' futures then say the whole pool is warm, and a
    replica's first passes can be cut between all its children."""
    global _child_started_cpu_s, _child_warm_at
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-replica", daemon=True).start()
    postprocess.warm()
    freeze_startup_heap()
    _child_started_cpu_s, _child_warm_at = time.process_time(), time.perf_counter()
    if siblings_warm is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            siblings_warm.wait(SIBLINGS_WARM_TIMEOUT_S)


def live_children(pool: ProcessPoolExecutor | None) -> int:
    """Post-processing children alive (the executor keeps them in a private map: read defensively)."""
    children = (getattr(pool, "_processes", None) or {}) if pool is not None else {}
    return sum(child.is_alive() for child in list(children.values()))


async def children_warm(children: list[Future]) -> None:
    """Until every child `start_post_processes` started is warm, or failed to start (which breaks the pool: the next
    pass then runs in the replica's thread and a fresh pool replaces it)."""
    await asyncio.gather(*map(asyncio.wrap_future, children), return_exceptions=True)


@contextlib.contextmanager
def _main_not_rerun():
    """A spawned child first imports its parent's `__main__` from its file. In a Ray worker that file is Ray's
    `default_worker.py`, so every child would import Ray and gRPC before its own work (~0.6 s of a child's start on
    a development core, and their memory for the child's life). Children spawned in this block see a `__main__`
    without a file, as after `python -c`, and import only what unpickling their work needs."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None:  # `-m module` children skip it already
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def start_post_processes(count: int) -> tuple[ProcessPoolExecutor | None, list[Future]]:
    """`count` post-processing children spawned now, or no pool (post-process in the worker thread), and `count`
    futures, done once every child is warm. Returns at once: the replica warms itself meanwhile and waits on the
    futures before its first pass. Spawned: forking a process that runs Ray's and gRPC's threads is unsafe."""
    if not count:
        return None, []
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(count, mp_context=spawn, initializer=warm_post_process,
                               initargs=(os.getpid(), spawn.Barrier(count) if count > 1 else None))
    # The pool spawns a child for each submit that finds none idle, so `count` submits in a row start them all now.
    # A child takes work only after its initializer (its warm-up, then the wait for its siblings' warm-up), so no
    # pass ever meets a cold child, and no task of these is done before all are warm.
    with _main_not_rerun():
        return pool, [pool.submit(os.getpid) for _ in range(count)]
