"""Append the vLLM 0.19.0 startups llm-d-planner published (H100 80GB SXM) to runs.json.

    python benchmarks/truth/import_llmd.py /path/to/llm-d-planner.git

Source: github.com/llm-d-incubation/llm-d-planner at commit d3121e059da88662db39a926a3ead964be97359b
("Add logs", 2026-04-22): accuracy/results/v0.19.0/results_raw.csv lists each sweep run and
accuracy/results/v0.19.0/logs/<run>.log is the engine's own startup log (DEBUG level, so it prints
the profiler's breakdown). The logs were removed from the repository two days later (2489dbbf), so
every link pins that commit. Only runs with status "ok" whose model deployc's catalog resolves are
taken (the others would be "no config read"); the config comes from the log's `non-default args`
line, the numbers and the verbatim lines from the log itself (first worker only: every rank prints
the same pool). Group = one model on this hardware (its TP / PP / length / dtype variants are the
same deployment with one knob changed), decided before any prediction was run on these runs.
Stdlib + git only; run split.py --write and check.py afterwards.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMIT = "d3121e059da88662db39a926a3ead964be97359b"
BASE = f"https://github.com/llm-d-incubation/llm-d-planner/blob/{COMMIT}/accuracy/results/v0.19.0/logs/"
WANT = ("version 0.19.0", "non-default args:", "Model loading took", "Memory profiling takes",
        "Available KV cache memory", "GPU KV cache size", "Maximum concurrency for")

# model -> (model_config_id, arch_class, tags); only models deployc's catalog resolves
MODELS = {
    "meta-llama/Llama-3.1-8B-Instruct": ("meta-llama/Llama-3.1-8B-Instruct", "dense", []),
    "Qwen/Qwen2.5-7B-Instruct": ("Qwen/Qwen2.5-7B-Instruct", "dense", []),
    "Qwen/Qwen2.5-72B-Instruct": ("Qwen/Qwen2.5-72B-Instruct", "dense", []),
    "Qwen/Qwen3-8B": ("Qwen/Qwen3-8B", "dense", []),
    "microsoft/phi-4": ("microsoft/phi-4", "dense", []),
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "dense",
                                                      ["vision-tower"]),
    "mistralai/Mixtral-8x7B-Instruct-v0.1": ("mistralai/Mixtral-8x7B-Instruct-v0.1", "moe", []),
    "Qwen/Qwen3-30B-A3B": ("Qwen/Qwen3-30B-A3B", "moe", []),
    "deepseek-ai/DeepSeek-V2-Lite-Chat": ("deepseek-ai/DeepSeek-V2-Lite-Chat", "mla", ["moe"]),
    "google/gemma-2-2b-it": ("google/gemma-2-2b-it", "sliding-window/hybrid", ["interleaved-swa"]),
    "google/gemma-2-9b-it": ("google/gemma-2-9b-it", "sliding-window/hybrid", ["interleaved-swa"]),
    "google/gemma-2-27b-it": ("google/gemma-2-27b-it", "sliding-window/hybrid", ["interleaved-swa"]),
    "google/gemma-3-4b-it": ("google/gemma-3-4b-it", "sliding-window/hybrid", ["interleaved-swa", "vision-tower"]),
    "google/gemma-3-12b-it": ("google/gemma-3-12b-it", "sliding-window/hybrid", ["interleaved-swa", "vision-tower"]),
    "google/gemma-3-27b-it": ("google/gemma-3-27b-it", "sliding-window/hybrid", ["interleaved-swa", "vision-tower"]),
    "openai/gpt-oss-20b": ("openai/gpt-oss-20b", "sliding-window/hybrid", ["moe", "mxfp4"]),
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": ("meta-llama/Llama-4-Scout-17B-16E-Instruct",
                                                  "sliding-window/hybrid", ["moe", "chunked-attention",
                                                                            "vision-tower"]),
}


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def num(text: str, pattern: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else None


def run_of(row: dict[str, str], log: str) -> dict | None:
    model = row["model"]
    if model not in MODELS:
        return None
    cid, cls, tags = MODELS[model]
    lines = log.splitlines()
    first_worker = None
    keep: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if not any(w in line for w in WANT):
            continue
        who = re.match(r"\(\S+ pid=(\d+)\)", line)
        if who and ("gpu_worker.py" in line or "gpu_model_runner.py" in line):
            first_worker = first_worker or who.group(1)
            if who.group(1) != first_worker:
                continue
        text = re.sub(r"\s+", " ", line.split("] ", 1)[-1]).strip()
        if text not in seen:
            seen.add(text)
            keep.append(line.strip())
    body = "\n".join(keep)
    args_line = next((x for x in keep if "non-default args:" in x), "")
    args = ast.literal_eval(args_line.split("non-default args: ", 1)[1]) if args_line else {}
    tp, pp = int(row["tp"]), int(row["pp"])
    config = {"tensor_parallel_size": tp, "pipeline_parallel_size": pp,
              "gpu_memory_utilization": float(row["gpu_memory_utilization"]),
              "max_model_len": int(row["max_model_len"]),
              "max_num_batched_tokens": "default (8192: H100 >= 70 GiB, OPENAI_API_SERVER)",
              "max_num_seqs": "default (1024)",
              "kv_cache_dtype": args.get("kv_cache_dtype", "auto"),
              "dtype": args.get("dtype", "auto"),
              "enable_prefix_caching": args.get("enable_prefix_caching", "default"),
              "command": "vllm serve " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in args.items()
                                                  if k not in ("model_tag", "model"))}
    if args.get("quantization"):
        config["quantization"] = args["quantization"]
    knobs = f"tp{tp}pp{pp}-{row['max_model_len']}"
    if config["dtype"] != "auto":
        knobs += f"-{config['dtype']}"
    if config["kv_cache_dtype"] != "auto":
        knobs += f"-kv{config['kv_cache_dtype']}"
    if args.get("quantization"):
        knobs += f"-q{args['quantization']}"
    rid = "llmd-" + re.sub(r"[^a-z0-9.]+", "-", model.split("/")[-1].lower()) + "-h100-" + knobs
    reported = {
        "kv_tokens": int(num(body, r"GPU KV cache size: ([\d,]+) tokens") or 0) or None,
        "kv_gib": num(body, r"Available KV cache memory: ([\d.]+) GiB"),
        "max_concurrency": num(body, r"Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x"),
        "max_concurrency_at": int(num(body, r"Maximum concurrency for ([\d,]+) tokens") or 0) or None,
        "weights_gib": num(body, r"Model loading took ([\d.]+) GiB"),
        "peak_activation_gib": num(body, r"torch peak memory increase: ([\d.]+)GiB"),
        "non_torch_gib": num(body, r"non-torch forward increase memory: ([\d.]+)GiB"),
        "non_kv_gib": num(body, r"Total non KV cache memory: ([\d.]+)GiB"),
        "total_gpu_memory_gib": float(row["init_total_memory_gib"]),
        "init_non_torch_gib": float(row["init_non_torch_memory_gib"]),
    }
    return {
        "id": rid, "group": "llmd-v0.19.0-h100:" + model.lower(), "url": BASE + row["log_file"],
        "engine": "vllm", "engine_version": "0.19.0",
        "version_evidence": "the log's banner prints 'version 0.19.0' and 'Initializing a V1 LLM engine (v0.19.0)'",
        "modern": True, "gpu": "H100 80GB HBM3 (SXM; total_memory=79.19GiB in the log)", "gpu_count": tp * pp,
        "model": model, "model_config_id": cid, "arch_class": cls, "arch_tags": tags, "config": config,
        "reported": reported, "log": keep,
        "notes": ("llm-d-planner's accuracy sweep (vLLM 0.19.0 image, one H100 80GB node, "
                  "prefix caching off as the non-default args show); numbers read from the log, "
                  "first worker's lines only (all ranks print the same). Imported by "
                  "benchmarks/truth/import_llmd.py."),
        "origin": "this collection", "split": "calibration",
    }


def main() -> None:
    repo = sys.argv[1]
    raw = git(repo, "show", f"{COMMIT}:accuracy/results/v0.19.0/results_raw.csv")
    path = HERE / "runs.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    have = {r["id"] for r in doc["runs"]}
    added = 0
    for row in csv.DictReader(io.StringIO(raw)):
        if row["status"] != "ok":
            continue
        log = git(repo, "show", f"{COMMIT}:accuracy/results/v0.19.0/logs/{row['log_file']}")
        run = run_of(row, log)
        if run is None or run["id"] in have:
            continue
        doc["runs"].append(run)
        have.add(run["id"])
        added += 1
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"added {added} runs")


if __name__ == "__main__":
    main()
