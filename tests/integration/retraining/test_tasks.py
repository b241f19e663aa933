"""Retraining tasks against moto S3: prepare, train, evaluate, gate, register."""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelship.env import load
from modelship.errors import DatasetError, TrainingError
from modelship.registry.manifest import (
    CategoricalProfile,
    ModelDescription,
    NumericProfile,
    describe_model_dir,
)
from modelship.registry.registry import Registry
from modelship.retraining.run_state import RunState, outcome_of
from modelship.retraining.settings import RetrainingSettings
from modelship.retraining.tasks import Retraining
from modelship.training.churn import generate_churn
from modelship.training.tables import table_to_csv_bytes
from tests.conftest import BUCKET


@pytest.fixture
def pipeline(s3: Any, published: Any, tmp_path: Path) -> Retraining:
    settings = load(RetrainingSettings, {"MODEL_BUCKET": BUCKET, "MODEL_NAME": "churn"})
    settings = settings.model_copy(update={"work_dir": tmp_path / "work"})
    return Retraining(settings, s3=s3)


def _upload(s3: Any, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


def _run(pipeline: Retraining, run_id: str, key: str | None = None) -> dict[str, Any]:
    state = pipeline.prepare(run_id, key)
    state["challenger"] = pipeline.train_candidate(state)
    state["evaluation"] = pipeline.evaluate_candidate(state)
    state["decision"] = pipeline.gate(state)
    return state


def test_a_better_model_passes_the_gates_and_is_registered_with_lineage(
    s3: Any, pipeline: Retraining
) -> None:
    # The population drifted; the champion (trained before) scores worse on it than a new model.
    key = _upload(
        s3, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21))
    )

    state = _run(pipeline, "run-better")
    state["registered"] = pipeline.register(state)

    evaluation = state["evaluation"]
    assert state["dataset"]["key"] == key
    assert evaluation["challenger"]["roc_auc"] > evaluation["champion"]["roc_auc"]
    assert evaluation["champion"]["holdout_rows"] == evaluation["challenger"]["holdout_rows"]
    assert state["decision"]["passed"] is True
    manifest = Registry(s3, BUCKET).show("churn", state["registered"]["version"])
    assert manifest.parent_version == "v1"
    assert manifest.training_data.uri == f"s3://{BUCKET}/{key}"
    assert manifest.training_data.etag == state["dataset"]["etag"]
    # The drift monitor's baseline: the new training data and the answers on its holdout.
    tenure = manifest.profile["tenure_months"]
    assert isinstance(tenure, NumericProfile)
    assert len(tenure.quantiles) == 101
    assert isinstance(manifest.prediction_profile, CategoricalProfile)
    assert manifest.prediction_profile.count == manifest.metrics["holdout_rows"]


def test_a_worse_model_is_rejected_with_reasons_and_nothing_is_registered(
    s3: Any, pipeline: Retraining
) -> None:
    _upload(s3, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(seed=5)))
    # A crippled configuration: one shallow boosting round.
    weak = pipeline.settings.with_overrides(
        {"algorithm": "gradient_boosting", "params": {"max_iter": 1, "max_depth": 1}}
    )
    pipeline = Retraining(weak, s3=s3)

    state = _run(pipeline, "run-worse")

    assert state["decision"]["passed"] is False
    reasons = " | ".join(state["decision"]["reasons"])
    assert "< 0.85" in reasons
    assert "vs champion" in reasons
    with pytest.raises(TrainingError, match="did not pass"):
        pipeline.register(state)
    assert [e.version for e in Registry(s3, BUCKET).list_versions("churn")] == ["v1"]
    record = json.loads(
        s3.get_object(Bucket=BUCKET, Key="retraining/churn/run-worse/decision.json")["Body"].read()
    )
    assert record["passed"] is False
    assert record["reasons"] == state["decision"]["reasons"]
    assert outcome_of(RunState(state))["outcome"] == "rejected"


