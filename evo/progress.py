"""A dependency-free progress bar, updated between compiled chunks."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Prints `gen 40/200 [#####.....] 20% 1.3s igd=0.0412` to a stream.

    On a terminal the line is redrawn in place; elsewhere (logs, CI) a line is printed at
    most every `min_interval` seconds and once at the end.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30,
                 min_interval: float = 5.0):
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self.last_print = -float("inf")
        self.interactive = getattr(self.stream, "isatty", lambda: False)()

    def update(self, done: int, **values: float) -> None:
        now = time.perf_counter()
        finished = done >= self.total
        if not (self.interactive or finished or now - self.last_print >= self.min_interval):
            return
        self.last_print = now
        filled = self.width * done // max(self.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        extra = " ".join(f"{name}={value:.4g}" for name, value in values.items())
        line = (f"gen {done}/{self.total} [{bar}] {100 * done // max(self.total, 1):3d}% "
                f"{now - self.start:.1f}s {extra}").rstrip()
        end = "\n" if finished or not self.interactive else ""
        self.stream.write(("\r" if self.interactive else "") + line + end)
        self.stream.flush()
