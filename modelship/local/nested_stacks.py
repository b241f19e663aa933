"""Nested stacks folded into their parent: one resource set for the checks, IAM and the
provisioners.

CDK writes each `NestedStack` as an `AWS::CloudFormation::Stack` resource whose TemplateURL
points at an asset; the template itself sits in cdk.out (`aws:asset:path` metadata when the
CDK CLI synthesized it, else the parent's `<stack>.assets.json` maps the URL's object key to
the file). `flatten` replaces every such resource with the resources of its template: each
logical id gets the nested stack's prefix (kept unique), the nested template's Parameters
become the values the parent passes, and the parent's `Fn::GetAtt [<nested>, Outputs.<x>]`
becomes the output's value. Each folded resource names its nested stack in its Metadata
(NESTED_STACK_METADATA: the nested stacks' logical ids from the top, joined by "/").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from modelship.local.deployment import UnsupportedResource

NESTED_STACK = "AWS::CloudFormation::Stack"
NESTED_STACK_METADATA = "modelship:nested-stack"
_ASSET_PATH_METADATA = "aws:asset:path"
_CDK_HASH = re.compile(r"[0-9A-F]{8}$")
# CDK's logical id of `NestedStack(stack, "X")`: XNestedStackXNestedStackResource<hash>.
_CDK_NESTED_ID = re.compile(r"(?P<id>[A-Za-z0-9]+)NestedStack(?P=id)NestedStackResource")
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")
# Template sections the emulator cannot fold in (it resolves no conditions or mappings).
_UNSUPPORTED_SECTIONS = ("Conditions", "Mappings", "Rules")

Expression = Any
Rename = Callable[[str], Expression]


def flatten(template: Mapping[str, Any], template_path: Path) -> dict[str, Any]:
    """`template` (read from `template_path` in cdk.out) with every nested stack, at any
    depth, replaced by its resources."""
    cdk_out = template_path.parent
    assets = _assets(cdk_out, template_path.name.removesuffix(".template.json"))
    return _flatten(template, cdk_out, assets, path=template_path.name)


def _flatten(
    template: Mapping[str, Any], cdk_out: Path, assets: Mapping[str, str], path: str
) -> dict[str, Any]:
    resources: dict[str, Any] = dict(template.get("Resources", {}))
    nested = {lid: r for lid, r in resources.items() if r.get("Type") == NESTED_STACK}
    if not nested:
        return dict(template)
    folded: dict[str, dict[str, Any]] = {}  # nested logical id -> its resources, renamed
    outputs: dict[str, Any] = {}  # "<nested>.Outputs.<name>" -> value in parent's ids
    taken = set(resources) - set(nested)
    for logical, resource in nested.items():
        child_path = nested_template_path(cdk_out, assets, logical, resource)
        child = _flatten(json.loads(child_path.read_text()), cdk_out, assets, child_path.name)
        for section in _UNSUPPORTED_SECTIONS:
            if child.get(section):
                raise UnsupportedResource(
                    f"nested stack {logical} ({child_path.name}) has {section}: the local "
                    "emulator resolves no conditions, mappings or rules"
                )
        prefix = _prefix(logical, child.get("Resources", {}), taken)
        passed = (resource.get("Properties") or {}).get("Parameters") or {}
        missing = sorted(set(child.get("Parameters", {})) - set(passed))
        if missing:
            raise UnsupportedResource(
                f"nested stack {logical} ({child_path.name}) gets no value for its "
                f"parameters {missing}: the local emulator has no parameter defaults"
            )
        renamed = _renamer(prefix, set(child.get("Resources", {})), passed)
        stack_depends = _as_list(resource.get("DependsOn"))
        stack_resources = {}
        for child_logical, child_resource in child.get("Resources", {}).items():
            copy = {k: _rewrite(v, renamed) for k, v in child_resource.items()}
            own = [prefix + d for d in _as_list(child_resource.get("DependsOn"))]
            copy.pop("DependsOn", None)
            if own or stack_depends:
                copy["DependsOn"] = own + stack_depends
            metadata = child_resource.get("Metadata") or {}
            inner = metadata.get(NESTED_STACK_METADATA)
            copy["Metadata"] = {
                **metadata,
                NESTED_STACK_METADATA: f"{logical}/{inner}" if inner else logical,
            }
            stack_resources[prefix + child_logical] = copy
        taken |= set(stack_resources)
        folded[logical] = stack_resources
        for name, output in (child.get("Outputs") or {}).items():
            outputs[f"{logical}.Outputs.{name}"] = _rewrite(output["Value"], renamed)

    def parent_rename(name: str) -> Expression:
        if name in outputs:
            # An output may pass on another nested stack's output (through a parameter).
            return _rewrite(outputs[name], parent_rename)
        head = name.split(".", 1)[0]
        if head in nested:
            raise UnsupportedResource(
                f"{path}: `{name}` of nested stack {head}: the local emulator resolves only "
                "the Outputs of a nested stack"
            )
        return None

    flat: dict[str, Any] = {}
    for logical, resource in resources.items():
        if logical in nested:
            flat.update({lid: _rewrite(r, parent_rename) for lid, r in folded[logical].items()})
            continue
        copy = {k: _rewrite(v, parent_rename) for k, v in resource.items()}
        depends = []
        for dependency in _as_list(resource.get("DependsOn")):
            depends += sorted(folded[dependency]) if dependency in folded else [dependency]
        if depends:
            copy["DependsOn"] = depends
        flat[logical] = copy
    result = {**template, "Resources": flat}
    if "Outputs" in template:
        result["Outputs"] = _rewrite(template["Outputs"], parent_rename)
    return result


def nested_template_path(
    cdk_out: Path, assets: Mapping[str, str], logical: str, resource: Mapping[str, Any]
) -> Path:
    """The file in cdk.out holding the template of the nested stack `logical`."""
    metadata_path = (resource.get("Metadata") or {}).get(_ASSET_PATH_METADATA)
    if metadata_path and (cdk_out / metadata_path).is_file():
        return cdk_out / str(metadata_path)
    key = _object_key((resource.get("Properties") or {}).get("TemplateURL"))
    source = assets.get(key or "")
    if source and (cdk_out / source).is_file():
        return cdk_out / source
    raise UnsupportedResource(
        f"nested stack {logical}: its template (TemplateURL object key {key!r}) is not a file "
        f"in {cdk_out} named by `aws:asset:path` or the stack's assets manifest: run "
        "`make synth` again"
    )


def _assets(cdk_out: Path, stack: str) -> dict[str, str]:
    """Object key -> file in cdk.out, from `<stack>.assets.json` (empty without one)."""
    manifest = cdk_out / f"{stack}.assets.json"
    if not manifest.is_file():
        return {}
    files = json.loads(manifest.read_text()).get("files", {})
    found = {}
    for entry in files.values():
        source = (entry.get("source") or {}).get("path")
        for destination in (entry.get("destinations") or {}).values():
            if source and destination.get("objectKey"):
                found[str(destination["objectKey"])] = str(source)
    return found


def _object_key(url: Any) -> str | None:
    """The object key at the end of a TemplateURL (a string or CDK's Fn::Join)."""
    if isinstance(url, str):
        return url.rsplit("/", 1)[-1]
    if isinstance(url, dict) and "Fn::Join" in url:
        parts = url["Fn::Join"][1]
        if parts and isinstance(parts[-1], str):
            return parts[-1].rsplit("/", 1)[-1]
    return None


def _prefix(logical: str, child: Mapping[str, Any], taken: set[str]) -> str:
    """The nested stack's construct id when CDK's id shows it (ModelChurnForestNestedStack
    ModelChurnForestNestedStackResource1A2B3C4D -> ModelChurnForest), else its whole logical
    id; either way no folded id may equal an id already there."""
    short = _CDK_NESTED_ID.fullmatch(_CDK_HASH.sub("", logical))
    for prefix in ([short["id"]] if short else []) + [logical]:
        if not {prefix + lid for lid in child} & taken:
            return prefix
    raise UnsupportedResource(f"nested stack {logical}: its logical ids collide with the parent's")


def _renamer(prefix: str, local: set[str], parameters: Mapping[str, Any]) -> Rename:
    """Maps a Ref / GetAtt target inside the nested template to the parent's expression:
    a local resource gets the prefix, a parameter becomes the value the parent passes."""

    def rename(name: str) -> Expression:
        head, dot, rest = name.partition(".")
        if head in local:
            return {"Ref": prefix + head} if not dot else {"Fn::GetAtt": [prefix + head, rest]}
        if not dot and name in parameters:
            return parameters[name]
        return None

    return rename


def _rewrite(value: Any, rename: Rename) -> Any:
    """`value` with every Ref, Fn::GetAtt and Fn::Sub variable that `rename` knows replaced
    by its expression (None: left as it is, e.g. pseudo parameters)."""
    if isinstance(value, list):
        return [_rewrite(item, rename) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            replaced = rename(arg)
            return value if replaced is None else replaced
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            replaced = rename(f"{logical}.{attribute}")
            return value if replaced is None else replaced
        if key == "Fn::Sub":
            return {"Fn::Sub": _rewrite_sub(arg, rename)}
    return {k: _rewrite(v, rename) for k, v in value.items()}


def _rewrite_sub(arg: Any, rename: Rename) -> Any:
    """A Fn::Sub whose `${name}` variables that `rename` knows become explicit variables."""
    text, variables = (arg, {}) if isinstance(arg, str) else arg
    variables = {k: _rewrite(v, rename) for k, v in variables.items()}
    added = dict(variables)
    for name in _SUB_NAME.findall(text):
        if name in variables:
            continue
        replaced = rename(name)
        if replaced is not None:
            variable = re.sub(r"[^A-Za-z0-9]", "", name) + "Folded"
            text = text.replace("${" + name + "}", "${" + variable + "}")
            added[variable] = replaced
    return [text, added] if added else text


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
