"""serve_app.microbatch: batches form when a slot is free, so a backlog becomes one bigger batch."""

import asyncio

import pytest

from serve_app.microbatch import MicroBatcher


class Recorder:
    """A batch function that records each batch and how many ran at once; `release` lets a batch finish."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_at_once = 0
        self.release = asyncio.Event()
        self.fail_on: int | None = None

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.release.wait()
            if self.fail_on is not None and self.fail_on in items:
                raise ValueError(f"item {self.fail_on}")
            return [item * 10 for item in items]
        finally:
            self.running -= 1


async def _until(condition, rounds: int = 1000) -> None:
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


def test_backlog_waiting_for_a_slot_becomes_one_batch():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=64, wait_s=0.0, max_concurrent=1)
        first = asyncio.ensure_future(batcher.submit(0))
        await _until(lambda: len(run.batches) == 1)
        # While the only slot is busy, 20 requests arrive one by one (each alone would make a batch of 1).
        later = []
        for i in range(1, 21):
            later.append(asyncio.ensure_future(batcher.submit(i)))
            await asyncio.sleep(0)
        run.release.set()
        results = await asyncio.gather(first, *later)
        return run, results

    run, results = asyncio.run(scenario())
    assert results == [i * 10 for i in range(21)]  # each caller gets its own item's result
    assert run.batches == [[0], list(range(1, 21))]


def test_batches_are_capped_and_slots_bound_concurrency():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=8, wait_s=0.0, max_concurrent=2)
        calls = [asyncio.ensure_future(batcher.submit(i)) for i in range(30)]
        await _until(lambda: len(run.batches) == 2)
        await asyncio.sleep(0.01)
        assert len(run.batches) == 2  # the other 14 wait for a slot
        run.release.set()
        await asyncio.gather(*calls)
        return run

    run = asyncio.run(scenario())
    assert run.most_at_once == 2
    assert all(len(batch) <= 8 for batch in run.batches)
    assert sorted(i for batch in run.batches for i in batch) == list(range(30))  # none lost, none twice


def test_a_short_queue_waits_for_company_while_another_batch_runs():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=64, wait_s=0.5, max_concurrent=2)
        busy = asyncio.ensure_future(batcher.submit(0))  # idle: leaves at once, and holds its slot
        await _until(lambda: len(run.batches) == 1)
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(batcher.submit(2))
        await _until(lambda: len(run.batches) == 2)
        run.release.set()
        await asyncio.gather(busy, first, second)
        return run

    assert asyncio.run(scenario()).batches == [[0], [1, 2]]


def test_an_idle_batcher_sends_a_lone_item_at_once():
    async def scenario():
        run = Recorder()
        run.release.set()
        batcher = MicroBatcher(run, max_batch_size=64, wait_s=60.0, max_concurrent=3)
        # The wait is a minute, but nothing else is in flight: waiting would only add latency.
        return await asyncio.wait_for(batcher.submit(7), 10), run

    result, run = asyncio.run(scenario())
    assert result == 70 and run.batches == [[7]]


def test_a_full_batch_does_not_wait():
    async def scenario():
        run = Recorder()
        run.release.set()
        batcher = MicroBatcher(run, max_batch_size=4, wait_s=60.0, max_concurrent=1)
        # The wait is a minute: only a full batch can go now.
        return await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(4))), 10)

    assert asyncio.run(scenario()) == [0, 10, 20, 30]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_runs():
    async def scenario():
        run = Recorder()
        run.fail_on = 3
        run.release.set()
        batcher = MicroBatcher(run, max_batch_size=64, wait_s=0.0, max_concurrent=1)
        failed = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
        after = await batcher.submit(7)
        return failed, after

    failed, after = asyncio.run(scenario())
    assert all(isinstance(r, ValueError) for r in failed)
    assert after == 70


def test_a_caller_that_gave_up_is_left_out_of_later_batches():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=64, wait_s=0.0, max_concurrent=1)
        busy = asyncio.ensure_future(batcher.submit(0))
        await _until(lambda: len(run.batches) == 1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(1), 0.01)  # times out while queued behind the busy slot
        kept = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0)
        run.release.set()
        return run, await asyncio.gather(busy, kept)

    run, results = asyncio.run(scenario())
    assert results == [0, 20]
    assert run.batches == [[0], [2]]


def test_wrong_result_count_is_an_error_for_the_callers():
    async def short(items):
        return items[:-1]

    async def scenario():
        batcher = MicroBatcher(short, max_batch_size=8, wait_s=0.0, max_concurrent=1)
        return await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(scenario()))


def test_submit_many_keeps_its_items_together_and_in_order():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=8, wait_s=0.0, max_concurrent=1)
        lone = asyncio.ensure_future(batcher.submit(100))
        await _until(lambda: len(run.batches) == 1)
        # Queued while the slot is busy: a request's 6 briefs, then another's 5; batches cap at 8.
        first = asyncio.ensure_future(batcher.submit_many(list(range(6))))
        second = asyncio.ensure_future(batcher.submit_many(list(range(10, 15))))
        await asyncio.sleep(0)
        run.release.set()
        return run, await asyncio.gather(lone, first, second)

    run, (lone, first, second) = asyncio.run(scenario())
    assert lone == 1000 and first == [i * 10 for i in range(6)] and second == [i * 10 for i in range(10, 15)]
    assert run.batches == [[100], [0, 1, 2, 3, 4, 5, 10, 11], [12, 13, 14]]


def test_submit_many_that_gives_up_leaves_the_queue():
    async def scenario():
        run = Recorder()
        batcher = MicroBatcher(run, max_batch_size=8, wait_s=0.0, max_concurrent=1)
        blocker = asyncio.ensure_future(batcher.submit(100))
        await _until(lambda: len(run.batches) == 1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit_many([1, 2, 3]), 0.01)
        kept = asyncio.ensure_future(batcher.submit(7))
        await asyncio.sleep(0)
        run.release.set()
        await asyncio.gather(blocker, kept)
        return run

    run = asyncio.run(scenario())
    assert run.batches == [[100], [7]]  # the abandoned request's briefs were never computed
