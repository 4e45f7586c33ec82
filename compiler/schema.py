"""The JSON Schema of deploy.yaml, generated from the pydantic models.

`targets` gets one property per registered target, each the schema of that
target's options model, so editors complete target knobs too.
"""

from __future__ import annotations

import json
from typing import Any

from deployc.compiler.registry import Registry
from deployc.compiler.spec import Spec

SCHEMA_ID = "https://deployc.dev/schemas/deploy.schema.json"


def build_schema(registry: Registry) -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    defs = schema.setdefault("$defs", {})
    props: dict[str, Any] = {}
    for name in registry.names:
        target, _ = registry.load(name)
        if target is None:
            continue
        sub = target.options.model_json_schema(mode="validation")
        for key, value in sub.pop("$defs", {}).items():
            defs.setdefault(key, value)
        sub["title"] = f"{target.title} options"
        sub["description"] = f"Options of the {name} target ({target.title} {', '.join(target.versions)})."
        props[name] = sub
    targets = schema["properties"]["targets"]
    targets.pop("additionalProperties", None)
    targets["properties"] = props
    targets["additionalProperties"] = False
    targets["type"] = ["object", "null"]   # `targets:` with every entry commented out: none yet
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "deploy.yaml (deployc/v1)",
        "description": "One reviewed file in, correct serving artifacts for every major LLM engine out.",
    }


def schema_text(registry: Registry) -> str:
    return json.dumps(build_schema(registry), indent=2, ensure_ascii=False) + "\n"
