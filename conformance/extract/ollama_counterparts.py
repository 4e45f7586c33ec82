#!/usr/bin/env python3
"""targets/ollama/counterparts.json: hub ids whose weights Ollama can pull in another form.

Two kinds of rows, each with its source:
- "gguf": a Hugging Face repo of single-file GGUF quantizations of the checkpoint, and the quantization
  types it holds. Read from XInference's built-in registry in an xinference wheel (one model family per
  file under xinference/model/llm/models/): a family's ggufv2 spec of the same size as its one pytorch
  spec, whose huggingface source is one file per quantization (no split parts), and whose repo name
  contains the checkpoint's own name (which drops the registry's few cross-size or base-vs-chat
  pairings). Ollama pulls such a repo as hf.co/<org>/<repo>:<QUANT>
  (https://huggingface.co/docs/hub/ollama; the quantization tag is matched case-insensitively).
- "library": a model of the Ollama library (https://ollama.com/library/<name>), kept by hand in
  LIBRARY below with the page that lists the tag.

    pip download --no-deps xinference==4.1.0 -d /tmp/xw && unzip -q /tmp/xw/xinference-4.1.0-*.whl -d /tmp/xw/site
    python conformance/extract/ollama_counterparts.py --site /tmp/xw/site --wheel /tmp/xw/xinference-4.1.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "targets/ollama/counterparts.json"

# hub id -> Ollama library model:tag (the tag's page lists it)
LIBRARY = {
    "meta-llama/Llama-3.2-1B-Instruct": "llama3.2:1b",
    "meta-llama/Llama-3.2-3B-Instruct": "llama3.2:3b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama3.1:8b",
    "meta-llama/Llama-3.1-70B-Instruct": "llama3.1:70b",
    "meta-llama/Llama-3.1-405B-Instruct": "llama3.1:405b",
    "meta-llama/Llama-3.3-70B-Instruct": "llama3.3:70b",
    **{f"Qwen/Qwen2.5-{s}-Instruct": f"qwen2.5:{s.lower()}" for s in ("0.5B", "1.5B", "3B", "7B", "14B", "32B", "72B")},
    **{f"Qwen/Qwen3-{s}": f"qwen3:{s.lower()}" for s in ("0.6B", "1.7B", "4B", "8B", "14B", "32B")},
    "Qwen/Qwen3-30B-A3B": "qwen3:30b",
    "Qwen/Qwen3-235B-A22B": "qwen3:235b",
    **{f"google/gemma-2-{s}-it": f"gemma2:{s}" for s in ("2b", "9b", "27b")},
    **{f"google/gemma-3-{s}-it": f"gemma3:{s}" for s in ("1b", "4b", "12b", "27b")},
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral:7b",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral:8x7b",
    "microsoft/Phi-3-mini-4k-instruct": "phi3:3.8b",
    "microsoft/phi-4": "phi4:14b",
    "openai/gpt-oss-20b": "gpt-oss:20b",
    "openai/gpt-oss-120b": "gpt-oss:120b",
    "deepseek-ai/DeepSeek-R1": "deepseek-r1:671b",
    "deepseek-ai/DeepSeek-V3": "deepseek-v3:671b",
}


def gguf_rows(site: Path) -> tuple[dict[str, dict], dict[str, str]]:
    rows: dict[str, dict] = {}
    files: dict[str, str] = {}
    for path in sorted((site / "xinference/model/llm/models").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        rel = str(path.relative_to(site))
        for family in data if isinstance(data, list) else [data]:
            specs = family["model_specs"]
            for s in specs:
                hub = s.get("model_src", {}).get("huggingface")
                if s["model_format"] != "ggufv2" or not hub or hub.get("quantization_parts") \
                        or hub.get("model_file_name_split_template"):
                    continue
                bases = [b["model_src"]["huggingface"]["model_id"] for b in specs
                         if b["model_format"] == "pytorch" and b["model_size_in_billions"] == s["model_size_in_billions"]
                         and "huggingface" in b.get("model_src", {})]
                if len(bases) != 1:
                    continue
                base, repo = bases[0], hub["model_id"]
                if base.rsplit("/", 1)[-1].lower() not in repo.rsplit("/", 1)[-1].lower() or base.lower() in rows:
                    continue
                rows[base.lower()] = {"hub": base, "gguf": repo, "quantizations": hub["quantizations"],
                                      "source": f"{rel} ({family['model_name']})"}
                files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return rows, files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, required=True, help="an unpacked xinference wheel")
    ap.add_argument("--wheel", type=Path, required=True, help="that wheel, for its name and sha256")
    args = ap.parse_args()
    rows, files = gguf_rows(args.site)
    for hub, name in LIBRARY.items():
        row = rows.setdefault(hub.lower(), {"hub": hub})
        row["library"] = name
        row["library_source"] = f"https://ollama.com/library/{name.split(':')[0]}"
    data = {
        "about": "Hub ids with an Ollama counterpart: gguf (a Hugging Face repo of single-file GGUF quantizations, "
                 "FROM hf.co/<repo>:<QUANT>) and/or library (FROM <model>:<tag>). Written by "
                 "conformance/extract/ollama_counterparts.py.",
        "gguf_source": {"wheel": args.wheel.name, "sha256": hashlib.sha256(args.wheel.read_bytes()).hexdigest(),
                        "file_sha256": dict(sorted(files.items()))},
        "models": [rows[k] for k in sorted(rows)],
    }
    lines = json.dumps({k: v for k, v in data.items() if k != "models"}, indent=1, sort_keys=True)[:-2]
    body = ",\n".join("  " + json.dumps(r, sort_keys=True) for r in data["models"])
    OUT.write_text(lines + ',\n "models": [\n' + body + "\n ]\n}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
