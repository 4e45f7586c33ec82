"""`deployc facts`: a hub checkpoint's config.json, fetched once through huggingface_hub.

The only module that reaches the network, and only when the user runs `deployc facts`; builds
read what it locked (compiler/factlock.py). huggingface_hub is an optional dependency
(`pip install 'deployc[hub]'`); it honours HF_TOKEN for gated models, HF_ENDPOINT for a mirror and
HF_HUB_OFFLINE=1, in which case the facts come from the local cache without a request. Both
variables are read here at call time (huggingface_hub reads them once, when imported).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from deployc.compiler.factlock import Locked
from deployc.compiler.facts import hf_cache_dir

INSTALL = "pip install 'deployc[hub]'   (or: pip install huggingface_hub)"
INDEX = "model.safetensors.index.json"


class HubError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _offline(env: Mapping[str, str]) -> bool:
    return env.get("HF_HUB_OFFLINE", env.get("TRANSFORMERS_OFFLINE", "")).strip().lower() in ("1", "true", "yes", "on")


def fetch(model: str, revision: str | None, env: Mapping[str, str] | None = None) -> Locked:
    """model's config.json, declared base model and safetensors size at revision (default main)."""
    env = os.environ if env is None else env
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise HubError("`deployc facts` needs huggingface_hub, which is not installed", f"install it: {INSTALL}") \
            from None
    from huggingface_hub import errors

    try:
        if _offline(env):
            return _from_cache(model, revision, env)
        return _from_hub(model, revision, env)
    except errors.GatedRepoError:
        raise HubError(f"{model} is gated: accept its terms on https://huggingface.co/{model} and log in",
                       "run `hf auth login`, or set HF_TOKEN") from None
    except errors.RepositoryNotFoundError:
        raise HubError(f"no model {model} on the hub (or it is private)",
                       "check the id; for a private model log in (`hf auth login` or HF_TOKEN)") from None
    except errors.RevisionNotFoundError:
        raise HubError(f"{model} has no revision {revision!r}", "use a branch, tag or commit of the model") from None
    except errors.LocalEntryNotFoundError:
        raise HubError(f"HF_HUB_OFFLINE is set and {model}" + (f"@{revision}" if revision else "")
                       + f" has no config.json in the cache ({hf_cache_dir(env)})",
                       "unset HF_HUB_OFFLINE where the hub can be reached") from None
    except errors.EntryNotFoundError:
        raise HubError(f"{model} has no config.json (a GGUF-only repository?)",
                       "give the numbers under model.facts instead") from None
    except (OSError, ValueError) as exc:   # network, proxy, TLS, a mirror that is not a hub
        raise HubError(f"cannot fetch {model} from the hub: {exc}",
                       "check the network (or HF_ENDPOINT); with the model in your Hugging Face cache, "
                       "HF_HUB_OFFLINE=1 reads it from there") from None


def _download(model: str, name: str, commit: str, env: Mapping[str, str], offline: bool = False) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(model, name, revision=commit, cache_dir=hf_cache_dir(env),
                                endpoint=env.get("HF_ENDPOINT") or None, local_files_only=offline))


def _from_hub(model: str, revision: str | None, env: Mapping[str, str]) -> Locked:
    from huggingface_hub import HfApi

    info = HfApi(endpoint=env.get("HF_ENDPOINT") or None).model_info(model, revision=revision,
                                                                     files_metadata=True)
    commit = info.sha
    if not isinstance(commit, str):
        raise HubError(f"the hub did not say which commit {model} is at")
    sizes = {s.rfilename: s.size for s in info.siblings or []}
    config = _json(_download(model, "config.json", commit, env))
    weights: int | None = None
    if INDEX in sizes:
        weights = _index_size(_download(model, INDEX, commit, env))
    elif isinstance(sizes.get("model.safetensors"), int):
        weights = sizes["model.safetensors"]
    card = info.card_data
    base = getattr(card, "base_model", None) if card is not None else None
    if isinstance(base, list):
        base = base[0] if len(base) == 1 else None
    return Locked(info.id or model, revision or "main", commit, config,
                  base if isinstance(base, str) else None, weights)


def _from_cache(model: str, revision: str | None, env: Mapping[str, str]) -> Locked:
    path = _download(model, "config.json", revision or "main", env, offline=True)
    commit = path.parent.name   # <cache>/models--org--name/snapshots/<commit>/config.json
    try:
        weights = _index_size(_download(model, INDEX, commit, env, offline=True))
    except FileNotFoundError:
        weights = None
    return Locked(model, revision or "main", commit, _json(path), None, weights)


def _json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _index_size(path: Path) -> int | None:
    size = _json(path).get("metadata", {}).get("total_size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
