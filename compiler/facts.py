"""Model facts: the architecture numbers the checks and the memory plan need.

Sources, first match wins per field (a field a source lacks falls through):

1. ``model.facts`` in the spec: the user's word, for what no file says.
2. config.json of a local model folder (the safetensors index
   ``metadata.total_size`` or the safetensors headers give the exact checkpoint
   size); for a hub id, its entry in ``model-facts.lock.json`` beside the spec
   (compiler/factlock.py: config.json and weight size at a commit, written by
   ``deployc facts``), else, only when the build asks for it (``--hf-cache``),
   the local Hugging Face cache snapshot (``$HF_HUB_CACHE`` or
   ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``): it differs from machine
   to machine, so the build records it in the manifest.
3. The built-in catalog ``model_catalog.json``: popular models, each number
   copied from that model's config.json on the Hub (the entry cites it); a
   derivative checkpoint (a later release, a re-quantized copy) resolves to its
   base entry with its own quantization (compiler/derivatives.py), as does the
   base model a locked checkpoint declares. Never the network.

When a config.json spoke (2), it alone says how the checkpoint is quantized.

A user fact that contradicts config.json is a warning at the fact. The parse
of config.json follows what the engines read: ``text_config`` for
multimodal wrappers (Gemma 3), ``num_key_value_heads`` defaulting to the
attention heads, ``head_dim`` defaulting to hidden/heads, the per-layer caches
(compiler/arch.py: ``layer_types``, Gemma's patterns, linear attention, MLA, KV-shared layers),
the parameter count in parts (compiler/params.py), and the
context as vLLM derives it in ``ModelConfig.get_and_verify_max_len``
(vllm/config/model.py, 275de34170654274616082721348b7edd9741d32): the
position limit, times the rope-scaling factor except for the llama3/longrope
types whose limit already includes it; yarn scales
``original_max_position_embeddings``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from deployc.compiler import arch as archmod
from deployc.compiler.arch import Arch
from deployc.compiler import derivatives, factlock
from deployc.compiler.diagnostics import Diagnostic, warning
from deployc.compiler.params import count

MAX_CONFIG_BYTES = 4 << 20


@dataclass(frozen=True)
class Facts:
    origin: str = "none"
    model_type: str | None = None
    architecture: str | None = None          # config.json "architectures"[0], e.g. Qwen2ForCausalLM
    layers: int | None = None
    hidden_size: int | None = None
    intermediate_size: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    vocab_size: int | None = None
    max_position_embeddings: int | None = None
    context: int | None = None               # max_model_len the engines accept (rope scaling applied)
    rope_scaling: str | None = None          # "yarn x4.0" etc., for messages
    rope_theta: float | None = None          # RoPE base (config.json rope_theta, or rope_parameters.rope_theta)
    sliding_window: int | None = None
    sliding_layers: int | None = None        # layers that use the window (the rest attend fully)
    kv_lora_rank: int | None = None          # MLA
    qk_rope_head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    parameters: float | None = None
    embedding_parameters: float | None = None    # kept 16-bit by quantized checkpoints
    expert_parameters: float | None = None       # routed experts
    vision_parameters: float | None = None       # vision/audio towers
    replicated_parameters: float | None = None   # held whole by every tensor rank (compiler/params.py)
    unquantized_parameters: float | None = None  # of those, 16-bit in any checkpoint (routers)
    moe_layers: int | None = None                # decoder layers with routed experts
    arch: Arch | None = None                     # per-layer caches (compiler/arch.py)
    tie_word_embeddings: bool | None = None
    torch_dtype: str | None = None
    quant_method: str | None = None          # the checkpoint's quantization_config.quant_method
    quant_bits: int | None = None
    quant_algo: str | None = None            # modelopt's NVFP4 / FP8
    quant_dense: bool | None = None          # attention stays 16-bit (gpt-oss: only the experts are MXFP4)
    checkpoint_bytes: int | None = None      # exact, from the safetensors of a local folder
    gguf_bytes: int | None = None            # size of model.gguf, when it is a local file
    derived: str | None = None               # facts of a base model, inferred from the checkpoint's name: why
    cite: str | None = None
    draft_vocab_size: int | None = None      # an EAGLE3 head's own LM head (config.json draft_vocab_size)

    @property
    def known(self) -> bool:
        return self.layers is not None

    @property
    def from_checkpoint(self) -> bool:
        """A config.json (local, cached or the catalog's copy) spoke: quant_method None means 16-bit."""
        return self.origin not in ("none", "model.facts")

    @property
    def mla(self) -> bool:
        return self.kv_lora_rank is not None

    def missing(self, *names: str) -> list[str]:
        return [n for n in names if getattr(self, n) is None]


_FACT_FIELDS = {f.name for f in fields(Facts)} - {"origin", "cite"}


def _first(cfg: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def from_config(cfg: Mapping[str, Any], origin: str) -> Facts:
    """Facts from a parsed config.json (any engine-readable Hugging Face config)."""
    outer = cfg
    if isinstance(cfg.get("text_config"), Mapping):
        cfg = {**{k: v for k, v in cfg.items() if k != "text_config"}, **cfg["text_config"]}
    layers = _int(_first(cfg, "num_hidden_layers", "n_layer", "num_layers"))
    hidden = _int(_first(cfg, "hidden_size", "n_embd", "d_model"))
    heads = _int(_first(cfg, "num_attention_heads", "n_head"))
    kv = _int(_first(cfg, "num_key_value_heads", "multi_query_group_num")) or heads
    head_dim = _int(cfg.get("head_dim")) or (hidden // heads if hidden and heads else None)
    positions = _int(_first(cfg, "max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"))
    rope_cfg = cfg.get("rope_scaling") or cfg.get("rope_parameters")
    context, rope = _context(positions, rope_cfg, str(cfg.get("model_type", "")))
    theta = cfg.get("rope_theta")
    if theta is None and isinstance(cfg.get("rope_parameters"), Mapping):
        theta = cfg["rope_parameters"].get("rope_theta")
    arch = archmod.from_config(cfg, layers, kv, head_dim)
    window = _int(cfg.get("sliding_window"))
    sliding = arch.count(archmod.SLIDING) if arch and window else None
    if not sliding:
        window = sliding = None
    experts = _int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts"))
    qc = outer.get("quantization_config") or cfg.get("quantization_config")
    method = bits = algo = None
    dense = None
    if isinstance(qc, Mapping):
        method = qc.get("quant_method") if isinstance(qc.get("quant_method"), str) else None
        bits = _int(qc.get("bits"))
        algo = qc.get("quant_algo") if isinstance(qc.get("quant_algo"), str) else None
        if method == "compressed-tensors":
            bits = bits or _compressed_bits(qc)
            # its format names the family: nvfp4-pack-quantized, float-quantized (fp8), pack-quantized (int4)
            algo = algo or (qc.get("format") if isinstance(qc.get("format"), str) else None)
        skip = qc.get("modules_to_not_convert") or qc.get("ignore") or []
        dense = (isinstance(skip, list) and any("self_attn" in str(m) for m in skip)) or None
    dtype = cfg.get("torch_dtype") or cfg.get("dtype")
    tie = outer.get("tie_word_embeddings", cfg.get("tie_word_embeddings"))
    if tie is None and str(cfg.get("model_type", "")).startswith("gemma"):
        tie = True  # Gemma configs default to shared embeddings (transformers GemmaConfig)
    parts = count(cfg, outer, layers, hidden, heads, kv, head_dim, experts, tie is True)
    archs = outer.get("architectures")
    return Facts(
        origin=origin, model_type=cfg.get("model_type") if isinstance(cfg.get("model_type"), str) else None,
        architecture=archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else None,
        layers=layers, hidden_size=hidden,
        intermediate_size=_int(_first(cfg, "intermediate_size", "ffn_dim", "n_inner")),
        attention_heads=heads, kv_heads=kv, head_dim=head_dim, vocab_size=_int(cfg.get("vocab_size")),
        max_position_embeddings=positions, context=context, rope_scaling=rope,
        rope_theta=float(theta) if isinstance(theta, (int, float)) and not isinstance(theta, bool) else None,
        sliding_window=window, sliding_layers=sliding,
        kv_lora_rank=_int(cfg.get("kv_lora_rank")), qk_rope_head_dim=_int(cfg.get("qk_rope_head_dim")),
        experts=experts, experts_per_token=_int(_first(cfg, "num_experts_per_tok", "experts_per_token",
                                                       "top_k_experts")),
        tie_word_embeddings=tie if isinstance(tie, bool) else None,
        torch_dtype=dtype if isinstance(dtype, str) else None, quant_method=method, quant_bits=bits,
        quant_algo=algo, quant_dense=dense, arch=arch,
        parameters=parts.total if parts else None, embedding_parameters=parts.embedding if parts else None,
        expert_parameters=parts.experts if parts and experts else None,
        vision_parameters=parts.vision if parts and parts.vision else None,
        replicated_parameters=parts.replicated if parts and parts.replicated else None,
        unquantized_parameters=parts.unquantized if parts and parts.unquantized else None,
        moe_layers=parts.moe_layers if parts and parts.moe_layers else None,
        draft_vocab_size=_int(cfg.get("draft_vocab_size")))


def _context(positions: int | None, rope: Any, model_type: str) -> tuple[int | None, str | None]:
    if positions is None or not isinstance(rope, Mapping) or "gemma3" in model_type:
        return positions, None   # Gemma 3's limit already includes its scaling (vLLM skips it too)
    kind = rope.get("rope_type") or rope.get("type")
    factor = rope.get("factor")
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor <= 1 or kind in (
            None, "default", "llama3", "longrope", "su", "mrope", "dynamic"):
        return positions, (f"{kind}" if kind not in (None, "default") else None)
    base = positions
    if kind == "yarn" and _int(rope.get("original_max_position_embeddings")):
        base = rope["original_max_position_embeddings"]
    return int(base * factor), f"{kind} x{factor:g}"


def _compressed_bits(qc: Mapping[str, Any]) -> int | None:
    for group in (qc.get("config_groups") or {}).values():
        weights = group.get("weights") if isinstance(group, Mapping) else None
        if isinstance(weights, Mapping) and (bits := _int(weights.get("num_bits"))):
            return bits
    return None


def merge(*layers: Facts) -> Facts:
    """Field-wise first non-None; origin lists the sources that contributed."""
    out: dict[str, Any] = {}
    origins: list[str] = []
    for f in layers:
        used = False
        for name in _FACT_FIELDS:
            if out.get(name) is None and getattr(f, name) is not None:
                out[name] = getattr(f, name)
                used = True
        if used and f.origin not in origins:
            origins.append(f.origin)
    cite = next((f.cite for f in layers if f.cite), None)
    return Facts(origin=" + ".join(origins) or "none", cite=cite, **out)


def from_user(facts: Any) -> Facts:
    """Facts from the spec's model.facts (a pydantic ModelFacts)."""
    data = {k: v for k, v in facts.model_dump().items() if v is not None}
    if not data:
        return Facts()
    window = data.get("sliding_window")
    f = Facts(origin="model.facts", layers=data.get("layers"), hidden_size=data.get("hidden_size"),
              attention_heads=data.get("attention_heads"), kv_heads=data.get("kv_heads"),
              head_dim=data.get("head_dim"), vocab_size=data.get("vocab_size"),
              max_position_embeddings=data.get("max_position_embeddings"),
              context=data.get("max_position_embeddings"), sliding_window=window,
              sliding_layers=data.get("layers") if window else None, kv_lora_rank=data.get("kv_lora_rank"),
              parameters=data.get("parameters"), tie_word_embeddings=data.get("tie_word_embeddings"),
              rope_theta=data.get("rope_theta"))
    if f.head_dim is None and f.hidden_size and f.attention_heads:
        f = replace(f, head_dim=f.hidden_size // f.attention_heads)
    return f


# --- where config.json lives ---------------------------------------------------------------------

def read_config(folder: Path) -> tuple[Mapping[str, Any] | None, str | None]:
    """(config, problem): a missing file is (None, None); an unreadable one says why."""
    path = folder / "config.json"
    try:
        if not path.is_file():
            return None, None
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None, f"{path.name} is larger than {MAX_CONFIG_BYTES >> 20} MiB"
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"cannot read {path.name}: {exc}"
    if not isinstance(data, dict):
        return None, f"{path.name} is not a JSON object"
    return data, None


def checkpoint_bytes(folder: Path) -> int | None:
    """Exact weight bytes of a local safetensors checkpoint: the index's total_size, else the headers."""
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file():
            total = json.loads(index.read_text(encoding="utf-8")).get("metadata", {}).get("total_size")
            if (size := _int(total)):
                return size
        total = 0
        for shard in sorted(folder.glob("*.safetensors")):
            total += _safetensors_payload(shard)
        return total or None
    except (OSError, ValueError, AttributeError, RecursionError):
        return None


def _safetensors_payload(path: Path) -> int:
    with path.open("rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        if not 0 < n <= MAX_CONFIG_BYTES * 25:
            raise ValueError("not a safetensors header")
        header = json.loads(fh.read(n))
    return sum(end - start for k, v in header.items() if k != "__metadata__"
               for start, end in [v["data_offsets"]])


def hf_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    return Path(env.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "huggingface" / "hub"


def hf_snapshot(repo_id: str, revision: str | None, cache: Path) -> Path | None:
    """The cached snapshot folder of repo_id@revision (default main), as huggingface_hub lays it out."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    rev = revision or "main"
    try:
        ref = repo / "refs" / rev
        commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else rev
        snap = repo / "snapshots" / commit
        return snap if snap.is_dir() else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


@lru_cache(maxsize=1)
def _catalog_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name("model_catalog.json").read_text(encoding="utf-8"))
    return data


def catalog() -> dict[str, dict[str, Any]]:
    return {entry["id"].lower(): entry for entry in _catalog_file()["models"]}


def catalog_derivatives() -> dict[str, dict[str, Any]]:
    """Checkpoints that are a catalog model's architecture with their own quantization_config and/or a few
    overridden keys (a quantized release, a distillation into a known shape, a renamed repository)."""
    return {entry["id"].lower(): entry for entry in _catalog_file().get("derivatives", [])}


def _derived_config(base: Mapping[str, Any], deriv: Mapping[str, Any]) -> dict[str, Any]:
    cfg = json.loads(json.dumps(base))
    if "quantization_config" in deriv:
        cfg["quantization_config"] = deriv["quantization_config"]
    text = cfg["text_config"] if isinstance(cfg.get("text_config"), dict) else cfg
    text.update(deriv.get("overrides", {}))
    return dict(cfg)


def from_catalog(repo_id: str) -> Facts:
    """The catalog's facts for a hub id: its own entry, or a derivative's base entry with the
    derivative's quantization_config and overrides."""
    entry = catalog().get(repo_id.lower())
    if entry is not None:
        f = from_config(entry["config"], f"catalog ({entry['id']})")
        return replace(f, parameters=entry.get("parameters"), cite=entry.get("source"))
    deriv = catalog_derivatives().get(repo_id.lower())
    base = catalog().get(str(deriv["base"]).lower()) if deriv else None
    if deriv is None or base is None:
        return Facts()
    f = from_config(_derived_config(base["config"], deriv), f"catalog ({deriv['id']}: {base['id']}'s architecture)")
    return replace(f, parameters=base.get("parameters"), cite=base.get("source"))


def catalog_facts(repo_id: str, base_model: str | None = None) -> Facts:
    """The catalog's facts for repo_id: its own entry, else the entry of the base model its lock entry
    declares, else of the base it derives from (a later release, a re-quantized copy, a mirror) with
    the checkpoint's own quantization."""
    if repo_id.lower() in catalog() or repo_id.lower() in catalog_derivatives():
        return from_catalog(repo_id)
    if base_model is not None and base_model.lower() in catalog():
        return replace(from_catalog(base_model), origin=f"catalog ({catalog()[base_model.lower()]['id']}, the "
                       f"base model {repo_id} declares)")
    found = derivatives.resolve(base_model or repo_id, [e["id"] for e in catalog().values()],
                                catalog_derivatives().values())
    if found is None:
        return Facts()
    f = replace(from_catalog(found.base), origin=f"catalog ({found.base}, the base of {repo_id})")
    if found.quant is not None:
        f = replace(f, quant_method=found.quant[0], quant_bits=found.quant[1] if found.quant[0] else None)
    return replace(f, derived=found.why) if found.inferred else f


def _architecture(f: Facts) -> Facts:
    """f without what only the checkpoint's own config.json may say (its quantization, its size)."""
    return replace(f, quant_method=None, quant_bits=None, torch_dtype=None, checkpoint_bytes=None, derived=None)


CACHE_ORIGIN = "Hugging Face cache"


def resolve_facts(source: str, revision: str | None, local: Path | None, user: Any,
                  env: Mapping[str, str] | None = None, *, spec_dir: Path | None = None,
                  hf_cache: bool = False) -> tuple[Facts, list[Diagnostic]]:
    """All sources merged, plus warnings for user facts that contradict config.json and for a lock
    file that cannot be used. spec_dir: where model-facts.lock.json is looked for; hf_cache: read
    the local Hugging Face cache (machine-dependent: only when the build asks)."""
    diags: list[Diagnostic] = []
    file_facts = Facts()
    locked: factlock.Locked | None = None
    if local is not None:
        cfg, problem = read_config(local)
        if problem:
            diags.append(warning("model-config", f"{source}: {problem}",
                                 hint="fix the file, or give the numbers under model.facts",
                                 path=("model", "source")))
        elif cfg is not None:
            file_facts = replace(from_config(cfg, f"{source}/config.json"), checkpoint_bytes=checkpoint_bytes(local))
    else:
        if spec_dir is not None:
            locked, problem = factlock.lookup(spec_dir, source, revision)
            if problem:
                diags.append(warning("model-facts-lock", problem, path=("model", "source"),
                                     hint=f"run `deployc facts {source}"
                                          + (f" --revision {revision}" if revision else "") + "` to lock them"))
        if locked is not None:
            file_facts = replace(from_config(locked.config, locked.label), checkpoint_bytes=locked.weights_bytes,
                                 cite=locked.cite)
        elif hf_cache:
            snap = hf_snapshot(source, revision, hf_cache_dir(env))
            if snap is not None:
                cfg, _ = read_config(snap)
                if cfg is not None:
                    file_facts = from_config(cfg, f"{CACHE_ORIGIN} ({source}@{snap.name[:12]})")
    user_facts = from_user(user)
    if file_facts.known:
        for name in ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "vocab_size",
                     "max_position_embeddings", "sliding_window", "kv_lora_rank"):
            mine, theirs = getattr(user_facts, name), getattr(file_facts, name)
            if mine is not None and theirs is not None and mine != theirs:
                diags.append(warning(
                    "model-facts-mismatch", f"model.facts.{name} is {mine} but {file_facts.origin} says {theirs}",
                    hint=f"remove model.facts.{name}: config.json is read directly",
                    path=("model", "facts", name)))
    cat = catalog_facts(source, locked.base_model if locked else None) if local is None else Facts()
    if file_facts.known:
        cat = _architecture(cat)
    return merge(user_facts, file_facts, cat), diags
