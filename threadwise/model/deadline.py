"""The first-token deadline: a watchdog that gives up on a model that stays silent.

The SDK's read timeout only bounds each read; a model that keeps the
connection open without sending text would hold the answer forever. The
responder starts one of these per stream and turns a fired deadline into
``errors.timeout_error``.
"""
from __future__ import annotations

import threading

from threadwise.model.types import ModelStream


class FirstTokenDeadline:
    """Closes the stream when no text arrives within ``seconds`` (the SDK only bounds each read)."""

    def __init__(self, stream: ModelStream, seconds: float):
        self.fired = False
        self._stream = stream
        self._seconds = seconds
        self._done = False  # text arrived, or the deadline was called off
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        try:
            self._stream.close()
        except Exception:
            pass

    def got_text(self) -> None:
        self._done = True
        self._timer.cancel()

    def restart(self) -> None:
        """A tool ran or a new model request began: the wait for the first text starts again."""
        if not self._done and not self.fired:
            self._timer.cancel()
            self._timer = threading.Timer(self._seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        self._done = True
        self._timer.cancel()
