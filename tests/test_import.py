"""`deployc import`: real command lines from the engines' documentation, each imported, rebuilt and compared
(`--check`: the engine's parsed configuration of the original command against the rebuilt one, read with the
version's option table), plus the parser's rules, secrets, hostile values and unknown flags."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import pytest
from ruamel.yaml import YAML

from deployc.compiler.api.importing import Dialect
from deployc.compiler.imports.argv import human_readable_int, parse, table_data
from deployc.targets.sglang.importer import IMPORTER as SGLANG
from deployc.targets.vllm.importer import IMPORTER as VLLM


@dataclass(frozen=True)
class Case:
    id: str
    source: str            # where the command line comes from
    command: str
    fields: dict[str, Any]  # dotted spec path -> value the import must write
    raw: tuple[str, ...] = ()      # tokens kept in targets.<name>.args
    gpu: str = "H100-80GB"
    version: str | None = None
    # what --check must say when the round trip cannot be exact (empty: "round trip ok", exit 0)
    check: tuple[str, ...] = ()


VLLM_DOCS = "https://docs.vllm.ai/en/latest"
SGLANG_DOCS = "https://docs.sglang.ai"

CASES = [
    Case("vllm-quickstart", f"{VLLM_DOCS}/getting_started/quickstart.html (vllm-project/vllm "
         "docs/getting_started/quickstart.md)", "vllm serve Qwen/Qwen2.5-1.5B-Instruct",
         {"model.source": "Qwen/Qwen2.5-1.5B-Instruct", "model.served_name": "Qwen/Qwen2.5-1.5B-Instruct"}),
    Case("vllm-openai-server", f"{VLLM_DOCS}/serving/openai_compatible_server.html",
         "vllm serve NousResearch/Meta-Llama-3-8B-Instruct --dtype auto --api-key token-abc123",
         {"model.source": "NousResearch/Meta-Llama-3-8B-Instruct", "server.api_key_env": "VLLM_API_KEY"}),
    Case("vllm-lora", f"{VLLM_DOCS}/features/lora.html (docs/features/lora.md)",
         "vllm serve meta-llama/Llama-3.2-3B-Instruct --enable-lora "
         "--lora-modules sql-lora=jeeejeee/llama32-3b-text2sql-spider",
         {"model.adapters": [{"name": "sql-lora", "source": "jeeejeee/llama32-3b-text2sql-spider"}]}),
    Case("vllm-lora-api-server", "vLLM 0.4 docs/source/models/lora.rst (python -m vllm.entrypoints.openai.api_server)",
         "python -m vllm.entrypoints.openai.api_server --model meta-llama/Llama-2-7b-hf --enable-lora "
         "--lora-modules sql-lora=~/.cache/huggingface/hub/models--yard1--llama-2-7b-sql-lora-test/",
         {"model.source": "meta-llama/Llama-2-7b-hf",
          "model.adapters": [{"name": "sql-lora",
                              "source": "~/.cache/huggingface/hub/models--yard1--llama-2-7b-sql-lora-test/"}]}),
    Case("vllm-reasoning", f"{VLLM_DOCS}/features/reasoning_outputs.html",
         "vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --reasoning-parser deepseek_r1",
         {"model.reasoning_parser": "deepseek_r1"}),
    Case("vllm-tool-calling", f"{VLLM_DOCS}/features/tool_calling.html (Llama 3.1: recommended flags)",
         "vllm serve meta-llama/Llama-3.1-8B-Instruct --enable-auto-tool-choice --tool-call-parser llama3_json "
         "--chat-template examples/tool_chat_template_llama3.1_json.jinja",
         {"model.tool_parser": "llama3_json", "model.chat_template": "examples/tool_chat_template_llama3.1_json.jinja"}),
    Case("vllm-tensor-parallel", f"{VLLM_DOCS}/serving/parallelism_scaling.html",
         "vllm serve facebook/opt-13b --tensor-parallel-size 4", {"parallelism.tensor": 4}),
    Case("vllm-tp-pp", f"{VLLM_DOCS}/serving/parallelism_scaling.html (model id as the hub spells it today)",
         "vllm serve openai-community/gpt2 --tensor-parallel-size 4 --pipeline-parallel-size 2",
         {"parallelism.tensor": 4, "parallelism.pipeline": 2}),
    Case("vllm-bare-hub-id", f"{VLLM_DOCS}/serving/parallelism_scaling.html (as written)",
         "vllm serve gpt2 --tensor-parallel-size 4 --pipeline-parallel-size 2",
         {"model.source": "gpt2"},
         check=("the imported spec does not build:", "spec-value: source: 'gpt2' is neither a hub repo id",
                "  note: model.source 'gpt2' is a bare hub name: deploy.yaml takes org/name")),
    Case("vllm-expert-parallel", f"{VLLM_DOCS}/serving/expert_parallel_deployment.html (single node)",
         "vllm serve deepseek-ai/DeepSeek-V3-0324 --tensor-parallel-size 1 --data-parallel-size 8 "
         "--enable-expert-parallel",
         {"parallelism.data": 8, "parallelism.expert": 8, "parallelism.data_mode": "attention"}, gpu="H200"),
    Case("vllm-ngram", f"{VLLM_DOCS}/features/spec_decode.html (the n-gram example's config, as the serve flag)",
         "vllm serve facebook/opt-6.7b --speculative-config "
         "'{\"method\": \"ngram\", \"num_speculative_tokens\": 5, \"prompt_lookup_max\": 4}'",
         {"speculative.method": "ngram", "speculative.num_tokens": 5, "speculative.ngram.max": 4}),
    # TGI: the launcher's clap table reads the flags and the -e variables; `-p 8080:80` is server.port
    Case("tgi-quicktour", "https://huggingface.co/docs/text-generation-inference/quicktour (README's docker run; "
         "$model and $volume expanded as the shell does)",
         "docker run --gpus all --shm-size 1g -p 8080:80 -v /home/me/data:/data "
         "ghcr.io/huggingface/text-generation-inference:3.3.5 --model-id HuggingFaceH4/zephyr-7b-beta",
         {"model.source": "HuggingFaceH4/zephyr-7b-beta", "server.port": 8080, "targets.tgi.version": "3.3.5"},
         # --gpus all: TGI shards over every visible GPU; a spec says how many (parallelism.tensor, default 1)
         check=("  differs: --num-shard: original None, rebuilt 1 (deployc writes it: TGI's launcher shards over "
                "every visible GPU unless told",)),
    Case("tgi-awq-70b", "https://huggingface.co/docs/transformers/quantization (TGI, \"Using a prebuilt quantized "
         "model\"; the token replaced by a placeholder)",
         "docker container run --gpus all --shm-size 1g -e HUGGING_FACE_HUB_TOKEN=hf_placeholder0123456789abcdefghij "
         "-p 8080:80 -v /home/me/data:/data ghcr.io/huggingface/text-generation-inference:2.3.1 "
         "--model-id hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4 --max-batch-prefill-tokens 4800 "
         "--max-input-length 4768 --max-total-tokens 10960 --num-shard 4",
         {"parallelism.tensor": 4, "limits.max_input_tokens": 4768, "limits.max_model_len": 10960,
          "limits.max_batch_tokens": 4800, "targets.tgi.version": "3.3.7",
          "targets.tgi.env": {"HUGGING_FACE_HUB_TOKEN": "${HUGGING_FACE_HUB_TOKEN}"}}),
    Case("tgi-env-options", "TGI launcher --help: every option has an env name (launcher/src/main.rs, clap env)",
         "docker run --gpus all -p 8000:80 -e MODEL_ID=Qwen/Qwen2.5-7B-Instruct -e NUM_SHARD=2 "
         "-e MAX_TOTAL_TOKENS=8192 -e MAX_INPUT_TOKENS=8191 -e API_KEY=sk-placeholder "
         "ghcr.io/huggingface/text-generation-inference:3.3.7",
         {"model.source": "Qwen/Qwen2.5-7B-Instruct", "parallelism.tensor": 2, "limits.max_model_len": 8192,
          "server.api_key_env": "API_KEY", "server.port": 8000}),
    Case("lmdeploy-api-server", "https://lmdeploy.readthedocs.io/en/latest/llm/api_server.html "
         "(InternLM/lmdeploy docs/en/llm/api_server.md)",
         "lmdeploy serve api_server internlm/internlm2_5-7b-chat --server-port 23333",
         {"model.source": "internlm/internlm2_5-7b-chat", "server.port": 23333}),
    Case("lmdeploy-kv-int8", "https://lmdeploy.readthedocs.io/en/latest/quantization/kv_quant.html",
         "lmdeploy serve api_server internlm/internlm2_5-7b-chat --quant-policy 8",
         {"targets.lmdeploy.kv_quant": "int8", "server.port": 23333}),
    Case("lmdeploy-docker", "https://lmdeploy.readthedocs.io/en/latest/llm/api_server.html (Docker; the token "
         "replaced by a placeholder)",
         "docker run --runtime nvidia --gpus all -v /home/me/.cache/huggingface:/root/.cache/huggingface "
         "--env HUGGING_FACE_HUB_TOKEN=placeholder-token -p 23333:23333 --ipc=host openmmlab/lmdeploy:latest "
         "lmdeploy serve api_server internlm/internlm2_5-7b-chat",
         {"server.port": 23333, "targets.lmdeploy.env": {"HUGGING_FACE_HUB_TOKEN": "${HUGGING_FACE_HUB_TOKEN}"}}),
    # llama.cpp: deployc puts every layer on the GPUs (-ngl all) where the command left llama.cpp's own fit
    Case("llama-server-hf", "https://github.com/ggml-org/llama.cpp README.md (quick start)",
         "llama-server -hf ggml-org/gemma-3-1b-it-GGUF",
         {"model.source": "ggml-org/gemma-3-1b-it-GGUF", "server.host": "127.0.0.1", "server.port": 8080},
         check=("  differs: --gpu-layers: original None, rebuilt 'all' (deployc writes it: every layer on the GPUs",)),
    Case("llama-server-local", "ggml-org/llama.cpp tools/server/README.md (quick start)",
         "llama-server -m models/7B/ggml-model.gguf -c 2048",
         {"model.source": "./models/7B/ggml-model.gguf", "limits.max_model_len": 2048},
         check=("  differs: --gpu-layers: original None, rebuilt 'all'",)),
    Case("llama-server-slots", "ggml-org/llama.cpp tools/server/README.md (-np: parallel slots share -c)",
         "llama-server -m models/7B/ggml-model.gguf -c 16384 -np 4 -ngl 99 --port 8000 --host 0.0.0.0",
         {"limits.max_model_len": 4096, "limits.max_concurrency": 4, "targets.llama-cpp.gpu_layers": 99}),
    # XInference: the launch's registry name, size, format and quantization name one checkpoint: its hub id
    Case("xinference-quickstart", "https://inference.readthedocs.io/en/latest/getting_started/using_xinference.html "
         "(Run Qwen2.5 with vLLM)",
         "xinference launch --model-engine vllm -n qwen2.5-instruct -s 0_5 -f pytorch",
         {"model.source": "Qwen/Qwen2.5-0.5B-Instruct", "model.served_name": "qwen2.5-instruct",
          "targets.xinference.engine": "vllm", "model.trust_remote_code": True},
         # no --n-gpu: every GPU of the worker; deployc says how many (tensor x pipeline)
         check=("  differs: --n-gpu: original 'auto', rebuilt '1' (deployc writes it",)),
    Case("xinference-kwargs", "https://inference.readthedocs.io/en/latest/user_guide/backends.html (vLLM keyword "
         "arguments after the launch options)",
         "xinference launch --model-engine vllm --model-name qwen2.5-instruct --size-in-billions 7 "
         "--model-format pytorch --quantization none --n-gpu 2 --max_model_len 8192 --gpu_memory_utilization 0.85",
         {"model.source": "Qwen/Qwen2.5-7B-Instruct", "parallelism.tensor": 2, "limits.max_model_len": 8192,
          "hardware.memory_utilization": 0.85}),
    Case("sglang-quickstart", f"{SGLANG_DOCS}/basic_usage/send_request.html",
         "python3 -m sglang.launch_server --model-path qwen/qwen2.5-0.5b-instruct --host 0.0.0.0",
         {"model.source": "qwen/qwen2.5-0.5b-instruct", "server.host": "0.0.0.0", "server.port": 30000}),
    Case("sglang-tp", f"{SGLANG_DOCS}/advanced_features/server_arguments.html (tensor parallelism)",
         "python -m sglang.launch_server --model-path meta-llama/Meta-Llama-3-8B-Instruct --tp 2",
         {"parallelism.tensor": 2, "server.host": "127.0.0.1", "server.port": 30000}),
    Case("sglang-dp-tp", f"{SGLANG_DOCS}/advanced_features/server_arguments.html (data parallelism)",
         "python -m sglang.launch_server --model-path meta-llama/Meta-Llama-3-8B-Instruct --dp 2 --tp 2",
         {"parallelism.tensor": 2, "parallelism.data": 2}),
    Case("sglang-memory", f"{SGLANG_DOCS}/advanced_features/server_arguments.html (out of memory)",
         "python -m sglang.launch_server --model-path meta-llama/Meta-Llama-3-8B-Instruct "
         "--chunked-prefill-size 4096 --mem-fraction-static 0.7",
         {"limits.max_batch_tokens": 4096, "targets.sglang.mem_fraction_static": 0.7}),
    Case("sglang-torch-compile", f"{SGLANG_DOCS}/advanced_features/server_arguments.html (torch.compile)",
         "python -m sglang.launch_server --model-path meta-llama/Meta-Llama-3-8B-Instruct --enable-torch-compile",
         {}, raw=("--enable-torch-compile",)),
    Case("sglang-dp-attention", f"{SGLANG_DOCS}/basic_usage/deepseek.html (data parallelism attention, 8 x H200)",
         "python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3 --trust-remote-code "
         "--enable-dp-attention --tp 8 --dp 8",
         {"parallelism.tensor": 1, "parallelism.data": 8, "parallelism.data_mode": "attention",
          "model.trust_remote_code": True}, gpu="H200"),
    Case("sglang-dp-attention-0.4", f"{SGLANG_DOCS}/basic_usage/deepseek.html, read by SGLang 0.4.10.post2",
         "python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V3 --trust-remote-code "
         "--enable-dp-attention --tp 8 --dp 8",
         {"parallelism.tensor": 1, "parallelism.data": 8, "parallelism.data_mode": "attention"},
         gpu="H200", version="0.4.10.post2"),
    # The speculative-decoding page's EAGLE3 line: a tree is not a deploy.yaml setting (speculative stays raw and
    # the build says so), and --cuda-graph-max-bs is ambiguous in 0.5.23 (-decode / -prefill).
    Case("sglang-eagle3", f"{SGLANG_DOCS}/advanced_features/speculative_decoding.html (EAGLE-3)",
         "python3 -m sglang.launch_server --model meta-llama/Llama-3.1-8B-Instruct --speculative-algorithm EAGLE3 "
         "--speculative-draft-model-path jamesliu1/sglang-EAGLE3-Llama-3.1-Instruct-8B --speculative-num-steps 5 "
         "--speculative-eagle-topk 8 --speculative-num-draft-tokens 32 --mem-fraction 0.6 "
         "--cuda-graph-max-bs 2 --dtype float16",
         {"precision.dtype": "float16", "targets.sglang.mem_fraction_static": 0.6},
         raw=("--speculative-algorithm", "EAGLE3", "--cuda-graph-max-bs", "2"),
         check=("target-args-conflict: --speculative-algorithm in targets.sglang.args restates speculative",
                "target-args-ambiguous: --cuda-graph-max-bs is an ambiguous abbreviation for SGLang 0.5.23")),
    Case("sglang-eagle3-chain", f"{SGLANG_DOCS}/advanced_features/speculative_decoding.html (EAGLE-3, as a chain)",
         "python3 -m sglang.launch_server --model meta-llama/Llama-3.1-8B-Instruct --speculative-algorithm EAGLE3 "
         "--speculative-draft-model-path jamesliu1/sglang-EAGLE3-Llama-3.1-Instruct-8B --speculative-num-steps 3 "
         "--speculative-eagle-topk 1 --speculative-num-draft-tokens 4 --mem-fraction-static 0.6",
         {"speculative.method": "eagle3", "speculative.num_tokens": 3,
          "speculative.model": "jamesliu1/sglang-EAGLE3-Llama-3.1-Instruct-8B"}),
]


def spec_of(stdout: str) -> dict:
    return YAML(typ="safe").load(stdout)


def at(spec: dict, path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        node = node[part]
    return node


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_documented_command_imports_and_round_trips(cli, case: Case):
    args = ["import", "--check", "--gpu", case.gpu]
    if case.version:
        args += ["--engine-version", case.version]
    result = cli(*args, "--", *shlex.split(case.command))
    spec = spec_of(result.stdout)
    assert "placeholder" not in result.stdout + result.stderr   # a literal credential is never repeated
    for path, value in case.fields.items():
        assert at(spec, path) == value, path
    target = next(iter(spec["targets"]))
    raw = spec["targets"][target].get("args", [])
    for token in case.raw:
        assert token in raw
    if not case.check:
        assert "round trip ok: the engine's parsed configuration is the same" in result.stderr, result.stderr
        assert result.exit_code == 0
    else:
        for line in case.check:
            assert line in result.stderr, result.stderr
        assert result.exit_code == 1


def test_report_counts_what_was_mapped_kept_dropped_and_unknown(cli):
    result = cli("import", "--", "vllm", "serve", "org/model", "--port", "8000", "--enforce-eager",
                 "--max-model-len", "8k", "--no-such-flag", "3")
    assert result.stderr.splitlines()[:6] == [
        "vLLM 0.34.0: 2 mapped, 1 kept raw, 1 dropped as default, 1 unknown, 0 secret",
        "  mapped   org/model -> model.source",
        "  default  --port 8000  (vLLM 0.34.0's default)",
        "  raw      --enforce-eager -> targets.vllm.args  (deploy.yaml has no field for --enforce-eager)",
        "  mapped   --max-model-len 8k -> limits.max_model_len",
        "  unknown  --no-such-flag 3 -> targets.vllm.args  (--no-such-flag is not an option of vllm 0.34.0)",
    ]
    spec = spec_of(result.stdout)
    assert spec["limits"]["max_model_len"] == 8000
    assert spec["targets"]["vllm"]["args"] == ["--enforce-eager", "--no-such-flag", "3"]
    assert "      - --no-such-flag # raw: --no-such-flag is not an option of vllm 0.34.0: kept as given" in result.stdout


def test_unknown_flag_fails_the_round_trip_with_the_build_diagnostic(cli):
    result = cli("import", "--check", "--", "vllm", "serve", "org/model", "--no-such-flag")
    assert result.exit_code == 1
    assert "target-args-unknown: --no-such-flag is not an option of vLLM 0.34.0" in result.stderr


def test_written_spec_goes_to_the_file_and_builds(cli, tmp_path):
    out = tmp_path / "deploy.yaml"
    result = cli("import", "-o", out, "--", "vllm", "serve", "org/model", "-tp", "2")
    assert result.exit_code == 0 and result.stdout == ""
    assert cli("validate", out).exit_code == 0
    assert spec_of(out.read_text())["parallelism"] == {"tensor": 2}


def test_not_a_command_is_a_usage_error(cli):
    result = cli("import", "--", "ollama", "serve")
    assert result.exit_code == 2
    assert result.stderr.startswith("deployc: error: 'ollama' is neither a command deployc can import nor a file")


def test_unknown_engine_version_is_a_usage_error(cli):
    result = cli("import", "--engine-version", "0.1.0", "--", "vllm", "serve", "org/model")
    assert result.exit_code == 2
    assert "vLLM 0.1.0 is not a version deployc has read; it has 0.34.0, 0.33.0, 0.11.2" in result.stderr


# --- secrets -------------------------------------------------------------------------------------------------

def test_literal_api_key_never_reaches_the_spec(cli):
    result = cli("import", "--check", "--", "vllm", "serve", "org/model", "--api-key", "sk-live-secret-123")
    assert "sk-live-secret-123" not in result.stdout + result.stderr
    assert spec_of(result.stdout)["server"] == {"api_key_env": "VLLM_API_KEY"}
    assert "  secret   --api-key *** -> server.api_key_env  (a literal key became a reference to $VLLM_API_KEY)" \
        in result.stderr
    assert result.exit_code == 0   # the rebuilt command reads the key from VLLM_API_KEY: same configuration


def test_api_key_given_as_a_reference_keeps_its_variable(cli):
    result = cli("import", "--", "sglang", "serve", "--model-path", "org/model", "--api-key", "${MY_KEY}")
    assert spec_of(result.stdout)["server"]["api_key_env"] == "MY_KEY"


def test_repeated_api_key_keeps_the_last_and_says_so(cli):
    result = cli("import", "--", "vllm", "serve", "org/model", "--api-key", "a1", "--api-key", "b2")
    assert "a1" not in result.stdout and "b2" not in result.stdout
    assert "a1" not in result.stderr and "b2" not in result.stderr


# --- hostile values ------------------------------------------------------------------------------------------

HOSTILE = ['x"; $(touch /tmp/deployc-pwned) #', "it's `id`", "a\nb: c", "${HOME}", "-x; rm -rf ~"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_inert_strings(cli, value, tmp_path):
    result = cli("import", "--", "vllm", "serve", "org/model", "--chat-template", value, "--enforce-eager")
    spec = spec_of(result.stdout)
    assert spec["model"]["chat_template"] == value
    assert spec["targets"]["vllm"]["args"] == ["--enforce-eager"]
    assert set(spec) == {"apiVersion", "name", "model", "targets"}


def test_hostile_command_in_the_header_comment_stays_a_comment(cli):
    result = cli("import", "--", "vllm", "serve", "org/model", "--served-model-name", "a\nname: evil")
    spec = spec_of(result.stdout)
    assert spec["name"] == "model" and spec["model"]["served_name"] == "a\nname: evil"
    assert "\\n" in result.stdout.splitlines()[1]


# --- several inputs ------------------------------------------------------------------------------------------

def test_several_commands_make_one_spec_and_disagreements_are_errors(cli, tmp_path):
    script = tmp_path / "serve.sh"
    script.write_text("# two engines, one model\n"
                      "vllm serve org/model --max-model-len 8192 \\\n  --tensor-parallel-size 2\n"
                      "python -m sglang.launch_server --model-path org/model --context-length 4096 --tp 2\n")
    result = cli("import", script)
    spec = spec_of(result.stdout)
    assert set(spec["targets"]) == {"vllm", "sglang"}
    assert spec["parallelism"]["tensor"] == 2
    assert ("deployc: error[import-disagree]: limits.max_model_len: vLLM says 8192, SGLang says 4096; the spec keeps "
            "8192: pick one") in result.stderr
    # SGLang listens on 127.0.0.1:30000 unless told, vLLM on 0.0.0.0:8000: one spec serves one address
    assert ("deployc: error[import-disagree]: server.port: vLLM says 8000, SGLang says 30000; the spec keeps 30000: "
            "pick one") in result.stderr
    assert result.exit_code == 1


# --- the parser's rules, from the option tables --------------------------------------------------------------

def vllm(*argv: str):
    return parse(list(argv), table_data(str(VLLM.table("0.34.0"))), VLLM.dialect)


def sglang(*argv: str, version: str = "0.5.23"):
    return parse(list(argv), table_data(str(SGLANG.table(version))), SGLANG.dialect)


def test_human_readable_integers_follow_vllm():
    # vllm/utils/argparse_utils.py human_readable_int (0.34.0): lower-case powers of 1000, upper-case of 1024
    assert [human_readable_int(x) for x in ("32k", "32K", "25.6k", "1m", "1M", "4096")] == [
        32000, 32768, 25600, 1000000, 1048576, 4096]
    assert vllm("m", "--max-model-len=32K").values["max_model_len"] == 32768


def test_flag_equals_value_underscores_and_abbreviations():
    p = vllm("m", "--max_model_len=4096", "--gpu-memory-util", "0.8", "--tensor-parallel-size", "2")
    assert p.values["max_model_len"] == 4096 and p.values["gpu_memory_utilization"] == 0.8
    assert p.given["gpu_memory_utilization"].canonical() == ["--gpu-memory-utilization", "0.8"]
    assert sglang("--model-path", "m", "--tp", "4").values["tp_size"] == 4   # SGLang's --tp


def test_switch_pairs_and_repeated_options():
    assert vllm("m", "--no-enable-prefix-caching").values["enable_prefix_caching"] is False
    assert vllm("m", "--disable-prefix-caching").values["enable_prefix_caching"] is False   # EnableDisableAction
    p = vllm("m", "--max-num-seqs", "8", "--max-num-seqs", "16")
    assert p.values["max_num_seqs"] == 16 and p.given["max_num_seqs"].repeated == 2


def test_dotted_json_options_are_merged_and_appended_last():
    p = vllm("m", "--speculative-config", '{"method": "eagle"}', "--speculative-config.method", "ngram",
             "--speculative-config.num_speculative_tokens", "3")
    assert p.values["speculative_config"] == {"method": "ngram", "num_speculative_tokens": 3}


def test_ambiguous_prefix_and_glued_short_option():
    p = sglang("--model-path", "m", "--cuda-graph-max-bs", "8")
    assert p.unknown == [(["--cuda-graph-max-bs", "8"], 2, "--cuda-graph-max-bs is ambiguous in sglang 0.5.23: it "
                          "could be --cuda-graph-max-bs-decode, --cuda-graph-max-bs-prefill")]
    assert vllm("m", "-tp4").values["tensor_parallel_size"] == 4


def test_a_switch_never_lands_in_an_int_field():
    """--enable-expert-parallel is a switch; parallelism.expert is the size (tensor x data), never True/1."""
    from deployc.compiler.imports import import_argv

    one = import_argv(["m", "--enable-expert-parallel"], VLLM, "0.34.0", "0.34.0")
    assert "parallelism.expert" not in one.fields
    four = import_argv(["m", "--enable-expert-parallel", "-tp", "4"], VLLM, "0.34.0", "0.34.0")
    assert four.fields["parallelism.expert"][0] == 4
    typed = import_argv(["m", "--max-num-seqs", "8"], VLLM, "0.34.0", "0.34.0")
    assert typed.fields["limits.max_concurrency"][0] == 8


def test_dialects_are_declared_by_the_targets():
    assert VLLM.dialect == Dialect(underscores=True, dotted_json=True, positional="model_tag")
    assert SGLANG.dialect == Dialect()


# --- files: an Ollama Modelfile, a Compose service ----------------------------------------------------------

# https://github.com/ollama/ollama/blob/main/docs/modelfile.md "Basic Modelfile" example (comments kept)
MARIO = """FROM {base}
# sets the temperature to 1 [higher is more creative, lower is more coherent]
PARAMETER temperature 1
# sets the context window size to 4096, this controls how many tokens the LLM can use as context to generate the next token
PARAMETER num_ctx 4096

