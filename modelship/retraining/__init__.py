"""Retraining: the step tasks of the retraining state machine (`tasks`: prepare, train,
evaluate, gate, register, release the challenger), the run state they pass on and the
outcome notice (`run_state`), training datasets in S3 (`datasets`), the quality gates a
challenger must pass (`gates`), what starts a run (`trigger`) and the functions' settings
(`settings`). The names below are imported on first use: the trigger function and the CLI
import `trigger` and must not import scikit-learn through `tasks`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.retraining.datasets import (
        DatasetRef,
        DeclaredSchema,
        declared_schema,
        find_dataset,
        read_dataset,
    )
    from modelship.retraining.gates import GateConfig, GateDecision, decide
    from modelship.retraining.run_state import RunState, notify_outcome, outcome_of
    from modelship.retraining.settings import RetrainingSettings, TriggerSettings
    from modelship.retraining.tasks import Retraining
    from modelship.retraining.trigger import (
        Trigger,
        manual_trigger,
        start_for_event,
        start_retraining,
        trigger_from_event,
    )

_MODULE_OF = {
    "DatasetRef": "datasets",
    "DeclaredSchema": "datasets",
    "declared_schema": "datasets",
    "find_dataset": "datasets",
    "read_dataset": "datasets",
    "GateConfig": "gates",
    "GateDecision": "gates",
    "decide": "gates",
    "RunState": "run_state",
    "notify_outcome": "run_state",
    "outcome_of": "run_state",
    "RetrainingSettings": "settings",
    "TriggerSettings": "settings",
    "Retraining": "tasks",
    "Trigger": "trigger",
    "manual_trigger": "trigger",
    "start_for_event": "trigger",
    "start_retraining": "trigger",
    "trigger_from_event": "trigger",
}

__all__ = [
    "DatasetRef",
    "DeclaredSchema",
    "GateConfig",
    "GateDecision",
    "Retraining",
    "RetrainingSettings",
    "RunState",
    "Trigger",
    "TriggerSettings",
    "decide",
    "declared_schema",
    "find_dataset",
    "manual_trigger",
    "notify_outcome",
    "outcome_of",
    "read_dataset",
    "start_for_event",
    "start_retraining",
    "trigger_from_event",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
