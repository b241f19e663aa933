"""Two corrections to moto while the emulator runs: Step Functions Wait states compressed
by `time_scale`, and CloudWatch dimensions matched in any order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock


@contextlib.contextmanager
def compressed_waits(time_scale: float) -> Iterator[None]:
    """Step Functions Wait states last 1/time_scale of their seconds."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def eval_body(self: Any, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env)
        if seconds > 0:
            # Returns early when the execution is stopped, like the original.
            env.program_state_event.wait(seconds / time_scale)

    if time_scale == 1.0:
        yield
        return
    with mock.patch.object(WaitFunction, "_eval_body", eval_body):
        yield


@contextlib.contextmanager
def ordered_dimensions() -> Iterator[None]:
    """moto 5.2.5 matches metric dimensions with sorted(), but Dimension.__lt__ compares a
    value with a name, so the match depends on the order they were written in. CloudWatch
    ignores the order: sort by (name, value) while the emulator runs."""
    from moto.cloudwatch.models import Dimension

    def less_than(self: Any, other: Any) -> bool:
        return (str(self.name), str(self.value)) < (str(other.name), str(other.value))

    with mock.patch.object(Dimension, "__lt__", less_than):
        yield