# sets a custom system message to specify the behavior of the chat assistant
SYSTEM You are Mario from super mario bros, acting as an assistant.
"""


def test_modelfile_imports_and_round_trips(cli, tmp_path):
    path = tmp_path / "Modelfile"
    path.write_text(MARIO.format(base="llama3.2:3b"))
    result = cli("import", "--check", path)
    spec = spec_of(result.stdout)
    assert spec["model"] == {"source": "meta-llama/Llama-3.2-3B-Instruct"}
    assert spec["limits"] == {"max_model_len": 4096}
    assert spec["targets"]["ollama"] == {"version": "0.32.15", "library": "llama3.2:3b", "parameters": {
        "temperature": 1}, "system": "You are Mario from super mario bros, acting as an assistant."}
    assert "Ollama 0.32.15: round trip ok: the engine's parsed configuration is the same" in result.stderr
    assert result.exit_code == 0


def test_modelfile_from_a_library_name_without_tag_asks_for_one(cli, tmp_path):
    path = tmp_path / "Modelfile"
    path.write_text(MARIO.format(base="llama3.2"))
    result = cli("import", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "deployc: error: FROM llama3.2 names an Ollama library model whose hub model deployc cannot tell "
        "(targets/ollama/counterparts.json knows: meta-llama/Llama-3.2-1B-Instruct, meta-llama/Llama-3.2-3B-Instruct)",
        "  hint: name the tag (FROM llama3.2:<tag>) of a model counterparts.json lists, or write the spec's "
        "model.source by hand"]


COMPOSE = """services:
  tgi:
    image: ghcr.io/huggingface/text-generation-inference:3.3.7
    command: --model-id Qwen/Qwen2.5-7B-Instruct --num-shard 2 --max-total-tokens 8192 --max-input-tokens 8191
    ports: ["8080:80"]
    environment:
      - HF_TOKEN=${HF_TOKEN}
      - API_KEY=placeholder-key
  ui:
    image: ghcr.io/open-webui/open-webui:main
