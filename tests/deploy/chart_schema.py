"""The `config` part of the chart's values.schema.json, derived from the satellite's config model.

The chart takes the satellite's config file as `config` (minus what the chart fills in itself), so
its schema is the config model's JSON Schema, inlined (no $refs), with these changes:

- the chart-managed keys are removed: the secrets (read from the mounted Secret), data_dir (the
  pod's volume), shard (from replicaCount and the pod ordinal) and http (the container port);
- the top-level sections, `satellite` and `encryption` require nothing and their strings and the
  integration list may be empty, so the chart renders with its defaults (the satellite itself
  lists what is missing when it starts, NOTES.txt too); an integration still needs id and url;
- `format` is dropped (validators differ in asserting it); dates get a YYYY-MM-DD pattern and
  URLs (`format: uri`: the endpoint, integration URLs, proxies) an http(s) URL pattern, or a
  ${env:...}/${file:...} reference; the endpoint and the proxies may be empty here.

The Kubernetes objects the values take as they are (extraVolumes, extraVolumeMounts, extraEnv,
initContainers, sidecars, affinity, topologySpreadConstraints) are checked against Kubernetes'
own schemas of the oldest version the chart supports (Chart.yaml kubeVersion), copied from
kubernetes-validate into `definitions` (io.k8s.*) without descriptions.

    python -m tests.deploy.chart_schema          # exit 1 when values.schema.json is out of date
    python -m tests.deploy.chart_schema --write  # rewrite its `config` part and k8s definitions

tests/deploy/test_chart.py fails when a config key was added or changed without this update.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from satellite.config import config_json_schema

__all__ = ["CHART_MANAGED", "K8S_TYPES", "K8S_VERSION", "SCHEMA_PATH", "URL_PATTERN", "config_values_schema",
           "k8s_definitions", "main"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "helm" / "sei-satellite" / "values.schema.json"

# Key paths ("[]" = any list item) that the chart writes itself.
CHART_MANAGED = {
    ("satellite", "api_key"),
    ("satellite", "data_dir"),
    ("satellite", "shard"),
    ("satellite", "http"),  # listen: 0.0.0.0:<containerPorts.http>, where the probes and the Service go
    ("satellite", "encryption", "signing_private_key"),
    ("satellite", "encryption", "recipient_public_key"),
    ("integrations", "[]", "pat"),
}
# Placeholders of values.yaml that must pass although the model would reject them.
_MAY_BE_EMPTY = {("satellite", "id"), ("satellite", "endpoint"), ("satellite", "proxy"), ("integrations", "[]", "proxy")}
# An http(s) URL without spaces, query or fragment (as the config loader takes it), or a reference.
URL_PATTERN = r"^(https?://[^\s/?#]+(/[^\s?#]*)?|\$\{(env|file):[^}]+\})$"
# Kubernetes objects taken as they are, checked against Kubernetes' schemas of this version.
K8S_VERSION = "1.25.0"
K8S_TYPES = ("Container", "Volume", "VolumeMount", "EnvVar", "Affinity", "TopologySpreadConstraint")
_K8S_PREFIX = "io.k8s."
# Objects whose required keys values.yaml leaves empty; list items (an integration, a recipient
# key) keep theirs, since the default lists are empty.
_OPTIONAL_HERE = {(), ("satellite",), ("satellite", "encryption")}
_DROP = {"title", "default", "minLength", "writeOnly", "examples"}


def _inline(node: Any, defs: dict[str, Any], path: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, path) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs, path)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key == "$defs" or key == "$schema":
            continue
        if key == "required":
            kept = [name for name in value if (*path, name) not in CHART_MANAGED]
            if kept and path not in _OPTIONAL_HERE:
                out[key] = kept
            continue
        if key == "format":
            if value == "date":
                out["pattern"] = r"^\d{4}-\d{2}-\d{2}$"
            elif value == "uri":
                out["pattern"] = URL_PATTERN
            continue
        if key == "properties":
            out[key] = {
                name: _inline(sub, defs, (*path, name))
                for name, sub in value.items()
                if (*path, name) not in CHART_MANAGED
            }
        elif key == "items":
            out[key] = _inline(value, defs, (*path, "[]"))
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [_inline(item, defs, path) for item in value]
        else:
            out[key] = _inline(value, defs, path)
    if path == ("integrations",):
        out.pop("minItems", None)
    if path in _MAY_BE_EMPTY:
        out = {"anyOf": [{"const": ""}, out], **({"description": out.pop("description")} if "description" in out else {})}
    return out


def config_values_schema() -> dict[str, Any]:
    """The schema of the chart's `config` value."""
    model = config_json_schema()
    schema = _inline(model, model.get("$defs", {}), ())
    schema["description"] = (
        "The satellite's config file (config/satellite.example.yml) without the keys the chart fills in: "
        "secrets, data_dir and shard."
    )
    return schema


def _k8s_node(node: Any) -> Any:
    if isinstance(node, list):
        return [_k8s_node(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "format") or key.startswith("x-kubernetes-"):
            continue
        if key == "$ref":
            out[key] = "#/definitions/" + value.rsplit("/", 1)[1]
        elif key == "properties":
            out[key] = {name: _k8s_node(sub) for name, sub in value.items()}
        else:
            out[key] = _k8s_node(value)
    return out


def k8s_definitions() -> dict[str, Any]:
    """Kubernetes' own schemas (strict) of K8S_TYPES and what they refer to, keyed by full name."""
    import kubernetes_validate

    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{K8S_VERSION}-local-strict"
    every = json.loads((source / "_definitions.json").read_text())["$defs"]
    wanted, seen = [f"io.k8s.api.core.v1.{t}" for t in K8S_TYPES], set()
    while wanted:
        name = wanted.pop()
        if name not in seen:
            seen.add(name)
            wanted += re.findall(r'"\$ref": "[^"]*/([^"/]+)"', json.dumps(every[name]))
    return {name: _k8s_node(every[name]) for name in sorted(seen)}


def _updated(current: dict[str, Any]) -> dict[str, Any]:
    definitions = {k: v for k, v in current["definitions"].items() if not k.startswith(_K8S_PREFIX)}
    return {**current, "definitions": {**definitions, **k8s_definitions()},
            "properties": {**current["properties"], "config": config_values_schema()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite values.schema.json's config part and k8s definitions")
    args = parser.parse_args(argv)
    current = json.loads(SCHEMA_PATH.read_text())
    updated = _updated(current)
    if updated == current:
        print(f"{SCHEMA_PATH}: config part and k8s definitions up to date")
        return 0
    if args.write:
        SCHEMA_PATH.write_text(json.dumps(updated, indent=2) + "\n")
        print(f"{SCHEMA_PATH}: config part rewritten from the config model, k8s definitions from kubernetes-validate")
        return 0
    print(f"{SCHEMA_PATH}: config part or k8s definitions out of date; run: python -m tests.deploy.chart_schema --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
