"""Compressed time for the local sandbox: Step Functions Wait states and Retry intervals.

moto's ASL interpreter really sleeps for a Wait's ``Seconds`` and between retries.
:func:`install` scales both by ``scale`` real seconds per simulated second (the default,
1/86400, makes one day last one second; 0 skips waits entirely, for tests). The
:class:`SimClock` turns real time back into simulated time for timelines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ONE_DAY_PER_SECOND = 1 / 86400
_state: dict[str, Any] = {}


@dataclass
class SimClock:
    scale: float = ONE_DAY_PER_SECOND
    real_start: float = field(default_factory=time.monotonic)
    sim_start: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        if self.scale <= 0:
            return self.sim_start
        elapsed = (time.monotonic() - self.real_start) / self.scale
        return self.sim_start + timedelta(seconds=elapsed)

    def real_seconds(self, simulated_seconds: float) -> float:
        return max(0.0, simulated_seconds * self.scale)


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: only ``sleep`` is scaled."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        time.sleep(self._clock.real_seconds(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def install(scale: float = ONE_DAY_PER_SECOND) -> SimClock:
    """Patch moto's Wait and Retry (idempotent; a second call changes the scale)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (  # noqa: PLC0415
        wait_function,
    )

    clock = SimClock(scale=scale)
    _state["clock"] = clock
    if "wait" not in _state:
        _state["wait"] = wait_function.WaitFunction._wait_interval
        _state["time"] = getattr(retrier_decl, "time")  # noqa: B009

        def _wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
            real = _state["clock"].real_seconds(wait_seconds)
            if real > 0 and env.is_running():
                env.program_state_event.wait(real)

        setattr(wait_function.WaitFunction, "_wait_interval", _wait_interval)  # noqa: B010
    setattr(retrier_decl, "time", _ScaledTime(clock))  # noqa: B010
    return clock


def uninstall() -> None:
    if "wait" not in _state:
        return
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (  # noqa: PLC0415
        wait_function,
    )

    setattr(wait_function.WaitFunction, "_wait_interval", _state.pop("wait"))  # noqa: B010
    setattr(retrier_decl, "time", _state.pop("time"))  # noqa: B010
    _state.pop("clock", None)