"""


def test_compose_service_imports_like_its_docker_run(cli, tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    result = cli("import", "--check", path, "--service", "tgi")
    spec = spec_of(result.stdout)
    assert spec["server"] == {"port": 8080, "api_key_env": "API_KEY"}
    assert spec["parallelism"] == {"tensor": 2}
    assert "placeholder-key" not in result.stdout + result.stderr
    assert "TGI 3.3.7: round trip ok: the engine's parsed configuration is the same" in result.stderr
    assert result.exit_code == 0
    other = cli("import", path)
    assert other.exit_code == 2
    assert other.stderr == ("deployc: error: " + str(path) + " has 2 services (tgi, ui): name one with --service\n")


def test_vllm_config_yaml_is_pulled_in_as_vllm_does(cli, tmp_path):
    """docs.vllm.ai configuration/serve_args.html "Configuration file": the YAML's keys are options inserted
    after the model, so the command line overrides them (FlexibleArgumentParser._pull_args_from_config)."""
    (tmp_path / "config.yaml").write_text('model: meta-llama/Llama-3.1-8B-Instruct\nhost: "127.0.0.1"\nport: 6379\n'
                                          'uvicorn-log-level: "info"\nenable-prefix-caching: false\n')
    result = cli("import", "--check", "--", "vllm", "serve", "--config", "config.yaml", "--port", "7000",
                 cwd=tmp_path)
    spec = spec_of(result.stdout)
    assert spec["model"]["source"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert spec["server"] == {"host": "127.0.0.1", "port": 7000}
    assert spec["cache"] == {"prefix_caching": False}
    assert "  default  --uvicorn-log-level info  (vLLM 0.34.0's default)" in result.stderr
    assert "vLLM 0.34.0: round trip ok: the engine's parsed configuration is the same" in result.stderr
    assert result.exit_code == 0


# TensorRT-LLM: trtllm-serve with its options YAML, read in place of its path
TRT_DOCS = "https://nvidia.github.io/TensorRT-LLM/1.2.1/commands/trtllm-serve/trtllm-serve.html"


def test_trtllm_serve_with_its_options_yaml_round_trips(cli, tmp_path):
    """The page's quick start with an options file (kv_cache_config.enable_block_reuse: false)."""
    (tmp_path / "extra-llm-api-config.yml").write_text("kv_cache_config:\n  enable_block_reuse: false\n")
    result = cli("import", "--check", "--", "trtllm-serve", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
                 "--extra_llm_api_options", "extra-llm-api-config.yml", cwd=tmp_path)
    spec = spec_of(result.stdout)
    assert spec["cache"] == {"prefix_caching": False}
    assert spec["server"] == {"host": "localhost"}   # trtllm-serve's own default, stated
    assert "TensorRT-LLM 1.2.1: round trip ok: the engine's parsed configuration is the same" in result.stderr
    assert result.exit_code == 0


