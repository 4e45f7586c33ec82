"""Parse config.pbtxt files with Triton's own ModelConfig message (tritonclient's model_config_pb2).

    <DEST>/tritonclient/bin/python conformance/pbtxt_probe.py FILE...

Prints a JSON list, one item per file: {"path", "ok", "error" (text_format.ParseError with
line:col), "config" (the parsed message as JSON, proto field names)}. Exits 1 if any file fails.
"""

from __future__ import annotations

import json
import sys

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2


def parse(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            message = text_format.Parse(f.read(), model_config_pb2.ModelConfig())
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        return {"path": path, "ok": False, "error": str(exc), "config": None}
    return {"path": path, "ok": True, "error": None,
            "config": json_format.MessageToDict(message, preserving_proto_field_name=True)}


def main(paths: list[str]) -> int:
    results = [parse(p) for p in paths]
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
