"""The Ollama target: a Modelfile, create.sh (`ollama create`), serve.env and compose.yaml.

Every spelling is checked against Ollama's source at each pinned tag (versions.py
names the commits): parser/parser.go (Modelfile grammar, commands, deprecated
parameters), api/types.go (Options/Runner json tags = PARAMETER names),
envconfig/config.go (OLLAMA_* variables and defaults), cmd/cmd.go (`create -f -q`),
fs/ggml/type.go ParseFileType and server/create.go (quantize levels and sources).

Spec -> Ollama, decisions worth knowing:
- FROM: model.gguf (a .gguf file), else a local model.source folder (safetensors,
  imported by `ollama create`), else a hub repo named *-GGUF as hf.co/org/name (Ollama
  pulls GGUF repos from Hugging Face). Any other hub id is an error: Ollama cannot
  import it.
- PARAMETER num_ctx is always written (max_model_len, else the model's
  max_position_embeddings), and OLLAMA_CONTEXT_LENGTH equals it: Ollama's default
  context is small and it truncates longer prompts silently. num_ctx is per parallel
  slot: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL tokens.
- max_output_tokens -> PARAMETER num_predict, a per-model default that a request's own
  num_predict / max_tokens replaces (Ollama has no server-wide cap).
  max_batch_tokens -> PARAMETER num_batch. max_concurrency -> OLLAMA_NUM_PARALLEL
  (written even at its default, 1). memory_utilization -> OLLAMA_GPU_OVERHEAD, the
  bytes Ollama leaves free on each GPU.
- Weights: int8/int4 and targets.ollama.quantize -> `ollama create --quantize LEVEL`;
  a 16/32-bit source with an explicit dtype -> --quantize F16|BF16|F32. Ollama
  quantizes only F16/BF16/F32 sources, so a quantized GGUF takes neither.
- kv_cache_dtype fp8 -> OLLAMA_KV_CACHE_TYPE=q8_0 (Ollama has no fp8 cache) with
  OLLAMA_FLASH_ATTENTION=1, without which Ollama ignores the cache type.
- `args` go to `ollama create` (the only command deployc runs with flags; `ollama
  serve` takes its settings from the environment); `env` goes to `ollama serve`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath

from pydantic import Field

from compiler.diagnostics import Diagnostic, error
from compiler.plan import Plan
from compiler.render import comment_block, dump_yaml, render_template, sh_env_value
from compiler.spec import Plain, is_local
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container
from targets.ollama import modelfile
from targets.ollama.versions import VERSIONS, OllamaVersion

# PARAMETERs deployc writes from the spec, and the spec path that owns each.
OWNED_PARAMETERS = {
    "num_ctx": ("limits", "max_model_len"),
    "num_predict": ("limits", "max_output_tokens"),
    "num_batch": ("limits", "max_batch_tokens"),
    "stop": ("targets", "ollama", "stop"),
}

# Environment variables `ollama serve` reads for a setting deployc derives.
OWNED_ENV = {
    "OLLAMA_HOST": ("server", "port"),
    "OLLAMA_NUM_PARALLEL": ("limits", "max_concurrency"),
    "OLLAMA_CONTEXT_LENGTH": ("limits", "max_model_len"),
    "OLLAMA_KV_CACHE_TYPE": ("precision", "kv_cache_dtype"),
    "OLLAMA_KEEP_ALIVE": ("targets", "ollama", "keep_alive"),
    "OLLAMA_GPU_OVERHEAD": ("hardware", "memory_utilization"),
    "OLLAMA_MODELS": ("targets", "ollama"),  # compose mounts the model store at the default place
}
FLASH_ATTENTION = "OLLAMA_FLASH_ATTENTION"

# `ollama create` flags deployc sets (cobra/pflag: exact long names, `-qLEVEL` glued shorthands).
OWNED_FLAGS = {"--file": ("targets", "ollama"), "-f": ("targets", "ollama"),
               "--quantize": ("targets", "ollama", "quantize"), "-q": ("targets", "ollama", "quantize")}

_DTYPE_LEVEL = {"float16": "F16", "bfloat16": "BF16", "float32": "F32"}
_SPEC_LEVEL = {"int8": "Q8_0", "int4": "Q4_K_M"}
_GGUF_REPO = re.compile(r"-gguf$", re.IGNORECASE)
# types/model/name.go isValidPart: [namespace/]model[:tag]
_MODEL_NAME = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
                         r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$")
# Files next to the Modelfiles: a FROM naming one of them would read it as a path, not a model.
_OUR_FILES = ("modelfile", "create.sh", "serve.env", "compose.yaml", "deployc-manifest.json")
MODEL_STORE = "/root/.ollama"
TEMPLATES = Path(__file__).parent / "templates"


class OllamaOptions(TargetOptions):
    """targets.ollama: the common options plus the Modelfile settings deploy.yaml v1 lacks."""

    args: list[Plain] = Field(
        default_factory=list,
        description="Extra `ollama create` arguments appended after deployc's own (e.g. [\"--experimental\"]); "
                    "-f/--file and -q/--quantize are deployc's.")
    quantize: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]{1,16}$",
        description="Quantize level for `ollama create --quantize` (any case): q4_K_M, q4_K_S, q8_0, f16, bf16, "
                    "f32. Ollama quantizes only F16/BF16/F32 sources.", examples=["q4_K_M"])
    system: str | None = Field(default=None, min_length=1, description="SYSTEM message of the model (Modelfile SYSTEM).")
    template: str | None = Field(
        default=None, min_length=1,
        description="Prompt template in Ollama's Go template syntax (Modelfile TEMPLATE); Jinja chat "
                    "templates do not work here. Default: the template inside the GGUF / model folder.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences (one PARAMETER stop each).")
    keep_alive: str | None = Field(
        default=None, pattern=r"^-?([0-9]+|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
        description="How long a model stays loaded after a request (OLLAMA_KEEP_ALIVE): a Go duration such as "
                    "5m or 24h, seconds, or -1 for ever. Default: Ollama's 5m, written explicitly.")
    parameters: dict[str, int | float | bool | str] = Field(
        default_factory=dict,
        description="Other Modelfile PARAMETERs by Ollama name (temperature, top_p, seed, ...); num_ctx, "
                    "num_predict, num_batch and stop come from the spec.", examples=[{"temperature": 0.7}])


class OllamaTarget(Target):
    name = "ollama"
    title = "Ollama"
    versions = tuple(VERSIONS)
    options = OllamaOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        return _HINTS.get(capability)

    def check(self, plan: Plan, opts: OllamaOptions, version: str) -> list[Diagnostic]:
        v = VERSIONS[version]
        out: list[Diagnostic] = []
        m, lim, p = plan.model, plan.limits, plan.precision
        _, problem = _from(plan)
        if problem:
            out.append(problem)
        if p.quantization == "gguf" and m.gguf is None and not _GGUF_REPO.search(m.source):
            out.append(error("ollama-gguf", "quantization gguf needs the .gguf file Ollama loads",
                             hint="set model.gguf to the file's path", path=("precision", "quantization")))
        out += _check_weights(plan, opts, v)
        ctx = _num_ctx(plan)
        if ctx is None:
            out.append(error(
                "ollama-context", f"Ollama {version} needs an explicit context: without num_ctx it uses "
                f"{v.default_context} and silently truncates longer prompts",
                hint="set limits.max_model_len (or model.facts.max_position_embeddings)",
                path=("limits", "max_model_len") if lim.model_fields_set else ("model", "source")))
        elif lim.max_input_tokens is not None and lim.max_input_tokens != ctx - 1:
            out.append(error(
                "ollama-max-input", "Ollama has no prompt-length limit of its own: prompts share num_ctx "
                "with the completion", hint=f"remove limits.max_input_tokens for ollama, or set it to {ctx - 1}",
                path=("limits", "max_input_tokens")))
        out += _check_names(plan)
        out += _check_parameters(opts, v)
        for key in ("system", "template"):
            value = getattr(opts, key)
            if value is not None and modelfile.encode(value) is None:
                out.append(_unwritable(("targets", "ollama", key), value))
        for i, stop in enumerate(opts.stop):
            if modelfile.encode(stop) is None:
                out.append(_unwritable(("targets", "ollama", "stop", i), stop))
        _, problem = container.port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        out += _arg_conflicts(opts.args, v)
        out += container.env_conflicts(opts.env, _owned_env(plan), self.name)
        return out

    def lower(self, plan: Plan, opts: OllamaOptions, version: str, ctx: BuildContext) -> Lowered:
        v = VERSIONS[version]
        m = plan.model
        banner = container.banner(ctx, self.name, self.title, version)
        source, _ = _from(plan)
        assert source is not None
        base = _modelfile_path(source, ctx)
        num_ctx = _num_ctx(plan)
        assert num_ctx is not None
        parallel = plan.limits.max_concurrency or 1

        mf = modelfile.Modelfile(header=banner + [
            f"`ollama create {m.served_name} -f Modelfile` (create.sh) builds the model {m.served_name}.",
            f"num_ctx is per parallel request: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL = "
            f"{num_ctx} x {parallel} = {num_ctx * parallel} tokens{_kv_bytes(plan, num_ctx * parallel)}.",
        ])
        mf.command("FROM", base)
        mf.parameter("num_ctx", num_ctx)
        if plan.limits.max_output_tokens is not None:
            mf.parameter("num_predict", plan.limits.max_output_tokens)
        if plan.limits.max_batch_tokens is not None:
            mf.parameter("num_batch", plan.limits.max_batch_tokens)
        for stop in opts.stop:
            mf.parameter("stop", stop)
        for name, value in sorted(opts.parameters.items()):
            mf.parameter(name, value)
        if opts.template is not None:
            mf.command("TEMPLATE", opts.template)
        if opts.system is not None:
            mf.command("SYSTEM", opts.system)

        create = ["ollama", "create", m.served_name, "-f", "Modelfile"]
        level = _level(plan, opts, v)
        if level is not None:
            create += ["--quantize", level]
        create += list(opts.args)
        creates, adapter_files = [create], []
        for a in m.adapters:
            # FROM the model just created: the adapter model inherits its quantized weights and parameters.
            amf = modelfile.Modelfile(header=banner + [
                f"LoRA adapter {a.name} on {m.served_name}: `ollama create {a.name} -f Modelfile.{a.name}` "
                "(create.sh, after the base model).",
                "Parameters, template and system are inherited from the base model."])
            amf.command("FROM", m.served_name)
            amf.command("ADAPTER", _modelfile_path(("file", a.source), ctx))
            adapter_files.append(Artifact(f"Modelfile.{a.name}", amf.render()))
            creates.append(["ollama", "create", a.name, "-f", f"Modelfile.{a.name}"])

        env = _serve_env(plan, opts, v, plan.server.host, num_ctx)
        url = container.client_url(plan.server.host, plan.server.port)
        serve_env = comment_block(banner + [
            f"Environment of `ollama serve` (Ollama {version}): `set -a; . ./serve.env; set +a; ollama serve`.",
            "Values are shell-quoted; ${NAME} references expand from the caller's environment.",
        ]) + "".join(f"{k}={sh_env_value(val) if k in opts.env else shlex.quote(val)}\n" for k, val in env)
        script = render_template(
            TEMPLATES, "create.sh.j2",
            banner=banner, about=[
                f"Builds the Ollama model {m.served_name} from Modelfile on the server at {url}",
                f"(`ollama serve` with serve.env, or `docker compose up -d` with compose.yaml; Ollama {version}).",
            ], host=shlex.quote(_client_host(plan)), creates=creates)

        port, _ = container.port_binding(plan.server.host, plan.server.port)
        compose_env = dict(_serve_env(plan, opts, v, "0.0.0.0", num_ctx, compose=True))
        amd = plan.hardware.gpu.vendor == "amd"
        compose = container.compose_file(
            header=banner + ["", f"docker compose up -d, then ./create.sh; the API is at {url}/v1 "
                                 "(OpenAI-compatible) and /api."],
            service=plan.name, image=opts.image or (v.image + "-rocm" if amd else v.image), command=["serve"],
            port=port, plan=plan, env_pass=[], env_set=compose_env, volumes=[],
            health_url="", container_cache=MODEL_STORE,
            cache_volume=f"${{OLLAMA_MODELS_DIR:-~/.ollama}}:{MODEL_STORE}",
            health_test=["CMD", "ollama", "list"], start_period="5m")
        return Lowered(
            artifacts=(Artifact("Modelfile", mf.render()), *adapter_files, Artifact("create.sh", script, executable=True),
                       Artifact("serve.env", serve_env), Artifact("compose.yaml", compose)),
            command=tuple(create))


_HINTS = {
    Capability.TENSOR_PARALLEL: "Ollama splits a model's layers across all visible GPUs on its own; remove "
                                "parallelism.tensor (hardware.count still sets the GPUs)",
    Capability.PIPELINE_PARALLEL: "Ollama splits a model's layers across all visible GPUs on its own; remove "
                                  "parallelism.pipeline",
    Capability.DATA_PARALLEL: "run one Ollama server per copy behind a load balancer; raise "
                              "limits.max_concurrency (OLLAMA_NUM_PARALLEL) for more requests per server",
    Capability.REVISION: "download that revision into a local folder and point model.source at it",
    Capability.CUSTOM_TOKENIZER: "Ollama uses the tokenizer inside the GGUF file or model folder",
    Capability.REMOTE_CODE: "Ollama converts only architectures it implements and runs no model code",
    Capability.CHAT_TEMPLATE: "Ollama's TEMPLATE is a Go template, not Jinja: put one in "
                              "targets.ollama.template, or rely on the template inside the GGUF / model folder",
    Capability.API_KEY: "Ollama's server has no API key; put an authenticating reverse proxy in front of it",
    Capability.QUANT_FP8: "Ollama has no fp8 weights: use targets.ollama.quantize: q8_0",
    Capability.QUANT_AWQ: "Ollama imports GGUF or 16/32-bit safetensors: use a GGUF file (model.gguf) or "
                          "targets.ollama.quantize: q4_K_M on the 16-bit checkpoint",
    Capability.QUANT_GPTQ: "Ollama imports GGUF or 16/32-bit safetensors: use a GGUF file (model.gguf) or "
                           "targets.ollama.quantize: q4_K_M on the 16-bit checkpoint",
    Capability.QUANT_BITSANDBYTES: "use targets.ollama.quantize: q4_K_M (quantized once, at `ollama create`)",
}


def _from(plan: Plan) -> tuple[tuple[str, str] | None, Diagnostic | None]:
    """(kind, reference) of what FROM names: a gguf file, a local folder, or a hf.co GGUF repo."""
    m = plan.model
    if m.gguf is not None:
        return ("file", m.gguf), None
    if is_local(m.source):
        return ("file", m.source), None
    if _GGUF_REPO.search(m.source):
        return ("hub", f"hf.co/{m.source}"), None
    return None, error(
        "ollama-model-source", f"Ollama cannot import the hub model {m.source}: it loads a GGUF file, a local "
        "safetensors folder, or a Hugging Face repo of GGUF files (hf.co/org/name-GGUF)",
        hint=f"set model.gguf to a .gguf file, or download the model (`hf download {m.source} --local-dir "
             f"./models/{m.source.rsplit('/', 1)[-1]}`) and point model.source at that folder",
        path=("model", "source"))


def _check_names(plan: Plan) -> list[Diagnostic]:
    """Served and adapter names become Ollama model names; adapters must be local files or folders."""
    out = []
    m = plan.model
    named = [(m.served_name, ("model", "served_name" if "served_name" in m.model_fields_set else "source"))]
    named += [(a.name, ("model", "adapters", i, "name")) for i, a in enumerate(m.adapters)]
    for name, path in named:
        if not _MODEL_NAME.match(name) or name.lower().startswith(_OUR_FILES):
            out.append(error(
                "ollama-model-name", f"{name!r} is not an Ollama model name" + (
                    "" if _MODEL_NAME.match(name) else ": [namespace/]model[:tag], each part 1-80 letters, "
                    "digits, '_', '-' or '.', starting with a letter, digit or '_'"),
                hint="set model.served_name (or the adapter's name) to e.g. " + (
                    re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:80] or "my-model")
                + (" (not the name of a file deployc writes)" if _MODEL_NAME.match(name) else ""), path=path))
    for i, a in enumerate(m.adapters):
        if not is_local(a.source):
            out.append(error("ollama-adapter-source", f"Ollama imports a LoRA adapter from a local safetensors "
                             f"folder or .gguf file, not the hub id {a.source}",
                             hint=f"download it (`hf download {a.source} --local-dir ./adapters/{a.name}`) and "
                                  "point the adapter's source there", path=("model", "adapters", i, "source")))
    return out


def _modelfile_path(source: tuple[str, str], ctx: BuildContext) -> str:
    """FROM value: Ollama resolves relative paths against the Modelfile's own folder."""
    kind, ref = source
    if kind == "hub" or ref.startswith(("/", "~")):
        return ref
    return (PurePosixPath(ctx.spec_dir) / ref).as_posix()


