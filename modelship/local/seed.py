"""The model a fresh emulator starts with: the reference churn model, released on `live`."""

from __future__ import annotations

import shutil
from pathlib import Path

from modelship import names
from modelship.local.deployment import Clients

SEED_MODEL_VERSION = "v0"


def seed_reference_model(clients: Clients, environment: dict[str, str], work: Path) -> None:
    """Trains the reference churn model as v0, publishes it, releases it and promotes it,
    as a first `modelship release` would; skipped for a model other than churn."""
    from modelship.registry.registry import Registry
    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases
    from modelship.training.churn import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model

    function = environment["MODELSHIP_FUNCTION"]
    configuration = clients.lambda_.get_function_configuration(FunctionName=function)
    if configuration["Environment"]["Variables"].get(names.ENV_MODEL_NAME) != "churn":
        return
    model_dir = work / "seed-model"
    shutil.rmtree(model_dir, ignore_errors=True)
    trained = train(generate_churn(), TrainingSpec(name="churn", version=SEED_MODEL_VERSION))
    write_model(trained, model_dir)
    bucket = environment["MODELSHIP_BUCKET"]
    Registry(clients.s3, bucket).publish(model_dir)
    releases = Releases(
        ReleaseTarget(function, environment["MODELSHIP_ALIAS"], bucket),
        lambda_client=clients.lambda_,
        s3=clients.s3,
        cloudwatch=clients.cloudwatch,
        sts=clients.sts,
    )
    reason = "seeded by modelship local up (the reference churn model)"
    info, _ = releases.create(SEED_MODEL_VERSION, reason=reason)
    releases.promote(candidate=info.version, direct=True, reason=reason)
