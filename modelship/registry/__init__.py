"""The model registry: immutable model versions in S3 under `models/<name>/<version>/`, each a
`model.joblib` or `model.skops` (and the model's own `code.zip`, if it has one) beside the
`manifest.json` that says what it is, how it was made and what it expects (`manifest`), and
the model card a person reads (`card`: card.md and card.html, its limitations derived in
`card_facts`, written out by `card_document`); publishing is write-once (`registry`); version
ids sort by time (`versions`). Every other domain reads models through these names; this
package imports nothing of modelship but `names`, `errors` and `digest`. The card's names
load on first use: the predict function reads manifests and never renders a card.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from modelship.registry.card import CardContext, ChampionRecord, GateRecord, ModelCard

_CARD_NAMES = ("CardContext", "ChampionRecord", "GateRecord", "ModelCard")

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


def __getattr__(name: str) -> Any:
    if name not in _CARD_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("modelship.registry.card"), name)