def test_trtllm_serve_memory_fraction_stays_raw_and_says_why(cli, tmp_path):
    """examples/models/core/deepseek_v3/README.md (NVIDIA/TensorRT-LLM), trtllm-serve on 8 GPUs."""
    (tmp_path / "extra-llm-api-config.yml").write_text("enable_attention_dp: false\nprint_iter_log: true\n")
    result = cli("import", "--check", "--gpu", "H200", "--", "trtllm-serve", "deepseek-ai/DeepSeek-V3", "--host",
                 "localhost", "--port", "8000", "--backend", "pytorch", "--max_batch_size", "161",
                 "--max_num_tokens", "1160", "--tp_size", "8", "--ep_size", "8", "--pp_size", "1",
                 "--kv_cache_free_gpu_memory_fraction", "0.95", "--extra_llm_api_options",
                 "extra-llm-api-config.yml", cwd=tmp_path)
    spec = spec_of(result.stdout)
    assert spec["parallelism"] == {"tensor": 8, "pipeline": 1, "expert": 8}
    assert spec["limits"] == {"max_concurrency": 161, "max_batch_tokens": 1160}
    assert "  default  --backend pytorch  (TensorRT-LLM 1.2.1's default)" in result.stderr
    assert ("  note: options YAML keys deploy.yaml has no field for, left out (deployc writes its own options "
            "file): print_iter_log") in result.stderr
    assert ("target-args-conflict: --kv_cache_free_gpu_memory_fraction in targets.tensorrt-llm.args restates "
            "hardware.memory_utilization") in result.stderr
    assert result.exit_code == 1


