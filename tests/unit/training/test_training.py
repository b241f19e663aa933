import json
from pathlib import Path

import numpy as np
import pytest

from modelship.errors import DatasetError, InvalidManifest, TrainingError
from modelship.registry.manifest import read_manifest_dir
from modelship.training.churn import generate_churn
from modelship.training.csv_reader import read_csv
from modelship.training.tables import table_to_csv_bytes, write_csv
from modelship.training.training import TrainingSpec, evaluate, train, write_model


def test_reference_data_is_deterministic() -> None:
    first, second = generate_churn(seed=3), generate_churn(seed=3)

    for name in first.columns:
        assert np.array_equal(first.columns[name], second.columns[name])
    assert not np.array_equal(
        first.columns["tenure_months"], generate_churn(seed=4).columns["tenure_months"]
    )


def test_reference_data_has_realistic_ranges_and_both_classes() -> None:
    table = generate_churn()

    assert table.columns["tenure_months"].min() >= 0
    assert table.columns["tenure_months"].max() <= 72
    assert (
        18
        <= table.columns["monthly_charges"].min()
        <= table.columns["monthly_charges"].max()
        <= 120
    )
    assert 0.2 < table.target_values().mean() < 0.6
    assert set(table.columns["contract"]) == {"month_to_month", "one_year", "two_year"}


def test_drift_shifts_the_population() -> None:
    base, drifted = generate_churn(drift=0.0), generate_churn(drift=1.0)

    assert drifted.columns["monthly_charges"].mean() > base.columns["monthly_charges"].mean() + 10
    share = lambda t: float(np.mean(t.columns["contract"] == "month_to_month"))  # noqa: E731
    assert share(drifted) > share(base) + 0.1


def test_reference_model_reaches_the_auc_bar() -> None:
    trained = train(generate_churn(), TrainingSpec(name="churn"))

    assert trained.metrics["roc_auc"] >= 0.85
    assert {"precision", "recall", "f1", "log_loss"} <= set(trained.metrics)


def test_a_model_trained_before_drift_scores_worse_on_drifted_data() -> None:
    trained = train(generate_churn(), TrainingSpec(name="churn"))
    drifted = generate_churn(drift=1.0, seed=11)

    on_drifted = evaluate(
        trained.pipeline, drifted.features_matrix(), drifted.target_values(), "classification"
    )

    assert on_drifted["roc_auc"] < trained.metrics["roc_auc"]


def test_write_model_records_artifact_digest_schema_and_lineage(tmp_path: Path) -> None:
    trained = train(
        generate_churn(),
        TrainingSpec(name="churn", version="v7", parent_version="v6", data_uri="s3://b/d.csv"),
    )

    manifest = write_model(trained, tmp_path / "m")

    on_disk = read_manifest_dir(tmp_path / "m")
    assert on_disk == manifest
    assert manifest.version == "v7"
    assert manifest.parent_version == "v6"
    assert manifest.training_data.uri == "s3://b/d.csv"
    assert manifest.artifact.size_bytes == (tmp_path / "m" / "model.joblib").stat().st_size
    assert manifest.classes == (0, 1)
    contract = next(f for f in manifest.features if f.name == "contract")
    assert contract.categories == ("month_to_month", "one_year", "two_year")
    assert manifest.profile["monthly_charges"].kind == "numeric"
    assert abs(sum(manifest.profile["contract"].fractions.values()) - 1) < 1e-9  # type: ignore[union-attr]
    assert not list((tmp_path / "m").glob("*.partial"))


def test_write_model_refuses_to_overwrite(tmp_path: Path) -> None:
    trained = train(generate_churn(n_rows=500), TrainingSpec(name="churn"))
    write_model(trained, tmp_path / "m")
    before = (tmp_path / "m" / "model.joblib").read_bytes()

    with pytest.raises(TrainingError, match="already holds a model"):
        write_model(trained, tmp_path / "m")

    assert (tmp_path / "m" / "model.joblib").read_bytes() == before


def test_csv_round_trip_keeps_kinds_and_values(tmp_path: Path) -> None:
    table = generate_churn(n_rows=200)
    path = tmp_path / "churn.csv"
    write_csv(table, path)

    loaded = read_csv(path, target="churned")

    assert loaded.kinds == table.kinds
    assert np.allclose(loaded.columns["monthly_charges"], table.columns["monthly_charges"])
    assert list(loaded.columns["contract"]) == list(table.columns["contract"])
    assert table_to_csv_bytes(table) == path.read_bytes()


def test_any_csv_with_a_declared_target_trains(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines = ["size,colour,label"]
    for _ in range(300):
        size = rng.uniform(0, 10)
        colour = rng.choice(["red", "blue"])
        label = "big" if size + (colour == "red") * 2 + rng.normal() > 6 else "small"
        lines.append(f"{size:.3f},{colour},{label}")
    path = tmp_path / "custom.csv"
    path.write_text("\n".join(lines))

    trained = train(read_csv(path, target="label"), TrainingSpec(name="custom"))

    assert trained.classes == ("big", "small")
    assert trained.metrics["roc_auc"] > 0.8


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("a,b,churned\n", "no rows"),
        ("a,b\n1,2\n", "target column 'churned'"),
        ("a,b,churned\n1,2\n", "line 2 has 2 fields"),
        ("a,b,churned\n1,x,0\n2,y,\n", "target column has empty values"),
    ],
)
def test_bad_csv_is_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)

    with pytest.raises(DatasetError, match=message):
        read_csv(path, target="churned")


def test_declared_numeric_column_with_text_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,churned\n1,0\nabc,1\n")

    with pytest.raises(DatasetError, match="column 'a' is numeric but line 3"):
        read_csv(path, target="churned", numeric=["a"])


def test_single_class_target_is_refused() -> None:
    table = generate_churn(n_rows=100)
    table.columns["churned"][:] = 0

    with pytest.raises(TrainingError, match="single class"):
        train(table, TrainingSpec(name="churn"))


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(TrainingError, match="unknown algorithm"):
        train(generate_churn(n_rows=100), TrainingSpec(name="churn", algorithm="deep_magic"))


def test_broken_manifest_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "x"}))

    with pytest.raises(InvalidManifest, match="not a valid manifest"):
        read_manifest_dir(tmp_path)


def test_the_cdk_app_knows_every_training_algorithm() -> None:
    from modelship import names
    from modelship.training.training import ALGORITHMS

    assert set(names.TRAINING_ALGORITHMS) == set(ALGORITHMS)
