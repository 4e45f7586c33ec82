"""parallelism.data_mode and parallelism.expert (issue 20, item 1): each engine's spelling and rules, the
refusals at the YAML key, and the memory plan of data-parallel attention."""

from __future__ import annotations

import yaml

DSV3 = "deepseek-ai/DeepSeek-V3"
WIDE = "parallelism:\n  tensor: 1\n  data: 8\n  data_mode: attention\n  expert: 8\nhardware:\n  gpu: H200\n" \
       "limits:\n  max_model_len: 32768\n  max_concurrency: 16\n"


def errors(out):
    return [(d["code"], d["line"], d["column"]) for d in out["diagnostics"] if d["severity"] == "error"]


def after(argv, flag):
    return argv[argv.index(flag) + 1] if flag in argv else None


def test_vllm_runs_data_parallel_attention_with_expert_parallelism(specs):
    argv = specs.build("vllm", WIDE, source=DSV3)["command"]
    assert after(argv, "--data-parallel-size") == "8" and "--enable-expert-parallel" in argv
    assert "--tensor-parallel-size" not in argv
    assert after(argv, "--max-num-seqs") == "16"          # per data rank, as vLLM's own cap is


def test_vllm_expert_size_is_tensor_times_data_or_nothing(specs):
    out = specs.build("vllm", WIDE.replace("expert: 8", "expert: 4"), source=DSV3, expect=1)
    assert errors(out) == [("vllm-expert-size", 9, 11)]
    out = specs.build("vllm", "parallelism:\n  data: 2\n  data_mode: replicas\nhardware:\n  gpu: H200\n",
                      source=DSV3, expect=1)
    assert errors(out) == [("vllm-data-replicas-moe", 7, 14)]


