"""Typed reads of CDK context keys, with defaults; every error names the key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

_SWITCH = {"on": True, "true": True, "off": False, "false": False}


class ContextReader(Protocol):
    def try_get_context(self, key: str) -> Any: ...


class LayeredContext:
    """A model's view of the context: its own keys (from the `models` block) over the
    top-level ones, which are the shared defaults."""

    def __init__(self, node: ContextReader, layer: Mapping[str, Any]) -> None:
        self._node = node
        self._layer = layer

    def try_get_context(self, key: str) -> Any:
        if key in self._layer:
            return self._layer[key]
        return self._node.try_get_context(key)


class TypedContext:
    """Typed reads of context keys: values from cdk.json keep their JSON type, values from
    `-c key=value` are strings, so numbers and switches accept both. Errors name the key."""

    def __init__(
        self,
        node: ContextReader,
        defaults: dict[str, Any],
        *,
        error: type[ValueError],
        blank_is_default: bool = False,
    ) -> None:
        self._node = node
        self._defaults = defaults
        self._error = error
        self._blank_is_default = blank_is_default

    def raw(self, key: str) -> Any:
        value = self._node.try_get_context(key)
        if value is None or (self._blank_is_default and value == ""):
            return self._defaults[key]
        return value

    def text(self, key: str) -> str:
        return str(self.raw(key)).strip()

    def schedule(self, key: str) -> str:
        """An EventBridge schedule expression, checked with the parser the emulator fires
        schedules with; "" (no schedule) passes through."""
        from modelship.schedule_expressions import (
            InvalidSchedule,
            UnsupportedSchedule,
            parse_schedule,
        )

        # Not stripped: "rate(7 days)\n" is refused here as EventBridge would refuse it.
        value = str(self.raw(key))
        try:
            if value:
                parse_schedule(value)
        except UnsupportedSchedule:
            pass  # valid on AWS; the emulator names it and does not fire it
        except InvalidSchedule as exc:
            raise self._error(
                f"context '{key}' must be an EventBridge rate(...) or cron(...) expression, "
                f"got {value!r}: {exc}"
            ) from None
        return value

    def match(self, key: str, pattern: re.Pattern[str], rule: str) -> str:
        value = self.text(key)
        if not pattern.fullmatch(value):
            raise self._error(f"context '{key}' must be {rule}, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key).lower()
        if value not in allowed:
            raise self._error(f"context '{key}' must be one of {', '.join(allowed)}, got {value!r}")
        return value

    def number(self, key: str, low: float, high: float) -> float:
        raw = self.raw(key)
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
        except (TypeError, ValueError):
            raise self._error(f"context '{key}' must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise self._error(f"context '{key}' must be between {low:g} and {high:g}, got {raw!r}")
        return value

    def int(self, key: str, low: int, high: int) -> int:
        value = self.number(key, low, high)
        if not value.is_integer():
            raise self._error(f"context '{key}' must be a whole number, got {self.raw(key)!r}")
        return int(value)

    def switch(self, key: str) -> bool:
        raw = self.raw(key)
        if isinstance(raw, bool):
            return raw
        value = _SWITCH.get(str(raw).strip().lower())
        if value is None:
            raise self._error(f"context '{key}' must be on or off, got {raw!r}")
        return value

    def list(self, key: str) -> tuple[str, ...]:
        raw = self.raw(key)
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())

    def json_object(self, key: str) -> str:
        """A JSON object given as an object (cdk.json) or as text (-c), as JSON text."""
        raw = self.raw(key)
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
        if not isinstance(value, dict):
            raise self._error(f"context '{key}' must be a JSON object, got {raw!r}")
        return raw if isinstance(raw, str) else json.dumps(raw)
