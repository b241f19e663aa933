"""CDK entry point: `cdk synth` / `cdk deploy` from the repository root (see cdk.json)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python3 infra_cdk/app.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra_cdk.deployment import Deployment
from infra_cdk.function_source import REPO_ROOT
from infra_cdk.modelship_stack import ModelshipStack
from infra_cdk.settings import Settings, SettingsError


def layer_zip(settings: Settings, root: Path = REPO_ROOT) -> Path:
    """Where `make layer` writes the layer for this runtime and architecture."""
    return root / "layers" / "build" / f"{settings.runtime}-{settings.architecture}" / "layer.zip"


def build_app(app: App, layer_asset: Path | None = None) -> ModelshipStack:
    deployment = Deployment.from_context(app.node)
    settings = deployment.default.settings
    asset = layer_asset or layer_zip(settings)
    if not asset.exists():
        raise SettingsError(
            f"dependency layer {asset} is missing: run `make layer "
            f"ARCH={settings.architecture} RUNTIME={settings.runtime}` first"
        )
    stack = ModelshipStack(
        app,
        deployment.stack_name,
        deployment=deployment,
        layer_asset=asset,
    )
    # Every synth runs the AwsSolutions pack over the whole construct tree, nested stacks
    # included; an unacknowledged finding fails it.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def main() -> None:
    app = App()
    try:
        build_app(app)
    except SettingsError as exc:
        sys.exit(f"modelship: {exc}")
    app.synth()


if __name__ == "__main__":
    main()
