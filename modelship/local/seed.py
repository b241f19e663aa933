"""The models a fresh emulator starts with: the reference churn model, released on `live`.

Every deployed model of the reference family (named `churn`, or `churn-...` / `churn_...`)
gets the reference churn data set trained under its own name as v0, with the algorithm its
retraining pipeline is configured with (logistic regression without one), published,
released and promoted as a first `modelship release` would. Other models are left with
their bootstrap version (503 until a release), as a fresh `cdk deploy` leaves them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelship import names
from modelship.local.deployment import Clients, Deployment
from modelship.local.endpoints import endpoints

if TYPE_CHECKING:
    from modelship.releases.directory import DeployedModel

SEED_MODEL_VERSION = "v0"
REFERENCE_MODEL = "churn"
_REFERENCE_FAMILY = re.compile(rf"{REFERENCE_MODEL}([-_].*)?")
_DEFAULT_ALGORITHM = "logistic_regression"


@dataclass(frozen=True)
class SeedTarget:
    model: str
    function: str
    alias: str
    bucket: str


@dataclass(frozen=True)
class Seeded:
    """What seeding did for one model: `algorithm` is None when it was skipped."""

    model: str
    function: str
    algorithm: str | None

    def describe(self) -> str:
        if self.algorithm is None:
            return f"{self.model}: not seeded (not a reference churn model)"
        return f"{self.model}: reference churn data, {self.algorithm}, {SEED_MODEL_VERSION} on live"


def seed_targets(
    clients: Clients, deployment: Deployment, models: Sequence[DeployedModel]
) -> list[SeedTarget]:
    """Every model of the deployment: the model directory's entries, else the one predict
    function (its model named by its MODEL_NAME)."""
    if models:
        return [SeedTarget(m.model, m.function, m.alias, m.bucket) for m in models]
    environment = endpoints("", deployment, "").environment
    function = environment["MODELSHIP_FUNCTION"]
    configuration = clients.lambda_.get_function_configuration(FunctionName=function)
    model = configuration["Environment"]["Variables"].get(names.ENV_MODEL_NAME, "")
    return [
        SeedTarget(model, function, environment["MODELSHIP_ALIAS"], environment["MODELSHIP_BUCKET"])
    ]


def training_algorithm(deployment: Deployment, predict_function: str) -> str:
    """The algorithm the model's retraining tasks train with (they name the predict function
    they release to); the reference algorithm when the model has no retraining or a
    training entry point of its own."""
    for environment in deployment.environments.values():
        if environment.get(names.ENV_PREDICT_FUNCTION) != predict_function:
            continue
        algorithm = environment.get(names.ENV_TRAINING_ALGORITHM)
        if algorithm in names.TRAINING_ALGORITHMS and not environment.get(
            names.ENV_TRAINING_ENTRY_POINT
        ):
            return str(algorithm)
    return _DEFAULT_ALGORITHM


def seed_reference_models(
    clients: Clients, deployment: Deployment, models: Sequence[DeployedModel], work: Path
) -> list[Seeded]:
    """Seeds every model of the reference family (`models`: the model directory, empty
    without one); returns what was done for each model."""
    done = []
    for target in seed_targets(clients, deployment, models):
        if not _REFERENCE_FAMILY.fullmatch(target.model):
            done.append(Seeded(target.model, target.function, None))
            continue
        algorithm = training_algorithm(deployment, target.function)
        _seed(clients, target, algorithm, work / "seed-models" / target.model)
        done.append(Seeded(target.model, target.function, algorithm))
    return done


def _seed(clients: Clients, target: SeedTarget, algorithm: str, model_dir: Path) -> None:
    from modelship.registry.registry import Registry
    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases
    from modelship.training.churn import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model

    shutil.rmtree(model_dir, ignore_errors=True)
    spec = TrainingSpec(name=target.model, version=SEED_MODEL_VERSION, algorithm=algorithm)
    write_model(train(generate_churn(), spec), model_dir)
    Registry(clients.s3, target.bucket).publish(model_dir)
    releases = Releases(
        ReleaseTarget(target.function, target.alias, target.bucket),
        lambda_client=clients.lambda_,
        s3=clients.s3,
        cloudwatch=clients.cloudwatch,
        sts=clients.sts,
    )
    reason = f"seeded by modelship local up (the reference churn data, {algorithm})"
    info, _ = releases.create(SEED_MODEL_VERSION, reason=reason)
    releases.promote(candidate=info.version, direct=True, reason=reason)
