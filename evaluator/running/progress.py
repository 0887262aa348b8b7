"""A progress bar on standard error for long runs (tqdm), silent unless stderr is a terminal."""

from __future__ import annotations

import sys

from .streaming import Progress

# tqdm: one small module with no dependencies of its own that works out the rate and the time
# left, redraws a few times a second at most, and keeps to one line; click's bar needs an
# iterable of known length, rich brings a dozen modules for what is one line here.


class Bar(Progress):
    """Contacts read and decided, the rate, and, when the size is known, the time left. Each
    phase of a run (reading, deciding, writing) gets the bar anew."""

    def __init__(self, total: int | None, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.bar = None
        self.current = ""
        self.read_count = 0

    def phase(self, name: str) -> None:
        self.current = name
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(total=self.total, desc=name, unit=" contacts", unit_scale=True, file=sys.stderr,
                        dynamic_ncols=True, leave=False, mininterval=0.5)

    def read(self, count: int) -> None:
        self.read_count += count
        if self.bar is None:
            return
        if self.current == "reading":
            self.bar.update(count)
        else:
            self.bar.set_postfix_str(f"read {self.read_count:,}", refresh=False)

    def decided(self, count: int) -> None:
        if self.bar is not None and self.current != "reading":
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
