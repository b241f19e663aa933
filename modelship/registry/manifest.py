"""The manifest beside every model artifact: what it is, how it was made, what it expects."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelship.class_labels import LabelRule
from modelship.errors import InvalidManifest
from modelship.names import (
    MODEL_ARTIFACT_FILE,
    MODEL_MANIFEST_FILE,
    MODEL_SKOPS_FILE,
)

FeatureKind = Literal["numeric", "categorical"]
# predict_only: a model whose `predict` output is served as is (no classes, no probabilities).
Task = Literal["classification", "regression", "predict_only"]
# How the estimator takes its input: a numpy object matrix in feature order, or a pandas
# DataFrame with the fitted column names and dtypes (models fitted on DataFrames).
InputFormat = Literal["array", "dataframe"]
ArtifactFormat = Literal["joblib", "skops"]
# How a classifier's served labels are computed: "argmax" of predict_proba (one estimator
# call; right only for estimators whose predict is that argmax, such as the built-in
# algorithms), or the estimator's own "predict" (a second call: thresholded or custom
# classifiers, whose predict is not the most probable class).
ARTIFACT_FILES: dict[str, str] = {"joblib": MODEL_ARTIFACT_FILE, "skops": MODEL_SKOPS_FILE}


class FeatureSpec(BaseModel):
    """One input column, in the order the estimator expects it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: FeatureKind
    # numeric: "int" or "float"; categorical: "str"
    dtype: Literal["int", "float", "str"]
    categories: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    # Whether a row may send null (the model imputes): NaN for numbers, None for categories.
    nullable: bool = False
    # The pandas dtype of the column the model was fitted on (DataFrame models only), e.g.
    # "int64", "float64", "object", "str", "category"; the served DataFrame gets the same.
    frame_dtype: str | None = None

    @model_validator(mode="after")
    def _categories_only_for_categoricals(self) -> FeatureSpec:
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"categorical feature {self.name!r} needs its allowed categories")
        if self.kind == "numeric" and self.categories:
            raise ValueError(f"numeric feature {self.name!r} cannot list categories")
        return self


class ArtifactInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    format: ArtifactFormat = "joblib"
    # skops only: the types outside skops' defaults that packaging accepted by name; loading
    # trusts exactly these and refuses a file that needs any other.
    trusted_types: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _file_matches_format(self) -> ArtifactInfo:
        if self.file != ARTIFACT_FILES[self.format]:
            raise ValueError(
                f"a {self.format} artifact is stored as {ARTIFACT_FILES[self.format]}, "
                f"not {self.file!r}"
            )
        if self.trusted_types and self.format != "skops":
            raise ValueError("trusted_types applies to skops artifacts only")
        return self


class CodeInfo(BaseModel):
    """The model's own Python code (custom transformers, functions), zipped beside the
    artifact and put on the import path before unpickling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Literal["code.zip"] = "code.zip"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=1)
    # Top-level modules or packages the zip provides, e.g. ("churn_features",).
    modules: tuple[str, ...] = Field(min_length=1)


class RuntimeInfo(BaseModel):
    """Library versions the artifact was pickled with; loading requires the same scikit-learn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str
    sklearn: str
    numpy: str
    joblib: str
    scipy: str | None = None
    pandas: str | None = None


