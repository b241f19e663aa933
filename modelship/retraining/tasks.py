"""Retraining tasks: prepare -> train -> evaluate -> gate -> register (-> release -> notify).

Each task is a function of the run state (a JSON dict passed between Step Functions
states) and returns what it adds. Nothing reaches the registry before the gate passed, and
the registry is written once; the release itself is the release state machine's job.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError

from modelship import names
from modelship.errors import ConfigurationError, ModelNotFound, TrainingError, VersionConflict
from modelship.registry.manifest import (
    Manifest,
    ModelDescription,
    describe_model_dir,
    read_manifest_dir,
)
from modelship.registry.registry import Registry
from modelship.releases.plan import steps_from_input
from modelship.releases.releases import Releases
from modelship.retraining.candidates import (
    download_candidate,
    extract_training_output,
    upload_candidate,
)
from modelship.retraining.datasets import (
    DatasetRef,
    DeclaredSchema,
    declared_schema,
    find_dataset,
    read_dataset,
)
from modelship.retraining.entry_point import holdout_rows, train_with_entry_point
from modelship.retraining.gates import decide
from modelship.retraining.run_state import card_context
from modelship.retraining.scoring import common_holdout, score
from modelship.retraining.settings import RetrainingSettings
from modelship.serving.model_store import ModelStore
from modelship.training.churn import CHURN_TARGET
from modelship.training.tables import Table
from modelship.training.training import (
    ALGORITHMS,
    TrainingSpec,
    holdout_split,
    train,
    write_model,
)

logger = logging.getLogger(__name__)


class Retraining:
    """The retraining tasks' logic for one model. Clients are passed in."""

    def __init__(self, settings: RetrainingSettings, *, s3: Any, lambda_client: Any = None) -> None:
        if settings.algorithm not in ALGORITHMS:
            raise ConfigurationError(f"unknown training algorithm {settings.algorithm!r}")
        self.settings = settings
        self.s3 = s3
        self.lambda_ = lambda_client
        self.registry = Registry(s3, settings.model_bucket)

    # ---- prepare

    def prepare(
        self,
        run_id: str,
        dataset_key: str | None = None,
        steps: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Finds the dataset, checks it against the declared schema, fixes the holdout and
        the canary plan (the run's own `steps`, else the configured plan)."""
        settings = self.settings
        ref = find_dataset(self.s3, settings.model_bucket, settings.model_name, dataset_key)
        champion = self.champion()
        schema = declared_schema(self.s3, settings.model_bucket, settings.model_name)
        if schema is None and champion is not None:
            schema = DeclaredSchema.from_manifest(champion)
        table = read_dataset(self.s3, ref, schema, default_target=CHURN_TARGET)
        train_rows, holdout_rows = self._split(table)
        if len(train_rows) < 10 or len(holdout_rows) < 5:
            raise TrainingError(f"{ref.uri} has only {table.n_rows} rows; too few to train")
        return {
            "run_id": run_id,
            "model_name": settings.model_name,
            "dataset": ref.to_dict(),
            "data_uri": ref.uri,
            "rows": table.n_rows,
            "holdout_rows": len(holdout_rows),
            "schema": {"target": table.target, "features": table.kinds},
            "champion": _version_of(champion),
            "parent_version": champion.version if champion else "",
            # The champion's description (owner, intended use, ...) goes to the challenger.
            "description": (
                champion.description.model_dump(mode="json")
                if champion and champion.description
                else None
            ),
            # The SageMaker job reads it as a hyperparameter ("" = the built-in algorithm).
            "entry_point": settings.training_entry_point,
            "steps": [
                s.as_input() for s in (steps_from_input(steps) if steps else settings.release_plan)
            ],
        }

    # ---- train

    def train_candidate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        settings = self.settings
        ref = DatasetRef.from_dict(state["dataset"])
        table = self._table(state)
        champion = state.get("champion")
        out = self._work_dir(state["run_id"]) / "candidate"
        shutil.rmtree(out, ignore_errors=True)
        if settings.training_entry_point:
            train_with_entry_point(
                table,
                settings.training_entry_point,
                name=settings.model_name,
                out=out,
                holdout_fraction=settings.holdout_fraction,
                seed=settings.seed,
                code_dir=settings.code_dir,
                data_uri=ref.uri,
                data_etag=ref.etag,
                parent_version=champion["version"] if champion else None,
            )
            return self._upload_candidate(state, out)
        spec = TrainingSpec(
            name=settings.model_name,
            algorithm=settings.algorithm,
            params=settings.params or None,
            holdout_fraction=settings.holdout_fraction,
            seed=settings.seed,
            parent_version=champion["version"] if champion else None,
            data_uri=ref.uri,
            data_etag=ref.etag,
        )
        write_model(train(table, spec), out)
        return self._upload_candidate(state, out)

    def collect_sagemaker_candidate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Files a SageMaker training job's model.tar.gz as the challenger, as train would."""
        artifact_uri = state["sagemaker"]["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, _, key = artifact_uri.removeprefix("s3://").partition("/")
        work = self._work_dir(state["run_id"])
        archive = work / "model.tar.gz"
        self.s3.download_file(bucket, key, str(archive))
        out = work / "candidate"
        shutil.rmtree(out, ignore_errors=True)
        extract_training_output(archive, out, artifact_uri)
        return self._upload_candidate(state, out)

    def _upload_candidate(self, state: Mapping[str, Any], out: Path) -> dict[str, Any]:
        """Files the challenger under candidates/, with the champion's description."""
        description = ModelDescription.of(state.get("description"))
        if description is not None:
            describe_model_dir(out, description)
        prefix = f"{names.CANDIDATES_PREFIX}/{self.settings.model_name}/{state['run_id']}/"
        manifest = upload_candidate(self.s3, self.settings.model_bucket, prefix, out)
        return {
            "prefix": prefix,
            "version": manifest.version,
            "sha256": manifest.artifact.sha256,
            "size_bytes": manifest.artifact.size_bytes,
            "metrics": manifest.metrics,
        }

    # ---- evaluate

    def evaluate_candidate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Scores challenger and champion on the same holdout rows, each loaded and fed as
        the predict function would."""
        from modelship.serving.artifacts import load_estimator, unpack_code

        settings = self.settings
        table = self._table(state)
        _, holdout = self._split(table)
        candidate_dir = self._download_candidate(state)
        manifest = read_manifest_dir(candidate_dir)
        code_dir = None
        if manifest.code is not None:
            code_dir = unpack_code(
                candidate_dir / manifest.code.file,
                manifest,
                self._work_dir(state["run_id"]) / "challenger-code",
            )
        challenger = load_estimator(manifest, candidate_dir / manifest.artifact.file, code_dir)
        champion = state.get("champion")
        loaded = None
        if champion:
            store = ModelStore(
                self.s3,
                settings.model_bucket,
                self._work_dir(state["run_id"]) / "champion-cache",
                max_cache_bytes=8 * 1024**3,
            )
            loaded = store.fetch(settings.model_name, champion["version"], champion["sha256"])
        manifests = [manifest] + ([loaded.manifest] if loaded else [])
        rows = common_holdout(table, manifests, holdout)
        dropped = len(holdout) - len(rows)
        return {
            "challenger": score(challenger, manifest, table, rows, dropped),
            "champion": (
                score(loaded.estimator, loaded.manifest, table, rows, dropped) if loaded else None
            ),
        }

    # ---- gate

    def gate(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Decides, and records the decision write-once under retraining/<name>/<run>/."""
        evaluation = state["evaluation"]
        decision = decide(
            evaluation["challenger"],
            evaluation.get("champion"),
            int(state["challenger"]["size_bytes"]),
            self.settings.gates,
        )
        record = {
            "run_id": state["run_id"],
            "model_name": self.settings.model_name,
            "candidate_version": state["challenger"]["version"],
            "champion_version": (state.get("champion") or {}).get("version"),
            "data_uri": state["data_uri"],
            "passed": decision.passed,
            "summary": decision.summary(),
            "reasons": decision.reasons,
            "checks": [c.model_dump() for c in decision.checks],
            "gates": self.settings.gates.model_dump(),
            "evaluation": evaluation,
            "decided_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        runs = f"{names.RETRAINING_RUNS_PREFIX}/{self.settings.model_name}"
        key = f"{runs}/{state['run_id']}/decision.json"
        try:
            self.s3.put_object(
                Bucket=self.settings.model_bucket,
                Key=key,
                Body=json.dumps(record, indent=2).encode(),
                IfNoneMatch="*",
                ContentType="application/json",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            logger.info("decision for run %s already recorded", state["run_id"])
        return {
            "passed": decision.passed,
            "summary": decision.summary(),
            "reasons": decision.reasons,
            "checks": [c.model_dump() for c in decision.checks],  # for the model card
            "record": f"s3://{self.settings.model_bucket}/{key}",
        }

    # ---- register

    def register(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Publishes the gated candidate with its model card (champion on the same holdout,
        the gates); a retried task finding its own bytes is fine."""
        if not state.get("decision", {}).get("passed"):
            raise TrainingError("refusing to register a candidate that did not pass the gates")
        candidate = state["challenger"]
        model_dir = self._download_candidate(state)
        try:
            manifest = self.registry.publish(model_dir, card=card_context(state))
        except VersionConflict:
            manifest = self.registry.show(self.settings.model_name, candidate["version"])
            if manifest.artifact.sha256 != candidate["sha256"]:
                raise
        return {"version": manifest.version, "sha256": manifest.artifact.sha256}

    def release_challenger(self, releases: Releases, state: Mapping[str, Any]) -> dict[str, Any]:
        """Publishes a Lambda version pinned to the registered challenger: the candidate the
        canary chain works on (`$.candidate`)."""
        registered = state["registered"]
        info, _ = releases.create(
            registered["version"],
            expected_sha256=registered["sha256"],
            reason=f"retraining run {state['run_id']}",
        )
        return {"candidate_release": info.version, "candidate": info.version}

    # ---- helpers

    def champion(self) -> Manifest | None:
        """The model on the alias's stable version; else the newest published; else none."""
        version = self._live_model_version()
        try:
            if version:
                return self.registry.show(self.settings.model_name, version)
            return self.registry.show(self.settings.model_name, "latest")
        except ModelNotFound:
            return None

    def _live_model_version(self) -> str | None:
        if self.lambda_ is None or not self.settings.predict_function:
            return None
        try:
            alias = self.lambda_.get_alias(
                FunctionName=self.settings.predict_function, Name=self.settings.alias_name
            )
            config = self.lambda_.get_function_configuration(
                FunctionName=self.settings.predict_function, Qualifier=alias["FunctionVersion"]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        env = (config.get("Environment") or {}).get("Variables") or {}
        return env.get(names.ENV_MODEL_VERSION) or None

    def _table(self, state: Mapping[str, Any]) -> Table:
        schema = DeclaredSchema.model_validate(state["schema"])
        return read_dataset(
            self.s3, DatasetRef.from_dict(state["dataset"]), schema, default_target=schema.target
        )

    def _work_dir(self, run_id: str) -> Path:
        path = self.settings.work_dir / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _download_candidate(self, state: Mapping[str, Any]) -> Path:
        candidate = state["challenger"]
        target = self._work_dir(state["run_id"]) / "downloaded"
        shutil.rmtree(target, ignore_errors=True)
        download_candidate(
            self.s3, self.settings.model_bucket, candidate["prefix"], target, candidate["sha256"]
        )
        return target

    def _split(self, table: Table) -> tuple[np.ndarray, np.ndarray]:
        """The run's train/holdout rows: the same in prepare, train and evaluate."""
        settings = self.settings
        if settings.training_entry_point:
            return holdout_rows(table, settings.holdout_fraction, settings.seed)
        task = _task_of(settings.algorithm)
        return holdout_split(table, settings.holdout_fraction, settings.seed, task)


def _task_of(algorithm: str) -> Any:
    return ALGORITHMS[algorithm][0]


def _version_of(manifest: Manifest | None) -> dict[str, str] | None:
    if manifest is None:
        return None
    return {"version": manifest.version, "sha256": manifest.artifact.sha256}
