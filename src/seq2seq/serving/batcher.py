"""`DynamicBatcher`: concurrent requests grouped into batches for one worker thread."""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any


class QueueFull(RuntimeError):
    """The batcher holds `max_queue` waiting requests (or is stopping): answered 503."""


@dataclass
class _Job:
    key: Hashable
    items: Sequence[Any]
    future: asyncio.Future = field(repr=False)


class DynamicBatcher:
    """Groups requests that arrive within `max_wait` seconds into one call of `run`.

    Requests are queued in arrival order. The oldest waiting request opens a
    batch; requests with the same key (for example the beam width) join it
    until it holds `max_batch` items or `max_wait` has passed, and the batch runs
    in one worker thread, so the event loop stays free. While a batch runs, the
    next ones queue up. Requests with other keys wait for their own batches.
    Each request gets exactly one answer: its results, the batch's exception,
    or `QueueFull` when `max_queue` requests already wait.

    Args:
        run: `run(key, items) -> results`, one result per item; called in the worker thread.
        max_batch: Items per call at most (a request is never split; one larger
            than `max_batch` runs alone).
        max_wait: Seconds the first request of a batch waits for others.
        max_queue: Waiting requests at most.

    Example:

    >>> import asyncio
    >>> from seq2seq.serving.batcher import DynamicBatcher
    >>> async def main():
    ...     batcher = DynamicBatcher(lambda key, items: [x * key for x in items])
    ...     async with batcher:
    ...         return await asyncio.gather(batcher.submit(2, [1]), batcher.submit(2, [3, 4]))
    >>> asyncio.run(main())
    [[2], [6, 8]]
    """

    def __init__(
        self,
        run: Callable[[Hashable, list], Sequence[Any]],
        max_batch: int = 64,
        max_wait: float = 0.005,
        max_queue: int = 1024,
    ):
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.requests = 0
        self.batches = 0
        self.items = 0
        self._queue: collections.deque[_Job] = collections.deque()
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def waiting(self) -> int:
        """Requests queued and not yet running."""
        return len(self._queue)

    async def start(self) -> None:
        """Starts the worker thread and the task that forms batches (in the running loop)."""
        self._arrived = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="seq2seq-model"
        )
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def stop(self) -> None:
        """Stops forming batches and answers the requests not yet answered with `QueueFull`."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        jobs, self._queue = list(self._queue), collections.deque()
        self._fail(jobs, QueueFull("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False)  # a running batch finishes in its thread
            self._executor = None

    async def __aenter__(self) -> DynamicBatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    async def submit(self, key: Hashable, items: Sequence[Any]) -> list:
        """Queues `items` under `key` and returns their results once their batch ran.

        Raises:
            QueueFull: `max_queue` requests already wait, or the batcher is stopped.
            Exception: Whatever `run` raised for the batch.
        """
        if self._task is None:
            raise QueueFull("the server is not running")
        if len(self._queue) >= self.max_queue:
            raise QueueFull(
                f"the server is busy ({len(self._queue)} requests waiting); try again shortly"
            )
        job = _Job(key, items, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self.requests += 1
        self._arrived.set()
        # A cancelled caller (client gone) cancels its future; the batch skips it.
        return await job.future

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            key = self._queue[0].key
            deadline = loop.time() + self.max_wait
            while self._count(key) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            jobs = [job for job in self._take(key) if not job.future.done()]
            if jobs:
                await self._run(loop, key, jobs)

    def _count(self, key: Hashable) -> int:
        return sum(len(job.items) for job in self._queue if job.key == key)

    def _take(self, key: Hashable) -> list[_Job]:
        """Removes the oldest jobs under `key` that fit in one batch (the first always does)."""
        taken, kept, size = [], collections.deque(), 0
        for job in self._queue:
            if job.key == key and (not taken or size + len(job.items) <= self.max_batch):
                taken.append(job)
                size += len(job.items)
            else:
                kept.append(job)
        self._queue = kept
        return taken

    async def _run(self, loop: asyncio.AbstractEventLoop, key: Hashable, jobs: list[_Job]) -> None:
        items = [item for job in jobs for item in job.items]
        self.batches += 1
        self.items += len(items)
        try:
            results = await loop.run_in_executor(self._executor, self.run, key, items)
            if len(results) != len(items):
                raise RuntimeError(f"the batch gave {len(results)} results for {len(items)} items")
        except asyncio.CancelledError:  # stopped while the batch ran
            self._fail(jobs, QueueFull("the server is shutting down"))
            raise
        except Exception as error:  # every request of the batch gets the error as its answer
            self._fail(jobs, error)
            return
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(list(results[start : start + len(job.items)]))
            start += len(job.items)

    @staticmethod
    def _fail(jobs: list[_Job], error: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(error)