def test_trtllm_serve_speculative_config_round_trips(cli, tmp_path):
    """features/speculative-decoding.html (1.2.1), 'Usage with trtllm-bench and trtllm-serve': an EAGLE 3 head
    by its speculative_model_dir alias."""
    (tmp_path / "spec.yml").write_text("speculative_config:\n  decoding_type: Eagle\n  max_draft_len: 4\n"
                                       "  speculative_model_dir: yuhuili/EAGLE3-LLaMA3.1-Instruct-8B\n")
    result = cli("import", "--check", "--", "trtllm-serve", "meta-llama/Llama-3.1-8B-Instruct",
                 "--config", "spec.yml", cwd=tmp_path)
    spec = spec_of(result.stdout)
    assert spec["speculative"] == {"method": "eagle3", "num_tokens": 4,
                                   "model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"}
    assert "TensorRT-LLM 1.2.1: round trip ok: the engine's parsed configuration is the same" in result.stderr
    assert result.exit_code == 0


def test_trtllm_serve_speculative_keys_without_a_field_are_said(cli, tmp_path):
    (tmp_path / "spec.yml").write_text("speculative_config:\n  decoding_type: MTP\n  num_nextn_predict_layers: 3\n"
                                       "  use_relaxed_acceptance_for_thinking: true\n")
    result = cli("import", "--", "trtllm-serve", "deepseek-ai/DeepSeek-R1", "--config", "spec.yml", cwd=tmp_path)
    assert spec_of(result.stdout)["speculative"] == {"method": "mtp", "num_tokens": 3}
    assert ("  note: options YAML keys deploy.yaml has no field for, left out (deployc writes its own options "
            "file): speculative_config.use_relaxed_acceptance_for_thinking") in result.stderr


def test_docker_options_of_the_container_are_reported_not_dropped_silently(cli):
    result = cli("import", "--", "docker", "run", "--rm", "--gpus", "all", "--shm-size", "1g", "-p", "8080:80",
                 "-v", "/srv/data:/data", "ghcr.io/huggingface/text-generation-inference:3.3.5",
                 "--model-id", "org/model")
    assert result.exit_code == 0, result.stderr
    why = ("is the container's, not the engine's: not in the spec (deployc's compose.yaml and `deployc up` set GPUs "
           "from parallelism, their own model-cache volume and shm)")
    notes = [line for line in result.stderr.splitlines() if line.startswith("  note: docker option")]
    assert notes == [f"  note: docker option {o} {why}" for o in ("--gpus all", "--shm-size 1g", "-v /srv/data:/data")]
