"""load -> validate -> resolve -> per target: capabilities + check -> lower.

Pure up to the writer: the only reads are the spec itself and the small local
files it names (existence, an adapter's rank). Every diagnostic leaves here
placed at file:line:col.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from compiler import memory
from compiler.diagnostics import Diagnostic, SpecPath, did_you_mean, error, format_path, has_errors, warning
from compiler.facts import resolve_facts
from compiler.plan import Plan, resolve
from compiler.registry import Registry
from compiler.source import Source, load
from compiler.spec import API_VERSIONS, INERT, Spec, is_local
from compiler.target_api import FEATURES, BuildContext, Lowered, Target, TargetOptions

SECRET = re.compile(r"(?<![A-Za-z0-9])(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}"
                    r"|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}"
                    r"|AKIA[0-9A-Z]{16}|nvapi-[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,})")


@dataclass
class TargetResult:
    name: str
    version: str | None
    lowered: Lowered | None
    diagnostics: list[Diagnostic]
    memory: "memory.MemoryPlan | None" = None

    @property
    def ok(self) -> bool:
        return self.lowered is not None and not has_errors(self.diagnostics)


@dataclass
class Compiled:
    source: Source
    spec: Spec | None = None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not has_errors(self.diagnostics)


def load_spec(path: Path, display: str | None = None) -> Compiled:
    src = load(path, display)
    out = Compiled(src, diagnostics=list(src.diagnostics))
    if src.data is None:
        return out
    diags: list[Diagnostic] = list(_secrets(src.data, ()))
    try:
        spec = Spec.model_validate(src.data)
    except ValidationError as exc:
        secret_paths = {d.path for d in diags}
        diags += [d for d in (_from_pydantic(e, src.data, Spec, ()) for e in exc.errors()
                              if not _union_noise(e, src.data)) if d.path not in secret_paths]
        out.diagnostics += [src.place(d) for d in diags]
        return out
    spec, probe = _probe_local(spec, path.parent)
    diags += probe
    local = path.parent / spec.model.source if is_local(spec.model.source) and not spec.model.source.startswith("~") \
        else None
    facts, fact_diags = resolve_facts(spec.model.source, spec.model.revision, local, spec.model.facts)
    diags += fact_diags
    gguf = path.parent / spec.model.gguf if spec.model.gguf and not spec.model.gguf.startswith("~") else None
    if gguf is not None and gguf.is_file() and gguf.stat().st_size > 1 << 20:   # not a placeholder
        facts = replace(facts, gguf_bytes=gguf.stat().st_size)
    plan, checks = resolve(spec, facts)
    diags += checks
    out.spec, out.plan = spec, plan
    out.diagnostics += [src.place(d) for d in diags]
    return out


def compile_target(compiled: Compiled, registry: Registry, name: str, ctx: BuildContext,
                   lower: bool = True) -> TargetResult:
    """Check one target and (unless lower=False, as `validate` asks) write its artifacts in memory."""
    assert compiled.plan is not None
    plan, src = compiled.plan, compiled.source
    result = TargetResult(name, None, None, [])
    diags = result.diagnostics
    target, problem = registry.load(name)
    if target is None:
        diags.append(src.place(problem or _unknown_target(name, registry)))
        return result
    raw = plan.targets.get(name, {})
    version = raw.get("version") if isinstance(raw.get("version"), str) else target.versions[0]
    if version not in target.versions:
        diags.append(src.place(error(
            "target-version", f"{target.title} {version} is not supported",
            hint="supported: " + ", ".join(target.versions), path=("targets", name, "version"))))
    opts, opt_diags = validate_options(target, raw, src)
    diags += opt_diags
    if opts is None or version not in target.versions:
        return result
    result.version = version
    if opts.image and (opts.image.endswith(":latest") or ":" not in opts.image.rsplit("/", 1)[-1]):
        diags.append(src.place(warning(
            "target-image-unpinned", f"image {opts.image} is not pinned: `latest` moves under you",
            hint="pin a release tag or a digest", path=("targets", name, "image"))))
    caps = target.capabilities(version)
    local: list[Diagnostic] = []
    for cap, feature in FEATURES.items():
        if feature.used(plan) and cap not in caps:
            local.append(error(
                "target-unsupported", f"{target.title} {version} cannot express {feature.what} "
                f"({format_path(feature.path)})", path=feature.path,
                hint=target.unsupported_hint(cap, version) or f"remove {format_path(feature.path)} "
                f"or leave {name} out of targets"))
    local += target.check(plan, opts, version)
    engine = target.memory_model(plan, opts, version) if not has_errors(local) else None
    mp = memory.estimate(plan, plan.facts, engine) if engine is not None else None
    if mp is not None:
        local += memory.check(plan, mp, engine)
        ctx = replace(ctx, memory=mp)
    result.memory = mp
    if not has_errors(local) and lower:
        lowered = target.lower(plan, opts, version, ctx)
        local += lowered.diagnostics
        result.lowered = lowered
    diags += [src.place(d) for d in local]
    return result


def validate_options(target: Target, raw: Any, src: Source) -> tuple[TargetOptions | None, list[Diagnostic]]:
    base = ("targets", target.name)
    try:
        return target.options.model_validate(raw), []
    except ValidationError as exc:
        return None, [src.place(_from_pydantic(e, raw, target.options, base)) for e in exc.errors()]


def check_target_keys(compiled: Compiled, registry: Registry) -> list[Diagnostic]:
    """Every key under targets: must be a registered target."""
    assert compiled.plan is not None
    return [compiled.source.place(_unknown_target(name, registry))
            for name in compiled.plan.targets if name not in registry.points]


def _unknown_target(name: str, registry: Registry) -> Diagnostic:
    close = did_you_mean(name, registry.names)
    return error("target-unknown", f"unknown target {name!r}", path=("targets", name), anchor="key",
                 hint=(f"did you mean {close[0]}? " if close else "") + "registered targets: "
                 + ", ".join(registry.names))


# ---------------------------------------------------------------------------------------------
# pydantic errors -> diagnostics


def _from_pydantic(err: dict, data: Any, root: type[BaseModel], base: SpecPath) -> Diagnostic:
    path = _data_path(err["loc"], data, err["type"])
    full = base + path
    kind, msg, value = err["type"], err["msg"], err.get("input")
    model, field_name = _field_at(root, path)
    description = _description(model, field_name)
    if kind == "extra_forbidden":
        known = list(_field_keys(model)) if model else []
        close = did_you_mean(str(path[-1]), known)
        where = format_path(full[:-1]) or "the top level"
        return error("spec-unknown-key", f"unknown key {path[-1]!r} in {where}", path=full, anchor="key",
                     hint=(f"did you mean {close[0]}?" if close else "known keys: " + ", ".join(known)))
    if kind == "missing":
        return error("spec-missing-key", f"missing required key {path[-1]!r} in "
                     f"{format_path(full[:-1]) or 'the top level'}", path=full, anchor="key", hint=description)
    if kind == "literal_error":
        expected = _literal_choices(model, field_name)
        close = did_you_mean(str(value), expected) if isinstance(value, str) else []
        if field_name == "api_version":
            return error("spec-api-version", f"unsupported apiVersion {value!r}", path=full,
                         hint="supported: " + ", ".join(API_VERSIONS))
        return error("spec-value", f"{_show(value)} is not a valid {field_name}", path=full,
                     hint=(f"did you mean {close[0]}? " if close else "") + "expected one of: " + ", ".join(expected))
    if kind == "string_pattern_mismatch":
        return error("spec-value", f"{_show(value)} is not a valid {field_name}", path=full, hint=description)
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return error("spec-type", f"{field_name or format_path(full)}: {msg[0].lower() + msg[1:]}, got "
                     f"{_show(value)}", path=full, hint=description)
    msg = msg.removeprefix("Value error, ")
    return error("spec-value", f"{field_name or format_path(full)}: {msg[0].lower() + msg[1:]}", path=full,
                 hint=description)


def _union_noise(err: dict, data: Any) -> bool:
    """A "should be a string" error from the other branch of a str | mapping union."""
    return (err["type"] in ("string_type", "int_type", "float_type", "bool_type")
            and isinstance(err.get("input"), (dict, list))
            and len(_data_path(err["loc"], data, err["type"])) < len(err["loc"]))


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if isinstance(value, str) and SECRET.search(value):
        return "<redacted: looks like a secret>"
    return json.dumps(value) if value is None or isinstance(value, (bool, int, float)) else repr(value)


def _data_path(loc: tuple, data: Any, kind: str) -> SpecPath:
    """pydantic's loc, minus union-member tags that are not keys of the data."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif last and kind in ("missing", "extra_forbidden"):
            out.append(part)
        # else: a union tag such as 'str' or 'GpuSpec': not part of the YAML
    return tuple(out)


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple):
        for arg in typing.get_args(annotation):
            found = _unwrap(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _field_keys(model: type[BaseModel]) -> dict[str, str]:
    """YAML key -> attribute name."""
    return {(f.alias or n): n for n, f in model.model_fields.items()}


def _field_at(root: type[BaseModel], path: SpecPath) -> tuple[type[BaseModel] | None, str | None]:
    """The model class holding the last key of path, and that key's attribute name."""
    model: type[BaseModel] | None = root
    keys = [p for p in path if isinstance(p, str)]  # list indices stay inside the element's model
    for i, part in enumerate(keys):
        if model is None:
            return None, None
        fields = _field_keys(model)
        if part not in fields:
            return model, part
        name = fields[part]
        if i == len(keys) - 1:
            return model, name
        nxt = _unwrap(model.model_fields[name].annotation)
        if nxt is None:  # e.g. targets: dict[str, Any]; their options are validated per target
            return model, name
        model = nxt
    return model, None


def _description(model: type[BaseModel] | None, name: str | None) -> str | None:
    if model is None or name is None or name not in model.model_fields:
        return None
    text = model.model_fields[name].description
    return text.replace(INERT, "") if text else text   # the quoting policy is for the schema, not each hint


def _literal_choices(model: type[BaseModel] | None, name: str | None) -> list[str]:
    if model is None or name is None or name not in model.model_fields:
        return []
    out: list[str] = []

    def walk(tp: Any) -> None:
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            out.extend(str(a) for a in typing.get_args(tp))
        elif origin is not None:
            for a in typing.get_args(tp):
                walk(a)

    walk(model.model_fields[name].annotation)
    for meta in model.model_fields[name].metadata:
        walk(meta)
    return out


# ---------------------------------------------------------------------------------------------
# checks on raw data and on local files


def _secrets(node: Any, path: SpecPath):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secrets(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _secrets(v, path + (i,))
    elif isinstance(node, str) and (SECRET.search(node) or (_is_env_value(path) and _high_entropy(node))):
        yield error("secret-in-spec", f"{format_path(path)} looks like a secret token; secrets never go in "
                    "deploy.yaml", path=path,
                    hint="remove it (and rotate it if it was committed); pass it by environment variable "
                         "name: server.api_key_env, or targets.<name>.env: {NAME: ${NAME}}")


def _is_env_value(path: SpecPath) -> bool:
    return len(path) == 4 and path[0] == "targets" and path[2] == "env"


_TOKEN = re.compile(r"[A-Za-z0-9+=]{24,}")


def _high_entropy(value: str) -> bool:
    """A long random-looking run (a key pasted as an env value): 24+ characters of letters, digits,
    '+' and '=', with upper case, lower case and digits all present, over 4.2 bits of Shannon
    entropy per character, and not made of words (at most one run of 4+ lower-case letters, which
    CamelCase names like MistralNemoInstruct2407 have several of). '/', '.', '-' and '_' break runs,
    so paths, URLs, model ids and snake_case settings never qualify; hex digests (commits, sha256)
    have no upper case."""
    import math
    from collections import Counter

    for token in _TOKEN.findall(value):
        if not (any(c.isdigit() for c in token) and any(c.isupper() for c in token)
                and any(c.islower() for c in token)):
            continue
        bits = -sum(n / len(token) * math.log2(n / len(token)) for n in Counter(token).values())
        if bits > 4.2 and len(re.findall(r"[a-z]{4,}", token)) <= 1:
            return True
    return False


def _probe_local(spec: Spec, spec_dir: Path) -> tuple[Spec, list[Diagnostic]]:
    """Warn about local paths that do not exist; read each local adapter's LoRA rank."""
    diags: list[Diagnostic] = []
    m = spec.model

    def exists(p: str, path: SpecPath) -> Path | None:
        if p.startswith("~"):
            return None  # the serving host's home, not ours
        full = spec_dir / p
        if not full.exists():
            diags.append(warning("path-missing", f"{p} does not exist (relative to the spec's folder)",
                                 hint="fine if the path exists on the serving host; otherwise fix it", path=path))
            return None
        return full

    if is_local(m.source):
        exists(m.source, ("model", "source"))
    if m.tokenizer and is_local(m.tokenizer):
        exists(m.tokenizer, ("model", "tokenizer"))
    for key in ("chat_template", "gguf"):
        if getattr(m, key):
            exists(getattr(m, key), ("model", key))
    adapters = []
    for i, a in enumerate(m.adapters):
        found = exists(a.source, ("model", "adapters", i, "source")) if is_local(a.source) else None
        if a.rank is None and found is not None and (found / "adapter_config.json").is_file():
            rank = _adapter_rank(found / "adapter_config.json")
            if rank is None:
                diags.append(warning("adapter-config", f"{a.source}/adapter_config.json has no readable LoRA "
                                     "rank (r)", hint="set the adapter's rank: in the spec",
                                     path=("model", "adapters", i, "source")))
            else:
                a = a.model_copy(update={"rank": rank})
        adapters.append(a)
    if adapters != list(m.adapters):
        spec = spec.model_copy(update={"model": m.model_copy(update={"adapters": adapters})})
    return spec, diags


def _adapter_rank(path: Path) -> int | None:
    """The largest LoRA rank in a PEFT adapter_config.json: r, and any per-module rank_pattern value."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        ranks = [cfg.get("r"), *(cfg.get("rank_pattern") or {}).values()]
    except (OSError, ValueError, AttributeError):
        return None
    ranks = [r for r in ranks if isinstance(r, int) and not isinstance(r, bool) and r > 0]
    return max(ranks) if ranks else None