def test_noise_labels_fail_the_absolute_gate(s3: Any, pipeline: Retraining) -> None:
    table = generate_churn(seed=5)
    rng = np.random.default_rng(0)
    table.columns["churned"][:] = rng.permutation(table.columns["churned"])
    _upload(s3, "datasets/churn/noisy.csv", table_to_csv_bytes(table))

    state = _run(pipeline, "run-noise")

    assert state["decision"]["passed"] is False
    assert any("< 0.85" in reason for reason in state["decision"]["reasons"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda text: text.replace("contract,", "", 1), "missing column"),
        (lambda text: text.replace("\n54,", "\nfifty,", 1), "numeric"),
        (lambda text: "", "is empty"),
        (lambda text: text.split("\n", 1)[0] + "\n", "no rows"),
    ],
    ids=["missing-column", "wrong-type", "empty-file", "header-only"],
)
def test_a_bad_dataset_fails_with_a_clear_cause_before_training(
    s3: Any, pipeline: Retraining, mutate: Any, message: str
) -> None:
    table = generate_churn(n_rows=300, seed=9)
    table.columns["tenure_months"][0] = 54.0
    text = table_to_csv_bytes(table).decode()
    _upload(s3, "datasets/churn/bad.csv", mutate(text).encode())

    with pytest.raises(DatasetError, match=message):
        pipeline.prepare("run-bad")

    assert [e.version for e in Registry(s3, BUCKET).list_versions("churn")] == ["v1"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="candidates/")


def test_missing_column_names_the_column(s3: Any, pipeline: Retraining) -> None:
    text = table_to_csv_bytes(generate_churn(n_rows=100)).decode()
    lines = [",".join(line.split(",")[:-2] + line.split(",")[-1:]) for line in text.splitlines()]
    _upload(s3, "datasets/churn/no-paperless.csv", "\n".join(lines).encode())

    with pytest.raises(DatasetError, match=r"missing column\(s\): paperless_billing"):
        pipeline.prepare("run-missing")


def test_no_dataset_is_reported(pipeline: Retraining) -> None:
    with pytest.raises(DatasetError, match=r"no \.csv or \.parquet dataset under"):
        pipeline.prepare("run-none")


def test_the_newest_dataset_is_used_unless_a_key_is_given(s3: Any, pipeline: Retraining) -> None:
    _upload(s3, "datasets/churn/a.csv", table_to_csv_bytes(generate_churn(n_rows=200, seed=1)))
    _upload(s3, "datasets/churn/b.csv", table_to_csv_bytes(generate_churn(n_rows=300, seed=2)))

    assert pipeline.prepare("r1")["rows"] == 300
    assert pipeline.prepare("r2", "datasets/churn/a.csv")["rows"] == 200


def test_a_dataset_replaced_after_prepare_is_refused(s3: Any, pipeline: Retraining) -> None:
    key = _upload(
        s3, "datasets/churn/a.csv", table_to_csv_bytes(generate_churn(n_rows=300, seed=1))
    )
    state = pipeline.prepare("run-replaced", key)
    _upload(s3, key, table_to_csv_bytes(generate_churn(n_rows=300, seed=2)))

    with pytest.raises(DatasetError, match="changed since it was prepared"):
        pipeline.train_candidate(state)


def test_parquet_datasets_are_read(s3: Any, pipeline: Retraining) -> None:
    pa = pytest.importorskip("pyarrow")
    import io

    import pyarrow.parquet as pq

    table = generate_churn(n_rows=400, seed=4)
    arrow = pa.table({name: list(values) for name, values in table.columns.items()})
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    _upload(s3, "datasets/churn/data.parquet", buffer.getvalue())

    state = pipeline.prepare("run-parquet")

    assert state["rows"] == 400
    assert state["schema"]["features"]["contract"] == "categorical"


