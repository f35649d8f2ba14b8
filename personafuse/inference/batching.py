"""Requests that arrive together are scored together: the server's threads hand their work to
one scoring thread, which waits a few milliseconds for others and scores them in one call.

The model runs in that thread only, so its caches need no lock; a request's answer is what it
would get alone (the batch only changes how its candidates are padded and chunked, which moves
scores by float rounding; tested).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

__all__ = ["RequestBatcher"]


class RequestBatcher:
    """Calls ``score(items)`` on batches of submitted items, from one thread.

    Args:
        score: Maps a list of items to a list of results, one each, in order.
        wait_ms: How long the first item of a batch waits for others.
        max_batch: Most items in one call.
    """

    def __init__(self, score: Callable[[list], Sequence], wait_ms: float = 5.0,
                 max_batch: int = 16):  # fmt: skip
        if max_batch < 1 or wait_ms < 0:
            raise ValueError(f"max_batch={max_batch} must be ≥ 1 and wait_ms={wait_ms} ≥ 0")
        self.score, self.wait, self.max_batch = score, wait_ms / 1000.0, max_batch
        self.batches = 0  # calls of score, for the load test's report
        self._queue: queue.Queue[tuple[Any, Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="scoring", daemon=True)
        self._thread.start()

    def submit(self, item) -> Any:
        """Score ``item`` with whatever arrives with it; returns its result (or raises the
        error scoring raised)."""
        future: Future = Future()
        self._queue.put((item, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            deadline = time.perf_counter() + self.wait
            while len(batch) < self.max_batch:
                left = deadline - time.perf_counter()
                try:
                    batch.append(self._queue.get(timeout=max(left, 0.0)) if left > 0
                                 else self._queue.get_nowait())  # fmt: skip
                except queue.Empty:
                    break
            items = [item for item, _ in batch]
            try:
                results = self.score(items)
            except Exception as err:  # each request of the batch learns what went wrong
                for _, future in batch:
                    future.set_exception(err)
                continue
            self.batches += 1
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