def _num_ctx(plan: Plan) -> int | None:
    return plan.limits.max_model_len or plan.model.facts.max_position_embeddings


def _quantized_source(plan: Plan) -> bool:
    return plan.precision.quantization == "gguf" or (plan.model.gguf is None and not is_local(plan.model.source))


def _normalize_level(value: str, v: OllamaVersion) -> str | None:
    up = value.upper()
    up = v.quantize_aliases.get(up, up)
    return up if up in v.quantize_levels else None


def _level(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> str | None:
    """The --quantize level: targets.ollama.quantize, int8/int4, or an explicit dtype of a 16-bit source."""
    if opts.quantize is not None:
        return _normalize_level(opts.quantize, v)
    if plan.precision.quantization in _SPEC_LEVEL:
        return _SPEC_LEVEL[plan.precision.quantization]
    if not _quantized_source(plan):
        return _DTYPE_LEVEL.get(plan.precision.dtype)
    return None


def _check_weights(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out = []
    quant, dtype = plan.precision.quantization, plan.precision.dtype
    wanted = _SPEC_LEVEL.get(quant)
    if opts.quantize is not None:
        level = _normalize_level(opts.quantize, v)
        where = ("targets", "ollama", "quantize")
        if level is None:
            out.append(error("ollama-quantize", f"Ollama {v.version} has no quantize level {opts.quantize!r}",
                             hint="use one of: " + ", ".join(v.quantize_levels) + " (any case)", path=where))
            return out
        if wanted is not None and level != wanted:
            out.append(error("ollama-quantize", f"quantize {level} contradicts precision.quantization {quant}, "
                             f"which deployc writes as --quantize {wanted}",
                             hint=f"remove one of them, or set quantize: {wanted}", path=where))
    else:
        level, where = wanted, ("precision", "quantization")
    if level is not None and _quantized_source(plan):
        out.append(error(
            "ollama-quantize", f"Ollama {v.version} quantizes only {'/'.join(v.quantize_from)} models; "
            "a quantized GGUF keeps its own type", hint="quantize from the 16-bit checkpoint (a local "
            "safetensors folder or an F16 GGUF with quantization: none), or drop the quantize level", path=where))
    elif level is not None and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"--quantize {level} sets the stored weight type; Ollama has no separate "
                         f"{dtype} setting", hint="use dtype: auto with a quantize level",
                         path=("precision", "dtype")))
    elif level is None and _quantized_source(plan) and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"a quantized GGUF keeps its own weight type; Ollama has no {dtype} "
                         "setting", hint="use dtype: auto", path=("precision", "dtype")))
    return out


