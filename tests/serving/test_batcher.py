"""`DynamicBatcher` on its own: batches, keys, errors, the queue bound, cancellation."""

import asyncio
import threading
import time

import pytest

from seq2seq.serving.batcher import DynamicBatcher, QueueFull


class Recorder:
    """A batch function that records its batches (and can be slow, or fail)."""

    def __init__(self, delay=0.0, fail_on=None):
        self.delay = delay
        self.fail_on = fail_on
        self.batches = []
        self.threads = set()

    def __call__(self, key, items):
        self.batches.append((key, list(items)))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail_on in items:
            raise ValueError(f"cannot do {self.fail_on}")
        return [f"{key}:{item}" for item in items]


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_batches_of_at_most_max_batch():
    recorder = Recorder()

    async def main():
        async with DynamicBatcher(recorder, max_batch=4, max_wait=0.05) as batcher:
            answers = await asyncio.gather(*(batcher.submit("k", [i]) for i in range(10)))
            return answers, batcher

    answers, batcher = run(main())
    assert answers == [[f"k:{i}"] for i in range(10)]
    assert [len(items) for _, items in recorder.batches] == [4, 4, 2]
    assert (batcher.requests, batcher.batches, batcher.items) == (10, 3, 10)
    assert len(recorder.threads) == 1 and "seq2seq-model" in recorder.threads.pop()


def test_keys_never_share_a_batch_and_requests_are_not_split():
    recorder = Recorder()

    async def main():
        async with DynamicBatcher(recorder, max_batch=4, max_wait=0.05) as batcher:
            calls = [batcher.submit(i % 2, [i, i + 100]) for i in range(6)]
            calls.append(batcher.submit(0, list(range(200, 206))))  # larger than max_batch
            return await asyncio.gather(*calls)

    answers = run(main())
    assert answers[:6] == [[f"{i % 2}:{i}", f"{i % 2}:{i + 100}"] for i in range(6)]
    assert answers[6] == [f"0:{i}" for i in range(200, 206)]
    for key, items in recorder.batches:
        assert all(item % 2 == key for item in items if item < 200)
        assert len(items) <= 4 or items == list(range(200, 206))
    # Key 0: requests 0 and 2, then 4 (the large one does not fit with it), then the large one.
    assert sorted(len(items) for _, items in recorder.batches) == [2, 2, 4, 4, 6]


def test_a_failing_batch_answers_its_requests_with_the_error_and_serving_goes_on():
    recorder = Recorder(fail_on=3)

    async def main():
        async with DynamicBatcher(recorder, max_batch=2, max_wait=0.05) as batcher:
            first = await asyncio.gather(
                *(batcher.submit("k", [i]) for i in range(4)), return_exceptions=True
            )
            return first, await batcher.submit("k", [7])

    first, later = run(main())
    assert first[:2] == [["k:0"], ["k:1"]]
    assert all(isinstance(error, ValueError) for error in first[2:])
    assert later == ["k:7"]


def test_a_full_queue_refuses_at_once():
    recorder = Recorder(delay=0.5)

    async def main():
        async with DynamicBatcher(recorder, max_batch=1, max_wait=0, max_queue=2) as batcher:
            running = asyncio.ensure_future(batcher.submit("k", [0]))
            await asyncio.sleep(0.05)  # the first request runs; the queue is empty
            waiting = [asyncio.ensure_future(batcher.submit("k", [i])) for i in (1, 2)]
            await asyncio.sleep(0)
            with pytest.raises(QueueFull, match="busy"):
                await batcher.submit("k", [3])
            return await asyncio.gather(running, *waiting)

    assert run(main()) == [["k:0"], ["k:1"], ["k:2"]]


def test_a_cancelled_request_is_skipped_and_stop_answers_the_rest():
    recorder = Recorder(delay=0.5)

    async def main():
        batcher = DynamicBatcher(recorder, max_batch=1, max_wait=0)
        await batcher.start()
        running = asyncio.ensure_future(batcher.submit("k", [0]))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(batcher.submit("k", [1]))
        kept = asyncio.ensure_future(batcher.submit("k", [2]))
        await asyncio.sleep(0)
        gone.cancel()
        answers = await asyncio.gather(running, kept)
        last = asyncio.ensure_future(batcher.submit("k", [3]))
        late = asyncio.ensure_future(batcher.submit("k", [4]))
        await asyncio.sleep(0.05)
        await batcher.stop()
        results = await asyncio.gather(last, late, return_exceptions=True)
        with pytest.raises(QueueFull, match="not running"):
            await batcher.submit("k", [5])
        return answers, results

    answers, results = run(main())
    assert answers == [["k:0"], ["k:2"]]
    assert all(1 not in items for _, items in recorder.batches)
    assert all(isinstance(r, QueueFull) or r == ["k:3"] for r in results)
    assert any(isinstance(r, QueueFull) for r in results)
