"""What differs between the XInference versions deployc writes for: data, not if-statements.

Read from the PyPI wheels of each release (their xinference/ tree is the tagged
source) and checked by the conformance tier against the real xinference-client
(tests/conformance/test_xinference_client.py). Line references are to those files.

  4.1.0   xinference-4.1.0-py3-none-any.whl, xinference/_version.py commit_id 'ga3625815f'
          (the full SHA is not in the artifact); client xinference-client 4.1.0,
          commit 63f5e9dd6df9f0bc9a91569268e7528883255b2f (xinference_client/_version.py)
  1.17.1  xinference-1.17.1, commit 47669e61d69bbcb450b67325b6b4fe32294506fc
          (xinference/_version.py full-revisionid); client xinference-client 1.16.0 (the newest
          1.x client; there is no 1.17 client), commit 5d9fc3b01cb65daaded13897e4a0a897996a0543

Facts common to both, with their place in the source:
- `xinference-local --host H --port P` (xinference/deploy/cmdline.py `local`, 4.1.0:186-238,
  1.17.1:178-230); defaults 127.0.0.1 and 9997 (xinference/constants.py:376-378).
- `xinference launch` (cmdline.py `model_launch`, 4.1.0:765-962, 1.17.1:720-893) is a click
  command with ignore_unknown_options/allow_extra_args: every token click does not know lands
  in ctx.args, which is read two at a time as `--key value`; the key is the token minus its
  `--`, verbatim (a dash stays a dash), and the value goes through
  xinference/deploy/utils.py handle_click_args_type ("None", true/false, int, float, then in
  4.1.0 only JSON for values starting with { or [, else the string). A valueless flag shifts
  every later pair.
- `--model-engine` is required for LLMs (cmdline.py model_launch; restful_api.py launch_model
  rejects a body without model_engine). `--size-in-billions` stays a string when it holds
  `_` (0_5), else becomes an int; `--trust-remote-code` is a click bool option whose
  DEFAULT IS TRUE, so deployc always spells it.
- POST /v1/models (xinference/api/restful_api.py launch_model, 4.1.0:1766, 1.17.1:1210) takes
  the named fields and forwards every other body key as a model kwarg; the vLLM engine puts
  them into AsyncEngineArgs (xinference/model/llm/vllm/core.py VLLMModelConfig and
  _sanitize_model_config). `model_quantization` becomes vLLM's `quantization` there, because
  the body's own `quantization` is XInference's registry name (Int4, none, ...).
- n_gpu must equal tensor_parallel_size x pipeline_parallel_size: the vLLM engine refuses
  anything else (4.1.0 vllm/core.py:909-930 _get_native_mp_parallelism).
- A launch's model_path must exist where the worker runs (core/worker.py:4678 os.path.exists);
  a relative one resolves against the server's working directory (start.sh: the spec's folder).
- XInference's vLLM defaults differ from vLLM's: gpu_memory_utilization 0.90 and
  max_num_seqs 256 (_sanitize_model_config), so deployc passes both when the spec sets them.
- Custom LLMs: `xinference register --model-type LLM --file F` posts CustomLLMFamilyV2
  (xinference/model/llm/llm_family.py): version 2, model_family required (the built-in family
  whose chat template and architecture it borrows), model_specs with model_format
  pytorch|gptq|awq|fp4|fp8|bnb, model_size_in_billions, quantization, model_id,
  model_revision; a model_uri must be absolute (xinference/model/utils.py is_valid_model_uri),
  so deployc passes local paths as the launch's model_path instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployc.compiler.api import RECIPE_CAPABILITIES, Capability, EngineVersion

# Issue 20, item 3, stated explicitly: XInference parses tool calls itself per model family (auto writes
# nothing, a name is refused); it takes no reasoning parser of the spec's kind.
_RECIPES = frozenset({Capability.TOOL_PARSER})

# Spec features no XInference version expresses through the vLLM engine (see the target docstring).
_NEVER = frozenset({
    Capability.MAX_INPUT_TOKENS,  # its vLLM engine bounds prompts only by max_model_len
    Capability.AMD_GPU,           # the xprobe/xinference image is a CUDA build
    Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE, Capability.MAX_OUTPUT_TOKENS,
    Capability.QUANT_INT8, Capability.QUANT_INT4, Capability.QUANT_BITSANDBYTES,
    # FP4 checkpoints: no registry format deployc can name them by (model_format pytorch|gptq|awq|fp4|fp8|bnb)
    Capability.QUANT_MXFP4, Capability.QUANT_NVFP4,
    # its vLLM engine takes n_gpu = tensor x pipeline GPUs only (the docstring above), so no data ranks inside
    # one engine; expert parallelism goes through as the vLLM kwarg enable_expert_parallel
    Capability.ATTENTION_DATA_PARALLEL,
})


@dataclass(frozen=True)
class XinferenceVersion(EngineVersion):
    commit: str
    client: str            # the xinference-client release launch.py is written for
    client_commit: str
    # Options of `xinference launch` (cmdline.py model_launch): every spelling click knows.
    # A token in targets.xinference.args that is one of these is parsed by click, not paired.
    launch_options: frozenset[str]
    # handle_click_args_type parses values starting with { or [ as JSON (4.1.0 only).
    args_json: bool
    # Auth: 4.1.0 turns database-backed auth on unless XINFERENCE_AUTH_ADVANCED=0
    # (constants.py:162-176 is_auth_advanced; restful_api.py:781); keys are issued by the
    # server after first-run setup (POST /v1/admin/setup). 1.17.1 authenticates only with an
    # --auth-config file of users, passwords and a JWT secret (api/oauth2/auth_service.py).
    auth_env: str | None
    # trust_remote_code: 4.1.0 honours it only when the server runs with
    # XINFERENCE_TRUST_REMOTE_CODE=1 (constants.py:335-344; vllm/core.py:1678-1684);
    # 1.17.1's vLLM engine defaults it to True (vllm/core.py:787 setdefault).
    remote_code_env: str | None
    # Values `xinference launch` sends by default that launch_model's own defaults do not
    # (found by the conformance probe): written into launch.json/launch.py so all three agree.
    cli_defaults: tuple[tuple[str, object], ...] = ()


_LAUNCH_COMMON = frozenset({
    "--endpoint", "-e", "--model-name", "-n", "--model-type", "-t", "--model-engine", "-en",
    "--model-uid", "-u", "--size-in-billions", "-s", "--model-format", "-f", "--quantization", "-q",
    "--replica", "-r", "--n-worker", "--n-gpu", "--lora-modules", "-lm", "--image-lora-load-kwargs", "-ld",
    "--image-lora-fuse-kwargs", "-fd", "--quantization-config", "-qc", "--worker-ip", "--gpu-idx",
    "--trust-remote-code", "--api-key", "-ak", "--model-path", "-mp", "--enable-thinking",
    "--enable-virtual-env", "--disable-virtual-env", "--virtual-env-package", "-vp", "--env", "-ev",
    "--help",
})

VERSIONS: dict[str, XinferenceVersion] = {
    "4.1.0": XinferenceVersion(
        version="4.1.0",
        commit="a3625815f",
        client="4.1.0",
        client_commit="63f5e9dd6df9f0bc9a91569268e7528883255b2f",
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _NEVER) | _RECIPES,
        # 4.1.0 adds --context-length, --replica-config/--replica_config, --virtual-env-find-link
        launch_options=_LAUNCH_COMMON | {"--context-length", "--replica-config", "--replica_config",
                                         "--virtual-env-find-link"},
        args_json=True,
        auth_env="XINFERENCE_AUTH_ADVANCED",
        remote_code_env="XINFERENCE_TRUST_REMOTE_CODE",
        # --enable-thinking is a flag with default=False in 4.1.0 (cmdline.py:920-925), so the CLI
        # turns hybrid reasoning off; launch_model's default None would keep the model's own.
        cli_defaults=(("enable_thinking", False),),
    ),
    "1.17.1": XinferenceVersion(
        version="1.17.1",
        commit="47669e61d69bbcb450b67325b6b4fe32294506fc",
        client="1.16.0",
        client_commit="5d9fc3b01cb65daaded13897e4a0a897996a0543",
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _NEVER - {Capability.API_KEY}) | _RECIPES,
        launch_options=_LAUNCH_COMMON,
        args_json=False,
        auth_env=None,
        remote_code_env=None,
        # The 1.17.1 CLI sends enable_thinking (default None, cmdline.py model_launch); client 1.16.0's
        # launch_model has no such parameter, so without this launch.py's body would lack the key.
        cli_defaults=(("enable_thinking", None),),
    ),
}
