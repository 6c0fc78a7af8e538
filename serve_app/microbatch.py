"""Micro-batches that grow with the backlog, for the ingress.

Serve's `@serve.batch` forms a batch first and only then waits for one of its `max_concurrent_batches` slots, so
under load every batch holds just the arrivals of one `batch_wait_timeout_s` and the batches queue behind the
slots: the backlog never turns into bigger, cheaper batches. On the H200 node (2026-12-03) that kept the
ingress's micro-batches at a mean of 3-7 briefs while requests waited 0.3-1.5 s in that queue, and two
ingress replicas fell behind at 200 req/s. Here a batch is formed only once a slot is free, from everything
queued by then (up to `max_batch_size`); while another batch is in flight, a short queue waits until its oldest
item is `wait_s` old, and an idle batcher sends at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    """`await submit(item)` -> that item's result of `run_batch(items)`, which returns one result per item.

    At most `max_concurrent` batches run at once. A caller that stops waiting (a timeout cancels its await)
    is left out of any batch formed afterwards. Lives on the event loop of its first `submit`.
    """

    def __init__(self, run_batch: Callable[[list[Item]], Awaitable[Sequence[Result]]], max_batch_size: int,
                 wait_s: float, max_concurrent: int) -> None:
        if max_batch_size < 1 or max_concurrent < 1 or wait_s < 0:
            raise ValueError("max_batch_size and max_concurrent must be >= 1 and wait_s >= 0")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self.max_concurrent = max_concurrent
        self._queue: deque[tuple[Item, asyncio.Future, float]] = deque()
        self._arrived: asyncio.Event | None = None
        self._dispatcher: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    async def submit(self, item: Item) -> Result:
        return await self._enqueue([item])[0]

    async def submit_many(self, items: Sequence[Item]) -> list[Result]:
        """Several items queued at once, in order (a batch request's briefs stay together in one batch where
        they fit); their results in the same order."""
        futures = self._enqueue(items)
        try:
            return list(await asyncio.gather(*futures))
        except BaseException:
            for future in futures:  # a timeout or failure: the rest leave the queue too (dropped as abandoned)
                future.cancel()
            raise

    def _enqueue(self, items: Sequence[Item]) -> list[asyncio.Future]:
        loop = asyncio.get_running_loop()
        if self._dispatcher is None:
            self._arrived = asyncio.Event()
            self._dispatcher = loop.create_task(self._dispatch())
        now = loop.time()
        futures = [loop.create_future() for _ in items]
        self._queue.extend(zip(items, futures, [now] * len(futures)))
        self._arrived.set()
        return futures

    def queued(self) -> int:
        return len(self._queue)

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self.max_concurrent)
        while True:
            await slots.acquire()  # a slot first: while all are busy, arrivals pile up for the next batch
            batch = await self._next_batch(loop)
            task = loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            task.add_done_callback(lambda _: slots.release())

    async def _next_batch(self, loop: asyncio.AbstractEventLoop) -> list[tuple[Item, asyncio.Future, float]]:
        while True:
            self._drop_abandoned()
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # Wait for more only while another batch is in flight (an idle replica gains nothing by waiting: on
            # the H200 node a 3 ms wait was ~5 ms of p50 at 100-200 req/s), the batch is short and its oldest item
            # is younger than wait_s. Busy, the wait still lets the batch grow (a spike's backlog drained with it,
            # and did not in the one run with no wait at all: docs/bench/batch-first/FINDINGS.md, run 7).
            deadline = self._queue[0][2] + (self.wait_s if self._running else 0.0)
            while len(self._queue) < self.max_batch_size and (remaining := deadline - loop.time()) > 0:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except TimeoutError:
                    break
            self._drop_abandoned()
            if self._queue:
                return [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch_size))]

    def _drop_abandoned(self) -> None:
        if any(future.done() for _, future, _ in self._queue):
            kept = [entry for entry in self._queue if not entry[1].done()]
            self._queue.clear()
            self._queue.extend(kept)

    async def _run(self, batch: list[tuple[Item, asyncio.Future, float]]) -> None:
        try:
            results = await self.run_batch([item for item, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch gave {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:  # the replica is shutting down: its callers are cancelled too
            for _, future, _ in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of the batch hears of it
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future, _), result in zip(batch, results):
            if not future.done():
                future.set_result(result)
