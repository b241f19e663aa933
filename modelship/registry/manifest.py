"""The manifest beside every model artifact: what it is, how it was made, what it expects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelship.errors import InvalidManifest
from modelship.names import MODEL_MANIFEST_FILE

FeatureKind = Literal["numeric", "categorical"]
Task = Literal["classification", "regression"]


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


class RuntimeInfo(BaseModel):
    """Library versions the artifact was pickled with; loading requires the same scikit-learn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str
    sklearn: str
    numpy: str
    joblib: str


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str
    etag: str | None = None
    rows: int = Field(ge=1)
    target: str
    holdout_fraction: float = Field(gt=0, lt=1)
    seed: int


class NumericProfile(BaseModel):
    """Training distribution of a numeric feature, for drift checks (PSI over the bins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["numeric"] = "numeric"
    count: int
    mean: float
    std: float
    min: float
    max: float
    bin_edges: tuple[float, ...]
    bin_fractions: tuple[float, ...]


class CategoricalProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["categorical"] = "categorical"
    count: int
    fractions: dict[str, float]


class EstimatorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str
    params: dict[str, float | int | str | bool | None]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1] = 1
    name: str
    version: str
    created_at: datetime
    task: Task
    classes: tuple[int | str, ...] | None = None
    features: tuple[FeatureSpec, ...] = Field(min_length=1)
    artifact: ArtifactInfo
    runtime: RuntimeInfo
    estimator: EstimatorInfo
    metrics: dict[str, float]
    training_data: TrainingData
    parent_version: str | None = None
    profile: dict[str, NumericProfile | CategoricalProfile] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _classes_match_task(self) -> Manifest:
        if self.task == "classification" and not self.classes:
            raise ValueError("a classification manifest needs its classes")
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Manifest:
        return cls.model_validate_json(raw)


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