def _check_parameters(opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out = []
    for name, value in opts.parameters.items():
        where = ("targets", "ollama", "parameters", name)
        kind = v.parameters.get(name)
        if name in OWNED_PARAMETERS:
            owner = ".".join(OWNED_PARAMETERS[name])
            out.append(error("ollama-parameter", f"PARAMETER {name} is {owner}, which deployc writes",
                             hint=f"set {owner} instead", path=where, anchor="key"))
        elif name in v.deprecated:
            out.append(error("ollama-parameter", f"Ollama {v.version} ignores PARAMETER {name} "
                             "(parser.go deprecatedParameters)", hint="remove it", path=where, anchor="key"))
        elif kind is None:
            why = v.removed.get(name, "not a field of api.Options")
            out.append(error("ollama-parameter", f"Ollama {v.version} has no PARAMETER {name}: {why}",
                             hint="known: " + ", ".join(sorted(set(v.parameters) - set(OWNED_PARAMETERS))),
                             path=where, anchor="key"))
        elif not _kind_ok(kind, value):
            out.append(error("ollama-parameter", f"PARAMETER {name} takes {'an' if kind == 'int' else 'a'} {kind}, "
                             f"got {value!r}", hint=f"write a YAML {kind}", path=where))
        elif isinstance(value, str) and modelfile.encode(value) is None:
            out.append(_unwritable(where, value))
    return out


def _kind_ok(kind: str, value) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def _unwritable(path, value: str) -> Diagnostic:
    return error("ollama-modelfile-value", f"this value cannot be written into a Modelfile: "
                 f"{modelfile.why_not(value)}", hint="change the text (Ollama's parser has no escapes)", path=path)


def _arg_conflicts(args, v: OllamaVersion) -> list[Diagnostic]:
    """cobra/pflag parsing of `ollama create MODEL`: exact long names (`--quantize=x` or `--quantize x`),
    glued shorthands (`-qx`), unknown flags and extra positional arguments are errors (ExactArgs(1))."""
    out = []
    value_next = False
    for i, token in enumerate(args):
        where = ("targets", "ollama", "args", i)
        if value_next:
            value_next = False
            continue
        if token.startswith("--") and len(token) > 2:
            flag, glued = token.split("=", 1)[0], "=" in token
        elif token.startswith("-") and len(token) > 1 and token != "--":
            flag, glued = token[:2], len(token) > 2
        else:
            out.append(error("ollama-args", f"{token!r} would be a second model name: `ollama create` takes "
                             "exactly one", hint="pass flags only", path=where))
            continue
        kind = v.create_flags.get(flag)
        if flag in OWNED_FLAGS:
            owner = ".".join(OWNED_FLAGS[flag])
            out.append(error("target-args-conflict", f"{flag} in targets.ollama.args restates {owner}, which "
                             "deployc derives from the spec", hint=f"set {owner} instead and remove it from args",
                             path=where))
        elif kind is None:
            out.append(error("ollama-args", f"`ollama create` of Ollama {v.version} has no flag {flag}",
                             hint="flags: " + ", ".join(sorted(f for f in v.create_flags if f.startswith("--"))),
                             path=where))
        elif flag == "--draft-quantize":
            out.append(error("ollama-args", "--draft-quantize needs a DRAFT model, which deployc does not write",
                             hint="remove it", path=where))
        value_next = kind == "string" and not glued
    return out


def _owned_env(plan: Plan) -> dict[str, tuple[str, ...]]:
    owned = dict(OWNED_ENV)
    if plan.precision.kv_cache_dtype == "fp8":
        owned[FLASH_ATTENTION] = ("precision", "kv_cache_dtype")
    return owned


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _client_host(plan: Plan) -> str:
    """OLLAMA_HOST for the `ollama create` client: where the server is reachable on this machine."""
    return container.client_url(plan.server.host, plan.server.port)


def _serve_env(plan: Plan, opts: OllamaOptions, v: OllamaVersion, host: str, num_ctx: int,
               compose: bool = False) -> list[tuple[str, str]]:
    gpu = plan.hardware.gpu
    overhead = round((1 - plan.hardware.memory_utilization) * gpu.memory_gib * 2**30)
    env = [
        ("OLLAMA_HOST", _host_port(host, plan.server.port)),
        ("OLLAMA_CONTEXT_LENGTH", str(num_ctx)),
        ("OLLAMA_NUM_PARALLEL", str(plan.limits.max_concurrency or 1)),
        ("OLLAMA_KEEP_ALIVE", opts.keep_alive or v.default_keep_alive),
        ("OLLAMA_GPU_OVERHEAD", str(overhead)),
    ]
    if plan.precision.kv_cache_dtype == "fp8":
        env += [("OLLAMA_KV_CACHE_TYPE", "q8_0"), (FLASH_ATTENTION, "1")]
    if compose:
        return [(k, val.replace("$", "$$")) for k, val in env] + list(container.compose_env(opts).items())
    return env + sorted(opts.env.items())


def _kv_bytes(plan: Plan, tokens: int) -> str:
    f = plan.model.facts
    head_dim = f.head_dim or (f.hidden_size // f.attention_heads if f.hidden_size and f.attention_heads else None)
    if not (f.layers and f.kv_heads and head_dim):
        return ""
    per_token = 2 * f.layers * f.kv_heads * head_dim * (1 if plan.precision.kv_cache_dtype == "fp8" else 2)
    return f" (about {tokens * per_token / 2**30:.1f} GiB at {per_token} bytes per token)"