def test_the_registered_card_has_the_champion_on_the_same_holdout_and_every_gate(
    s3: Any, pipeline: Retraining
) -> None:
    _upload(s3, "datasets/churn/new.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21)))
    state = _run(pipeline, "run-card")

    version = pipeline.register(state)["version"]

    card = Registry(s3, BUCKET).stored_card("churn", version)
    assert card is not None
    evaluation = state["evaluation"]
    challenger, champion = evaluation["challenger"], evaluation["champion"]
    assert "| Metric | This version | Champion v1 |" in card
    assert f"| roc_auc | {challenger['roc_auc']:.4f} | {champion['roc_auc']:.4f} |" in card
    assert "this version and the champion v1 on the same holdout rows" in card
    assert f"Decision: {state['decision']['summary']}." in card
    for check in state["decision"]["checks"]:
        assert f"| {check['name']} | passed |" in card
    assert "| Retraining run | run-card |" in card


def test_the_champions_description_is_carried_to_the_challenger(
    s3: Any, reference_model_dir: Path, tmp_path: Path
) -> None:
    # A champion whose owner stated its use.
    described = tmp_path / "described"
    shutil.copytree(reference_model_dir, described)
    description = ModelDescription(intended_use="Retention calls.", owner="Retention team")
    describe_model_dir(described, description)
    Registry(s3, BUCKET).publish(described)
    settings = load(RetrainingSettings, {"MODEL_BUCKET": BUCKET, "MODEL_NAME": "churn"})
    pipeline = Retraining(settings.model_copy(update={"work_dir": tmp_path / "w"}), s3=s3)
    _upload(s3, "datasets/churn/new.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21)))

    state = _run(pipeline, "run-described")
    version = pipeline.register(state)["version"]

    assert Registry(s3, BUCKET).show("churn", version).description == description
    assert "Retention calls." in (Registry(s3, BUCKET).stored_card("churn", version) or "")


def test_register_is_idempotent_for_a_retried_task(s3: Any, pipeline: Retraining) -> None:
    _upload(s3, "datasets/churn/new.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21)))
    state = _run(pipeline, "run-retry")

    first = pipeline.register(state)
    again = pipeline.register(state)

    assert first == again


def test_one_upload_starts_one_execution_however_often_the_event_arrives(s3: Any) -> None:
    import boto3

    from modelship.retraining.trigger import start_for_event
    from modelship.sample_events import load_event

    sfn = boto3.client("stepfunctions")
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    arn = sfn.create_state_machine(name="retrain", definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    event = load_event("s3_dataset_created")

    first = start_for_event(sfn, arn, "churn", event)
    again = start_for_event(sfn, arn, "churn", event)
    other_model = start_for_event(sfn, arn, "fraud", event)

    assert first["started"] is True
    assert first["source"] == "s3"
    assert again["started"] is False
    assert again["execution_name"] == first["execution_name"]
    assert other_model["started"] is False
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_sagemaker_job_output_is_filed_as_the_challenger(
    s3: Any, pipeline: Retraining, tmp_path: Path
) -> None:
    import tarfile

    from modelship.retraining.sagemaker_entry import run
    from modelship.training.tables import write_csv

    root = tmp_path / "opt-ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "data" / "train").mkdir(parents=True)
    write_csv(generate_churn(n_rows=800, seed=3), root / "input" / "data" / "train" / "d.csv")
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"model_name": "churn", "params": "{}", "parent_version": "v1"})
    )
    assert run(root) == 0
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for file in (root / "model").iterdir():
            tar.add(file, arcname=file.name)
    s3.upload_file(str(archive), BUCKET, "candidates/churn/sagemaker/job/output/model.tar.gz")
    state = {
        "run_id": "run-sm",
        "sagemaker": {
            "ModelArtifacts": {
                "S3ModelArtifacts": f"s3://{BUCKET}/candidates/churn/sagemaker/job/output/model.tar.gz"
            }
        },
    }

    challenger = pipeline.collect_sagemaker_candidate(state)

    assert challenger["prefix"] == "candidates/churn/run-sm/"
    stored = s3.get_object(Bucket=BUCKET, Key="candidates/churn/run-sm/manifest.json")["Body"]
    manifest = json.loads(stored.read())
    assert manifest["artifact"]["sha256"] == challenger["sha256"]
    assert manifest["parent_version"] == "v1"


class _ListGrantedOnPrefixOnly:
    """S3 as AWS answers a role whose ListBucket is conditioned on `s3:prefix`: a GetObject
    of a missing key is 403 AccessDenied, not 404 (S3 may only say "missing" to a caller
    allowed to list that key)."""

    def __init__(self, client: Any, denied_keys: frozenset[str] = frozenset()) -> None:
        self.client = client
        self.denied_keys = denied_keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        listed = self.client.list_objects_v2(Bucket=kwargs["Bucket"], Prefix=kwargs["Key"])
        exists = any(item["Key"] == kwargs["Key"] for item in listed.get("Contents", []))
        if not exists or kwargs["Key"] in self.denied_keys:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"
            )
        return self.client.get_object(**kwargs)


def test_a_missing_optional_schema_answered_403_is_absent(s3: Any) -> None:
    from modelship.retraining.datasets import declared_schema

    assert declared_schema(_ListGrantedOnPrefixOnly(s3), BUCKET, "churn") is None


def test_a_denied_read_of_an_existing_schema_is_not_hidden(s3: Any) -> None:
    from botocore.exceptions import ClientError

    from modelship.retraining.datasets import declared_schema

    key = _upload(
        s3, "datasets/churn/schema.json", b'{"target": "churned", "features": {"a": "numeric"}}'
    )
    assert declared_schema(_ListGrantedOnPrefixOnly(s3), BUCKET, "churn") is not None

    with pytest.raises(ClientError, match="AccessDenied"):
        declared_schema(_ListGrantedOnPrefixOnly(s3, frozenset({key})), BUCKET, "churn")