class TrainingData(BaseModel):
    """The data a model was trained (or, for a packaged model, checked and scored) on. A
    packaged model's sample may be unlabelled (no target) and has no holdout split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str
    etag: str | None = None
    rows: int = Field(ge=1)
    target: str | None
    holdout_fraction: float | None = Field(default=None, gt=0, lt=1)
    seed: int | None = None


PROFILE_QUANTILES = 101
# A numeric feature with at most this many distinct training values (a count, a flag) keeps
# its exact distribution: drift is judged per value, against its step CDF.
MAX_DISCRETE_VALUES = 20


class NumericProfile(BaseModel):
    """Training distribution of a numeric feature, for drift checks: PSI over the decile bins
    (or per value), the KS test against the CDF the quantiles (or values) give. Manifests
    written before the quantiles existed have none; their drift is judged by PSI alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["numeric"] = "numeric"
    count: int
    mean: float
    std: float
    min: float
    max: float
    bin_edges: tuple[float, ...]
    bin_fractions: tuple[float, ...]
    # The 0th..100th percentiles; the CDF is taken as linear between them.
    quantiles: tuple[float, ...] = ()
    # Discrete features only: each distinct value, ascending, and its share of the rows.
    values: tuple[float, ...] = ()
    value_fractions: tuple[float, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> NumericProfile:
        if len(self.bin_edges) != len(self.bin_fractions) + 1:
            raise ValueError("bin_edges must have one more entry than bin_fractions")
        if self.quantiles and len(self.quantiles) != PROFILE_QUANTILES:
            raise ValueError(f"quantiles must hold {PROFILE_QUANTILES} values (0th..100th)")
        if any(b < a for a, b in zip(self.quantiles, self.quantiles[1:], strict=False)):
            raise ValueError("quantiles must not decrease")
        if len(self.values) != len(self.value_fractions):
            raise ValueError("values and value_fractions must have the same length")
        if any(b <= a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ValueError("values must be distinct and ascending")
        return self


class CategoricalProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["categorical"] = "categorical"
    count: int
    fractions: dict[str, float]


class EstimatorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str
    params: dict[str, float | int | str | bool | None]
    # The fitted estimator's structure: {"class": "sklearn.pipeline.Pipeline", "params": {...},
    # "children": {"steps.0": {...}, ...}} with scalar params only (packaged models).
    tree: dict[str, Any] | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    name: str
    version: str
    created_at: datetime
    task: Task
    classes: tuple[int | str, ...] | None = None
    labels: LabelRule = "argmax"
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    input_format: InputFormat = "array"
    artifact: ArtifactInfo
    code: CodeInfo | None = None
    runtime: RuntimeInfo
    # "trained": `modelship train` or the retraining pipeline; "packaged": fitted elsewhere.
    origin: Literal["trained", "packaged"] = "trained"
    estimator: EstimatorInfo
    metrics: dict[str, float]
    training_data: TrainingData
    parent_version: str | None = None
    profile: dict[str, NumericProfile | CategoricalProfile] = Field(default_factory=dict)
    # What the model answered on its training data (classification: the served labels as
    # str; single-output regression: the numbers); None for older manifests and other tasks.
    prediction_profile: NumericProfile | CategoricalProfile | None = None

    @model_validator(mode="after")
    def _classes_match_task(self) -> Manifest:
        if self.task == "classification" and not self.classes:
            raise ValueError("a classification manifest needs its classes")
        if self.task != "classification" and self.classes:
            raise ValueError(f"a {self.task} manifest cannot list classes")
        if self.task != "classification" and self.labels != "argmax":
            raise ValueError("labels applies to classification manifests only")
        if self.input_format == "array" and any(f.frame_dtype for f in self.features):
            raise ValueError("frame_dtype applies to dataframe models only")
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> str:
        """Indented JSON, with each list of numbers on one line: a numeric feature's profile
        holds about 130 numbers, which one per line would make most of the file."""
        return _NUMBER_LIST.sub(_one_line, self.model_dump_json(indent=2))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Manifest:
        return cls.model_validate_json(raw)


# A JSON list of numbers laid out one per line (no string holds a raw newline, so this never
# matches inside one).
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NUMBER_LIST = re.compile(rf"\[\n\s*{_NUMBER}(?:,\n\s*{_NUMBER})*\n\s*\]")


def _one_line(match: re.Match[str]) -> str:
    return "[" + " ".join(match.group(0)[1:-1].split()) + "]"


def read_manifest_dir(model_dir: Path) -> Manifest:
    """The manifest of a model directory written by `modelship train`."""
    path = model_dir / MODEL_MANIFEST_FILE
    if not path.is_file():
        raise InvalidManifest(f"{model_dir} has no {MODEL_MANIFEST_FILE}")
    try:
        return Manifest.from_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise InvalidManifest(f"{path} is not a valid manifest: {where}: {first['msg']}") from None


def copy_as_version(model_dir: Path, out: Path, version: str) -> Path:
    """A copy of a model directory whose manifest names another version id (the artifact,
    and so its sha256, unchanged): the same model published again under a new version."""
    import shutil

    shutil.copytree(model_dir, out)
    manifest = read_manifest_dir(out).model_copy(update={"version": version})
    (out / MODEL_MANIFEST_FILE).write_text(manifest.to_json())
    return out
