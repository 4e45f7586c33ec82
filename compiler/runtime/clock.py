"""The one clock of `deployc up`: what the runtime and the CLI's progress lines read and sleep with.

The CLI reads ``CLOCK`` when a command starts and passes it down; nothing in the runtime binds
time.monotonic or time.sleep itself. A test replaces ``CLOCK`` (a fake whose sleep advances its time), and
``System`` looks the time module's functions up at each call, so a patched time.sleep reaches it as well.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: elapsed times, timeouts."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def time(self) -> float:
        """Seconds since the epoch: timestamps written into containers."""
        ...


class System:
    """The machine's clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def time(self) -> float:
        return time.time()


CLOCK: Clock = System()
