"""Ctrl-C and SIGTERM during training: note the signal, let the loop checkpoint and stop.

Example:

>>> from seq2seq.training.interrupts import InterruptWatch
>>> with InterruptWatch() as watch:  # doctest: +SKIP
...     while not watch.signal:
...         train_one_step()
"""

from __future__ import annotations

import signal
import threading

EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}


class InterruptWatch:
    """Catches SIGINT and SIGTERM so that a training loop can stop at a clean point.

    The first signal only sets `signal`; the loop checks it after each step,
    writes a checkpoint and stops. A second Ctrl-C raises `KeyboardInterrupt`
    at once, for a user who will not wait. Outside the main thread (where
    Python cannot install handlers) the watch does nothing.

    Attributes:
        signal: The first signal received (`signal.SIGINT` or `signal.SIGTERM`), or `None`.
    """

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = self.signal or signum

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_STATUS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    @property
    def exit_status(self) -> int:
        """130 after SIGINT, 143 after SIGTERM (128 + the signal number, as shells report)."""
        return EXIT_STATUS.get(self.signal, 130)
