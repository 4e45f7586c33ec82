#!/usr/bin/env python3
"""Validate Compose documents against the Compose specification's own JSON Schema, with jsonschema.

Runs under DEST/compose-schema/bin/python (conformance/install_tgi.sh). The schema is
compose-spec.json as vendored by the PyPI package check-jsonschema (pinned there; its
sha256 is checked here), validated with the `jsonschema` package's validator for the
schema's declared draft (2020-12), format checks on.

    echo '[{"id": "a", "document": {...}}]' | python conformance/compose_schema_probe.py

Prints JSON: {"schema": path, "sha256": ..., "results": [{"id", "ok", "errors": [...]}]}.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
import sysconfig
from pathlib import Path

SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"  # check-jsonschema 0.39.0


def schema_path() -> Path:
    return (Path(sysconfig.get_paths()["purelib"]) / "check_jsonschema" / "builtin_schemas" / "vendor"
            / "compose-spec.json")


def main() -> int:
    import jsonschema

    raw = schema_path().read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SCHEMA_SHA256:
        print(f"compose-spec.json sha256 {digest} is not the pinned {SCHEMA_SHA256}", file=sys.stderr)
        return 2
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    results = []
    for item in json.load(sys.stdin):
        errors = sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                        for e in validator.iter_errors(item["document"]))
        results.append({"id": item["id"], "ok": not errors, "errors": errors})
    json.dump({"schema": str(schema_path()), "sha256": digest, "validator": cls.__name__,
               "jsonschema": importlib.metadata.version("jsonschema"),
               "results": results}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
