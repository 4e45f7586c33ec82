"""How close is `deployc plan` to what vLLM really allocated? Prints the error per case and the mean.

    python benchmarks/plan_accuracy.py [--json]

Each case in plan_cases.json is a real vLLM startup a user posted (the URL is in the
file) with the KV cache size vLLM logged. The case's settings become a deploy.yaml,
which is planned with the vLLM target's memory data for the engine generation named,
through the same code `deployc plan` runs. Stdlib + deployc only; no GPU.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.facts import catalog  # noqa: E402
from compiler.pipeline import compile_target, load_spec  # noqa: E402
from compiler.registry import Registry  # noqa: E402
from compiler.target_api import BuildContext  # noqa: E402


def spec_text(case: dict) -> str:
    s = case["spec"]
    lines = ["apiVersion: deployc/v1", f"name: {case['id'].replace('.', '-')[:63]}", "model:",
             f"  source: {s['source']}"]
    if "facts_from" in s:
        cfg = catalog()[s["facts_from"].lower()]
        c = cfg["config"]
        lines += ["  facts:", f"    layers: {c['num_hidden_layers']}", f"    hidden_size: {c['hidden_size']}",
                  f"    attention_heads: {c['num_attention_heads']}", f"    kv_heads: {c['num_key_value_heads']}",
                  f"    head_dim: {c.get('head_dim', c['hidden_size'] // c['num_attention_heads'])}",
                  f"    vocab_size: {c['vocab_size']}", f"    max_position_embeddings: {c['max_position_embeddings']}",
                  f"    parameters: {cfg['parameters']:.6g}"]
    lines += ["precision:", f"  dtype: {s.get('dtype', 'auto')}", f"  quantization: {s.get('quantization', 'none')}",
              "parallelism:", f"  tensor: {s.get('tensor', 1)}", f"  pipeline: {s.get('pipeline', 1)}",
              "limits:", f"  max_model_len: {s['max_model_len']}"]
    for key in ("max_batch_tokens", "max_concurrency"):
        if key in s:
            lines.append(f"  {key}: {s[key]}")
    lines += ["hardware:", f"  gpu: {s['gpu']}", f"  memory_utilization: {s['util']}",
              "targets:", f"  vllm: {{version: '{case['engine']}'}}"]
    return "\n".join(lines) + "\n"


def run(cases: list[dict]) -> list[dict]:
    registry = Registry.discover()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            path = Path(tmp) / "deploy.yaml"
            path.write_text(spec_text(case))
            compiled = load_spec(path, "deploy.yaml")
            assert compiled.plan is not None, [d.render() for d in compiled.diagnostics]
            result = compile_target(compiled, registry, "vllm", BuildContext("..", "deploy.yaml", ""))
            mp = result.memory
            planned = mp.kv_cache_tokens if mp is not None else None
            real = case["reported_tokens"]
            rows.append({"id": case["id"], "vllm": case["vllm"], "reported": real, "planned": planned,
                         "error": None if planned is None else (planned - real) / real,
                         "weights_gib": None if mp is None else round(mp.weights_gib_per_gpu, 2),
                         "kv_gib": None if mp is None else round(mp.kv_cache_gib_per_gpu, 2)})
    return rows


def main() -> None:
    cases = json.loads((Path(__file__).with_name("plan_cases.json")).read_text(encoding="utf-8"))["cases"]
    rows = run(cases)
    errors = [abs(r["error"]) for r in rows if r["error"] is not None]
    if "--json" in sys.argv:
        print(json.dumps({"cases": rows, "mean_abs_error": statistics.mean(errors)}, indent=2))
        return
    print(f"{'case':<32} {'vLLM':<12} {'reported':>9} {'planned':>9} {'error':>8} {'weights':>8} {'KV GiB':>7}")
    for r in rows:
        err = "n/a" if r["error"] is None else f"{r['error']:+.1%}"
        print(f"{r['id']:<32} {r['vllm']:<12} {r['reported']:>9} {r['planned'] or '-':>9} {err:>8} "
              f"{r['weights_gib'] or '-':>8} {r['kv_gib'] or '-':>7}")
    print(f"\nmean absolute error on KV-cache tokens: {statistics.mean(errors):.1%} over {len(errors)} cases "
          f"(median {statistics.median(errors):.1%}, worst {max(errors):.1%})")


if __name__ == "__main__":
    main()
