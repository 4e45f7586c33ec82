"""Model facts: the architecture numbers the checks and the memory plan need.

Sources, first match wins per field (a field a source lacks falls through):

1. ``model.facts`` in the spec: the user's word, for what no file says.
2. config.json of a local model folder, or of the local Hugging Face cache
   snapshot of a hub id (``$HF_HUB_CACHE`` or ``$HF_HOME/hub`` or
   ``~/.cache/huggingface/hub``; never the network). For a local folder the
   safetensors index (``metadata.total_size``) or the safetensors headers give
   the exact checkpoint size.
3. The built-in catalog ``model_catalog.json``: popular models, each number
   copied from that model's config.json on the Hub (the entry cites it).

A user fact that contradicts config.json is a warning at the fact. The parse
of config.json follows what the engines read: ``text_config`` for
multimodal wrappers (Gemma 3), ``num_key_value_heads`` defaulting to the
attention heads, ``head_dim`` defaulting to hidden/heads, ``layer_types`` /
``sliding_window_pattern`` for interleaved sliding-window layers, and the
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
from typing import Any, Mapping

from compiler.diagnostics import Diagnostic, warning

MAX_CONFIG_BYTES = 4 << 20


@dataclass(frozen=True)
class Facts:
    origin: str = "none"
    model_type: str | None = None
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
    sliding_window: int | None = None
    sliding_layers: int | None = None        # layers that use the window (the rest attend fully)
    kv_lora_rank: int | None = None          # MLA
    qk_rope_head_dim: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    parameters: float | None = None
    tie_word_embeddings: bool | None = None
    torch_dtype: str | None = None
    quant_method: str | None = None          # the checkpoint's quantization_config.quant_method
    quant_bits: int | None = None
    checkpoint_bytes: int | None = None      # exact, from the safetensors of a local folder
    gguf_bytes: int | None = None            # size of model.gguf, when it is a local file
    cite: str | None = None

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
    context, rope = _context(positions, cfg.get("rope_scaling"), str(cfg.get("model_type", "")))
    window = _int(cfg.get("sliding_window"))
    sliding = _sliding_layers(cfg, layers) if window else None
    if not sliding:
        window = sliding = None
    experts = _int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts"))
    qc = outer.get("quantization_config") or cfg.get("quantization_config")
    method = bits = None
    if isinstance(qc, Mapping):
        method = qc.get("quant_method") if isinstance(qc.get("quant_method"), str) else None
        bits = _int(qc.get("bits"))
        if method == "compressed-tensors":
            bits = bits or _compressed_bits(qc)
    dtype = cfg.get("torch_dtype") or cfg.get("dtype")
    tie = outer.get("tie_word_embeddings", cfg.get("tie_word_embeddings"))
    if tie is None and str(cfg.get("model_type", "")).startswith("gemma"):
        tie = True  # Gemma configs default to shared embeddings (transformers GemmaConfig)
    params = estimate_parameters(cfg, layers, hidden, heads, kv, head_dim, experts, tie is True)
    return Facts(
        origin=origin, model_type=cfg.get("model_type") if isinstance(cfg.get("model_type"), str) else None,
        layers=layers, hidden_size=hidden,
        intermediate_size=_int(_first(cfg, "intermediate_size", "ffn_dim", "n_inner")),
        attention_heads=heads, kv_heads=kv, head_dim=head_dim, vocab_size=_int(cfg.get("vocab_size")),
        max_position_embeddings=positions, context=context, rope_scaling=rope,
        sliding_window=window, sliding_layers=sliding,
        kv_lora_rank=_int(cfg.get("kv_lora_rank")), qk_rope_head_dim=_int(cfg.get("qk_rope_head_dim")),
        experts=experts, experts_per_token=_int(_first(cfg, "num_experts_per_tok", "experts_per_token")),
        tie_word_embeddings=tie if isinstance(tie, bool) else None,
        torch_dtype=dtype if isinstance(dtype, str) else None, quant_method=method, quant_bits=bits,
        parameters=params)


def estimate_parameters(cfg: Mapping[str, Any], layers, hidden, heads, kv, head_dim, experts, tied) -> float | None:
    """Parameter count from the shapes: embeddings, attention (or MLA), gated MLP or experts, LM head.

    Within 1% of the published totals for the catalog's dense, MoE and MLA models; norms and biases
    are left out (well under 0.1%).
    """
    vocab, inter = _int(cfg.get("vocab_size")), _int(_first(cfg, "intermediate_size", "ffn_dim", "n_inner"))
    if not (layers and hidden and heads and head_dim and vocab and inter):
        return None
    if _int(cfg.get("kv_lora_rank")):
        rank, rope = cfg["kv_lora_rank"], _int(cfg.get("qk_rope_head_dim")) or 0
        nope, v = _int(cfg.get("qk_nope_head_dim")) or head_dim, _int(cfg.get("v_head_dim")) or head_dim
        q_rank = _int(cfg.get("q_lora_rank"))
        q = (hidden * q_rank + q_rank * heads * (nope + rope)) if q_rank else hidden * heads * (nope + rope)
        attn = q + hidden * (rank + rope) + rank * heads * (nope + v) + heads * v * hidden
    else:
        attn = hidden * head_dim * (2 * heads + 2 * kv)
    dense_mlp = 3 * hidden * inter
    if experts:
        moe_inter = _int(cfg.get("moe_intermediate_size")) or inter
        shared = (_int(cfg.get("n_shared_experts")) or 0) * 3 * hidden * moe_inter
        moe = experts * 3 * hidden * moe_inter + shared + hidden * experts
        dense_layers = min(layers, _int(cfg.get("first_k_dense_replace")) or 0)
        mlp_total = dense_layers * dense_mlp + (layers - dense_layers) * moe
    else:
        mlp_total = layers * dense_mlp
    return float(layers * attn + mlp_total + vocab * hidden * (1 if tied else 2))


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


def _sliding_layers(cfg: Mapping[str, Any], layers: int | None) -> int | None:
    """Layers that attend within the window, where the model interleaves them with global layers.

    A bare ``sliding_window`` (Mistral v0.1, Phi-3, Qwen2 with use_sliding_window off) counts as
    full attention: vLLM's Llama-family layers apply a window only per ``layer_types``
    (vllm/model_executor/models/llama.py), so the conservative, larger KV figure is the real one.
    """
    types = cfg.get("layer_types")
    if isinstance(types, list) and types:
        return sum(1 for t in types if t == "sliding_attention")
    if layers is None:
        return None
    pattern = _int(cfg.get("sliding_window_pattern"))
    if pattern:                                   # Gemma 3: every pattern-th layer is global
        return layers - layers // pattern
    if cfg.get("model_type") == "gemma2":         # Gemma 2 alternates local and global layers
        return layers // 2
    return None


def _compressed_bits(qc: Mapping[str, Any]) -> int | None:
    for group in (qc.get("config_groups") or {}).values():
        weights = group.get("weights") if isinstance(group, Mapping) else None
        if isinstance(weights, Mapping) and _int(weights.get("num_bits")):
            return weights["num_bits"]
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
              parameters=data.get("parameters"), tie_word_embeddings=data.get("tie_word_embeddings"))
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
    except (OSError, UnicodeDecodeError, ValueError) as exc:
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
            if _int(total):
                return total
        total = 0
        for shard in sorted(folder.glob("*.safetensors")):
            total += _safetensors_payload(shard)
        return total or None
    except (OSError, ValueError, AttributeError):
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
def catalog() -> dict[str, dict[str, Any]]:
    path = Path(__file__).with_name("model_catalog.json")
    return {entry["id"].lower(): entry for entry in json.loads(path.read_text(encoding="utf-8"))["models"]}


def from_catalog(repo_id: str) -> Facts:
    entry = catalog().get(repo_id.lower())
    if entry is None:
        return Facts()
    f = from_config(entry["config"], f"catalog ({entry['id']})")
    return replace(f, parameters=entry.get("parameters"), cite=entry.get("source"))


def resolve_facts(source: str, revision: str | None, local: Path | None, user: Any,
                  env: Mapping[str, str] | None = None) -> tuple[Facts, list[Diagnostic]]:
    """All sources merged, plus warnings for user facts that contradict config.json."""
    diags: list[Diagnostic] = []
    file_facts = Facts()
    if local is not None:
        cfg, problem = read_config(local)
        if problem:
            diags.append(warning("model-config", f"{source}: {problem}",
                                 hint="fix the file, or give the numbers under model.facts",
                                 path=("model", "source")))
        elif cfg is not None:
            file_facts = replace(from_config(cfg, f"{source}/config.json"), checkpoint_bytes=checkpoint_bytes(local))
    else:
        snap = hf_snapshot(source, revision, hf_cache_dir(env))
        if snap is not None:
            cfg, _ = read_config(snap)
            if cfg is not None:
                file_facts = from_config(cfg, "Hugging Face cache")
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
    cat = from_catalog(source) if local is None else Facts()
    return merge(user_facts, file_facts, cat), diags