def test_a_moe_model_with_data_ranks_must_choose_the_mode(specs):
    out = specs.build("vllm", "parallelism:\n  data: 8\nhardware:\n  gpu: H200\n", source=DSV3, expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"] == "parallelism-data-mode"]
    assert (d["line"], d["column"]) == (6, 9)
    assert d["hint"].startswith("data_mode: attention (one engine")


def test_sglang_counts_every_gpu_in_tp_and_totals_the_running_requests(specs):
    argv = specs.build("sglang", WIDE, source=DSV3)["command"]
    assert (after(argv, "--tp-size"), after(argv, "--attn-dp-size"), after(argv, "--ep-size")) == ("8", "8", "8")
    assert "--dp-size" not in argv and "--enable-dp-attention" not in argv
    assert after(argv, "--max-running-requests") == "128"   # 16 per data rank x 8 ranks
    old = specs.build("sglang", WIDE, "{version: 0.4.10.post2}", source=DSV3)["command"]
    assert (after(old, "--tp-size"), after(old, "--dp-size"), after(old, "--ep-size")) == ("8", "8", "8")
    assert "--enable-dp-attention" in old and "--attn-dp-size" not in old


def test_tensorrt_llm_needs_tensor_1_and_writes_attention_dp_in_its_yaml(specs):
    out = specs.build("tensorrt-llm", WIDE.replace("H200", "B200"), source=DSV3)
    argv = out["command"]
    assert (after(argv, "--tp_size"), after(argv, "--ep_size")) == ("8", "8")
    config = next(a["content"] for a in out["artifacts"] if a["path"] == "trtllm-config.yaml")
    assert yaml.safe_load(config)["enable_attention_dp"] is True
    out = specs.build("tensorrt-llm", WIDE.replace("tensor: 1", "tensor: 2").replace("data: 8", "data: 4"),
                      source=DSV3, expect=1)
    assert errors(out) == [("tensorrt-llm-attention-tensor", 6, 11)]


def test_engines_without_the_modes_refuse_at_the_key_with_a_hint(specs):
    for target in ("tgi", "ollama", "llama-cpp", "lmdeploy", "xinference"):
        model = "  gguf: ./m.gguf\n" if target in ("ollama", "llama-cpp") else ""
        options = "{model_family: qwen2.5-instruct, size_in_billions: 7}" if target == "xinference" else "{}"
        out = specs.build(target, "parallelism:\n  data: 2\n  data_mode: attention\n", options, model=model,
                          source="example/model", expect=1)
        [d] = [d for d in out["diagnostics"] if d["code"] == "target-unsupported"]
        assert d["message"].endswith("cannot express data-parallel attention (parallelism.data_mode)"), target
        assert d["line"] == 7 + model.count("\n") and d["hint"], target


def test_xinference_passes_expert_parallelism_to_its_vllm_engine(specs):
    out = specs.build("xinference", "parallelism:\n  tensor: 2\n  expert: 2\n",
                      "{model_family: qwen2.5-instruct, size_in_billions: 7}", source="example/model")
    launch = next(a["content"] for a in out["artifacts"] if a["path"] == "launch.sh")
    assert "--enable_expert_parallel true" in launch


def test_wide_expert_parallelism_over_two_machines_is_one_engine_over_both(specs):
    """16 data ranks on machines of 8: vLLM's --nnodes/--node-rank/--master-addr with --data-parallel-size 16
    (vLLM infers 8 local ranks per node), node 1 --headless; SGLang's --tp-size 16 --attn-dp-size 16 with
    --nnodes; one group of 2 nodes, not 16 copies."""
    wide = WIDE.replace("data: 8", "data: 16").replace("expert: 8", "expert: 16")
    out = specs.build("vllm", wide, source=DSV3)
    leader = out["command"]
    assert after(leader, "--data-parallel-size") == "16" and "--enable-expert-parallel" in leader
    assert after(leader, "--nnodes") == "2" and after(leader, "--node-rank") == "0" and "--headless" not in leader
    worker = next(a["content"] for a in out["artifacts"] if a["path"] == "serve-worker.sh").splitlines()[-1]
    assert "--data-parallel-size 16" in worker and worker.endswith("--master-port 29501 --data-parallel-size-local 8 --headless")
    argv = specs.build("sglang", wide, source=DSV3)["command"]
    assert [after(argv, f) for f in ("--tp-size", "--attn-dp-size", "--ep-size", "--nnodes")] == ["16", "16", "16", "2"]
    assert "--dp-size" not in argv
    manifest = yaml.safe_load_all(next(a["content"] for a in specs.build(
        "vllm", wide, source=DSV3, platform="kubernetes")["artifacts"] if a["path"].endswith("manifests.yaml")))
    [lws] = [d for d in manifest if d and d["kind"] == "LeaderWorkerSet"]
    assert (lws["spec"]["replicas"], lws["spec"]["leaderWorkerTemplate"]["size"]) == (1, 2)
    ports = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["ports"]
    assert [(p["name"], p["containerPort"]) for p in ports] == [("http", 8000), ("dist", 29501), ("dp-rpc", 29550)]


def test_the_data_parallel_rpc_port_is_not_the_http_port(specs):
    wide = WIDE.replace("data: 8", "data: 16").replace("expert: 8", "expert: 16")
    out = specs.build("vllm", wide + "server:\n  port: 29550\n", source=DSV3, expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert d["code"] == "vllm-port-nodes" and d["message"].startswith(
        "port 29550 is where node 0 of a multi-node copy opens the data-parallel RPC socket")



def test_vllm_0_11_2_refuses_one_gpu_data_ranks_over_nodes(specs):
    wide = WIDE.replace("data: 8", "data: 16").replace("expert: 8", "expert: 16")
    out = specs.build("vllm", wide, '{version: "0.11.2"}', source=DSV3, expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("vllm-data-parallel-nodes", 8, 14)
    assert d["hint"] == "pin targets.vllm.version: 0.33.0 or later, or use tensor 2 or more per data rank"
    out = specs.build("vllm", wide.replace("tensor: 1", "tensor: 2").replace("data: 16", "data: 8"),
                      '{version: "0.11.2"}', source=DSV3)
    assert "--data-parallel-size-local 4" in " ".join(out["command"])
