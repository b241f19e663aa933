"""Local AWS: moto plus what moto cannot do without Docker (running the real handlers,
evaluating alarms, delivering events), for the emulator (`modelship local up`, `make demo`,
the e2e tests) and the in-process runner of the integration tests.

The emulator
  emulator        lifecycle: moto server, deployment, gateway, background loop
  background      the emulator as a detached process (state file, start, stop)
  endpoints       URLs, fake credentials, the environment to export, moto clients
  activity        what the emulator did on its own, one JSON line each
  deployer        the template walk; provisioners: one per resource type;
                  deployment: what was provisioned; nested_stacks: nested stacks
                  folded into the parent
  template        loading a template and resolving its intrinsics
  template_checks what CloudFormation and the services would refuse, per service
  executor        Lambda: worker processes per published version (worker: their script)
  lambda_invoke   the one patch of moto's Lambda invoke, used by executor and
                  inprocess_lambda
  gateway         the HTTP API, each route to its integration's alias; metrics: EMF to
                  CloudWatch; alarms: alarm evaluation;
                  eventbridge and events: rule targets and the events moto never emits
  moto_patches    Wait states by time_scale; dimensions matched in any order; extended
                  statistics (metric_statistics: pNN, PR, TC exactly over raw values;
                  metric_queries: GetMetricData from an index, not a scan per query)
  firehose_delivery  Firehose to S3 as the template configures it (partitions, GZIP)
  seed            the reference model a fresh emulator serves
  iam/            every call authorized against the template's policies
In process
  inprocess_lambda  moto's Lambda invoke runs handlers in the test process
  handler_runner    loading and calling a handler like Lambda does
  sandbox           an in-process S3 with one model (`modelship invoke`)

The names below are the surface the CLI and the tests use. They load on first use:
importing `modelship.local.handler_runner` (the cold-start benchmark does) must not import
the emulator and moto with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.local.activity import read_activity
    from modelship.local.background import (
        EmulatorStartFailed,
        read_state,
        start_detached,
        stop_detached,
    )
    from modelship.local.deployer import UnsupportedResource
    from modelship.local.emulator import Emulator, EmulatorConfig, PortInUse
    from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
    from modelship.local.inprocess_lambda import InProcessLambda
    from modelship.local.sandbox import s3_sandbox
    from modelship.local.template_checks import TemplateRefused

_HOMES = {
    "Emulator": "emulator",
    "EmulatorConfig": "emulator",
    "PortInUse": "emulator",
    "EmulatorStartFailed": "background",
    "read_state": "background",
    "start_detached": "background",
    "stop_detached": "background",
    "read_activity": "activity",
    "UnsupportedResource": "deployer",
    "TemplateRefused": "template_checks",
    "InProcessLambda": "inprocess_lambda",
    "FakeLambdaContext": "handler_runner",
    "load_handler": "handler_runner",
    "patched_environ": "handler_runner",
    "s3_sandbox": "sandbox",
}

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorStartFailed",
    "FakeLambdaContext",
    "InProcessLambda",
    "PortInUse",
    "TemplateRefused",
    "UnsupportedResource",
    "load_handler",
    "patched_environ",
    "read_activity",
    "read_state",
    "s3_sandbox",
    "start_detached",
    "stop_detached",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
