"""Re-extract targets/tensorrt_llm/triton_io.json from a tensorrtllm_backend checkout.

    python conformance/extract_trtllm_tables.py BACKEND_GIT_DIR TAG > targets/tensorrt_llm/triton_io.json

Reads all_models/inflight_batcher_llm/{preprocessing,tensorrt_llm,postprocessing,ensemble}/config.pbtxt
at TAG (`git show TAG:path`), replaces every ${placeholder} with a sentinel, parses the
result with Triton's own ModelConfig message (tritonclient) and keeps only the tensor
interface (input, output), the ensemble steps and the names of the parameters each template
offers: the names, types and shapes clients and the Python models rely on. Everything deployc decides (batch sizes, parameters, instance
groups) is written by targets/tensorrt_llm/triton.py, not taken from the templates.
Needs tritonclient[grpc] (conformance/install_tensorrt_llm.sh installs it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

MODELS = ("preprocessing", "tensorrt_llm", "postprocessing", "ensemble")
# Placeholders that stand for a data type; the target fills them in (see triton.py).
TYPE_SENTINELS = {"logits_datatype": "TYPE_FP64", "encoder_input_features_data_type": "TYPE_BF16"}


def main(git_dir: str, tag: str) -> None:
    commit = subprocess.run(["git", "-C", git_dir, "rev-parse", f"{tag}^{{commit}}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    out: dict = {"source": f"triton-inference-server/tensorrtllm_backend {tag} (commit {commit}), "
                           "all_models/inflight_batcher_llm/*/config.pbtxt", "models": {}}
    for model in MODELS:
        text = subprocess.run(["git", "-C", git_dir, "show", f"{tag}:all_models/inflight_batcher_llm/{model}/config.pbtxt"],
                              check=True, capture_output=True, text=True).stdout
        for name, sentinel in TYPE_SENTINELS.items():
            assert sentinel not in text
            text = text.replace("${" + name + "}", sentinel)
        text = re.sub(r'"\$\{[a-z_]+\}"', '""', text)
        text = re.sub(r"\$\{[a-z_]+\}", "1", text)
        msg = model_config_pb2.ModelConfig()
        text_format.Parse(text, msg)
        data = json_format.MessageToDict(msg, preserving_proto_field_name=True)
        keep = {k: data[k] for k in ("input", "output", "ensemble_scheduling") if k in data}
        if "parameters" in data:  # the parameter names the template offers (values are deployc's)
            keep["parameter_keys"] = sorted(data["parameters"])
        blob = json.dumps(keep)
        for name, sentinel in TYPE_SENTINELS.items():
            blob = blob.replace(f'"{sentinel}"', f'"@{name}"')
        out["models"][model] = json.loads(blob)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
