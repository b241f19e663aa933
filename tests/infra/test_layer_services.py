"""The layer keeps only some botocore service models; every client the code creates needs one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _kept_services() -> set[str]:
    script = (ROOT / "layers" / "build_layer.sh").read_text()
    match = re.search(r"^BOTOCORE_SERVICES=\(([^)]*)\)", script, re.MULTILINE)
    assert match, "BOTOCORE_SERVICES not found in layers/build_layer.sh"
    return set(match.group(1).split())


# Code that never runs in a Lambda function: the command line (its `ssm` client reads the
# model directory on an operator's machine), the local emulator and the demo.
NOT_IN_LAMBDA = ("modelship/cli/", "modelship/local/", "modelship/demo")


def _used_services(*, in_lambda_only: bool = True) -> set[str]:
    used: set[str] = set()
    for path in [*ROOT.glob("functions/**/*.py"), *ROOT.glob("modelship/**/*.py")]:
        if in_lambda_only and path.relative_to(ROOT).as_posix().startswith(NOT_IN_LAMBDA):
            continue
        used |= set(re.findall(r"boto3\.client\(\s*\"([a-z0-9-]+)\"", path.read_text()))
    return used


def test_every_client_the_functions_create_has_its_service_model_in_the_layer() -> None:
    used = _used_services()

    assert {"s3", "lambda"} <= used  # the scan finds clients at all
    assert used <= _kept_services(), f"missing from the layer: {sorted(used - _kept_services())}"
    # What the exclusion hides is the operator's model-directory client only.
    assert _used_services(in_lambda_only=False) - _kept_services() == {"ssm"}


def test_no_lambda_entry_point_imports_the_command_line_or_the_emulator() -> None:
    for path in ROOT.glob("functions/**/*.py"):
        imports = re.findall(r"^\s*(?:from|import) (modelship\.\w+)", path.read_text(), re.M)
        assert not {"modelship.cli", "modelship.local", "modelship.demo"} & set(imports), path


def test_xray_is_kept_for_the_powertools_tracer() -> None:
    assert "xray" in _kept_services()


def test_deploy_doc_names_the_service_models_the_layer_keeps() -> None:
    text = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    match = re.search(
        r"Only the botocore service models of the clients the functions create "
        r"are kept: ([a-z0-9, ]+?) \(",
        text,
    )
    assert match, "deploy.md no longer says which botocore models the layer keeps"
    named = set(re.split(r",\s*|\s+and\s+", match.group(1)))

    assert named == _kept_services()
