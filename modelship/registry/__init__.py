"""The model registry: immutable model versions in S3 under `models/<name>/<version>/`, each a
`model.joblib` or `model.skops` (and the model's own `code.zip`, if it has one) beside the
`manifest.json` that says what it is, how it was made and what it expects (`manifest`), and
the model card a person reads (`card`: card.md and card.html, its limitations derived in
`card_facts`, written out by `card_document`); publishing is write-once (`registry`); version
ids sort by time (`versions`). Every other
domain reads models through these names; this package imports nothing of modelship but
`names`, `errors` and `digest`.
"""

from modelship.registry.card import CardContext, ChampionRecord, GateRecord, ModelCard
from modelship.registry.manifest import (
    ARTIFACT_FILES,
    ArtifactFormat,
    CodeInfo,
    FeatureKind,
    FeatureSpec,
    InputFormat,
    Manifest,
    ModelDescription,
    Task,
    copy_as_version,
    read_manifest_dir,
)
from modelship.registry.registry import (
    LATEST,
    Registry,
    VersionEntry,
    artifact_key,
    card_key,
    code_key,
    manifest_key,
    version_prefix,
)
from modelship.registry.versions import check_model_name, check_version_id, new_version_id

__all__ = [
    "ARTIFACT_FILES",
    "LATEST",
    "ArtifactFormat",
    "CardContext",
    "ChampionRecord",
    "CodeInfo",
    "FeatureKind",
    "FeatureSpec",
    "GateRecord",
    "InputFormat",
    "Manifest",
    "ModelCard",
    "ModelDescription",
    "Registry",
    "Task",
    "VersionEntry",
    "artifact_key",
    "card_key",
    "check_model_name",
    "check_version_id",
    "code_key",
    "copy_as_version",
    "manifest_key",
    "new_version_id",
    "read_manifest_dir",
    "version_prefix",
]
