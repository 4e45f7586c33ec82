"""Which model the launch names: a built-in model of XInference's registry, or a custom one that
register.json registers first.

- targets.xinference.model_name: that built-in model (a local model.source is its model_path). Its
  size, format and quantization come from the registry (builtin.py): the checkpoint model.source is,
  else the one checkpoint of the spec's format, else targets.xinference.size_in_billions /
  quantization pick one, else the size nearest to the model's parameter count (within a quarter).
- A hub id the registry holds (e.g. Qwen/Qwen2.5-7B-Instruct is qwen2.5-instruct 7B pytorch
  none): that built-in model, as `xinference launch --model-name qwen2.5-instruct
  --size-in-billions 7` would launch it. With a model.revision, XInference's built-in spec (which
  pins the registry's revision) cannot carry it: the checkpoint is registered as a custom model of
  that family instead.
- A registry hub id with targets.xinference.model_family: registered as the user asks, with a warning
  that the built-in model exists.
- Anything else (a local folder, a hub id the registry lacks): a custom model named after the spec,
  of targets.xinference.model_family, sized from size_in_billions or the facts' parameter count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployc.compiler.api import Diagnostic, Plan, error, is_local, warning
from deployc.targets.xinference import builtin
from deployc.targets.xinference.builtin import Builtin, size_value

if TYPE_CHECKING:
    from deployc.targets.xinference.options import XinferenceOptions

NAME = "xinference"

# spec quantization -> the registry's model_format of such a checkpoint (llm_family.py model_format)
FORMAT = {"none": "pytorch", "fp8": "pytorch", "awq": "awq", "gptq": "gptq", "gguf": "ggufv2"}
# the registry's quantization name when a format has more than one and the spec says nothing
DEFAULT_QUANT = {"pytorch": "none", "fp8": "none", "awq": "Int4", "gptq": "Int4"}


@dataclass(frozen=True)
class Choice:
    builtin: str | None          # the built-in model_name launched; None: register a custom model
    family: str | None           # a custom model's model_family
    size: int | str | None       # XInference's spelling (7, "0_5"); None: unknown (an error says so)
    format: str                  # model_format
    quantization: str | None     # the registry's quantization name
    why: str                     # for launch.sh: where the model, size and quantization come from
    errors: tuple[Diagnostic, ...] = ()


def size_label(size: float) -> int | str:
    """XInference's spelling of a size: 7 stays an int, 0.5 becomes the string 0_5."""
    if float(size).is_integer():
        return int(size)
    return f"{size:g}".replace(".", "_")


def _err(code: str, msg: str, hint: str, *path: str | int) -> Diagnostic:
    return error(code, msg, hint=hint, path=path)


def gguf_path(plan: Plan) -> str | None:
    """The local .gguf file the spec names: model.gguf, or a model.source that is one."""
    m = plan.model
    if m.gguf:
        return m.gguf
    return m.source if is_local(m.source) and m.source.endswith(".gguf") else None


def _format(plan: Plan, hit: Builtin | None) -> str:
    spec = FORMAT.get(plan.precision.quantization, "pytorch")
    if hit is not None and hit.format == "fp8" and plan.precision.quantization in ("fp8", "none"):
        return "fp8"    # a pre-quantized FP8 checkpoint is its own format in the registry
    return spec


def _quant(o_quant: str | None, cp: Builtin, at: tuple[str | int, ...]) -> tuple[str | None, list[Diagnostic]]:
    quants = cp.quantizations
    if o_quant is not None:
        if quants and o_quant not in quants:
            return None, [_err("xinference-quantization", f"{cp.name} {cp.size}B ({cp.format}) comes in "
                               f"quantization {', '.join(quants)} in XInference's registry, not {o_quant!r}",
                               f"set targets.xinference.quantization to one of {', '.join(quants)}", *at)]
        return o_quant, []
    if len(quants) == 1:
        return quants[0], []
    default = DEFAULT_QUANT.get(cp.format)
    if default in quants:
        return default, []
    return None, [_err("xinference-quantization", f"{cp.name} {cp.size}B ({cp.format}) comes in several "
                       f"quantizations: {', '.join(quants)}", "set targets.xinference.quantization to one of them",
                       *at)]


def choose(plan: Plan, o: XinferenceOptions, version: str) -> Choice:
    """The model the launch names (o: XinferenceOptions)."""
    m = plan.model
    hit = None if plan.model_is_local else builtin.by_hub_id(version, m.source)
    if o.model_name is not None:
        return _named(plan, o, version, hit)
    if hit is not None and o.model_family is not None:
        custom = _custom(plan, o, version)
        return Choice(None, o.model_family, custom.size, custom.format, custom.quantization, custom.why,
                      custom.errors + (warning(
                          "xinference-builtin", f"{m.source} is XInference {version}'s built-in {hit.name} "
                          f"{hit.size}B; model_family registers it again as a custom model",
                          hint="remove targets.xinference.model_family (and size_in_billions) to launch the "
                               "built-in model", path=("targets", NAME, "model_family")),))
    if hit is not None and gguf_path(plan) is not None and hit.format != "ggufv2":
        # a local GGUF file of a built-in model: that family's ggufv2 checkpoint of the same size
        return _named(plan, o, version, None, family=hit.name, size=hit.size)
    if hit is not None:
        fmt = _format(plan, hit)
        if hit.format != fmt:
            return Choice(None, None, None, fmt, None, "", (_err(
                "xinference-format", f"XInference's registry lists {m.source} as {hit.name} {hit.size}B in "
                f"format {hit.format}, but precision.quantization is {plan.precision.quantization}",
                f"set precision.quantization to the checkpoint's method ({hit.format})", "precision",
                "quantization"),))
        quant, errs = _quant(o.quantization, hit, ("targets", NAME))
        if o.size_in_billions is not None and size_value(hit.size) != o.size_in_billions:
            errs.append(_err("xinference-size", f"{m.source} is {hit.name} {hit.size}B in XInference {version}'s "
                             f"registry, not {o.size_in_billions:g}B", "remove targets.xinference.size_in_billions",
                             "targets", NAME, "size_in_billions"))
        if m.revision is None:
            return Choice(hit.name, None, hit.size, hit.format, quant,
                          f"{m.source} is XInference {version}'s built-in {hit.name} {hit.size}B "
                          f"({hit.format}, {quant})", tuple(errs))
        return Choice(None, o.model_family or hit.name, hit.size, hit.format, quant,
                      f"{m.source} is XInference {version}'s built-in {hit.name}; registered as a custom model of "
                      f"that family to pin revision {m.revision}", tuple(errs))
    return _custom(plan, o, version)


def _named(plan: Plan, o: XinferenceOptions, version: str, hit: Builtin | None, family: str | None = None,
           size: int | str | None = None) -> Choice:
    """A built-in model by name (targets.xinference.model_name, or `family` with its `size`: a local GGUF
    copy of the hub model model.source names)."""
    name = family or o.model_name or ""
    cps = builtin.checkpoints(version, name)
    at = ("targets", NAME, "model_name")
    if not cps:
        near = builtin.closest_names(version, name)
        return Choice(name, None, None, "pytorch", None, "", (_err(
            "xinference-model-name", f"{name!r} is not a built-in LLM of XInference {version}",
            f"did you mean {' or '.join(near)}?" if near else "remove targets.xinference.model_name to register "
            "model.source as a custom model", *at),))
    if hit is not None and hit.name == name and o.size_in_billions is None:
        quant, errs = _quant(o.quantization, hit, ("targets", NAME))
        return Choice(name, None, hit.size, hit.format, quant, f"{plan.model.source} is {name} {hit.size}B "
                      f"({hit.format}, {quant}) in XInference {version}'s registry", tuple(errs))
    fmt = _format(plan, None)
    of_fmt = [c for c in cps if c.format == fmt]
    if not of_fmt:
        formats = sorted({c.format for c in cps})
        return Choice(name, None, None, fmt, None, "", (_err(
            "xinference-format", f"XInference's registry has no {fmt} checkpoint of {name} (it has "
            f"{', '.join(formats)})", "set precision.quantization to one of those formats' methods",
            "precision", "quantization"),))
    sizes = list(dict.fromkeys(c.size for c in of_fmt))
    listed = ", ".join(str(s) for s in sizes)
    why = ""
    if o.size_in_billions is not None or size is not None:
        want: int | str = size_label(o.size_in_billions) if o.size_in_billions is not None else size or 0
        pick = [c for c in of_fmt if size_value(c.size) == size_value(want)]
        if not pick:
            return Choice(name, None, want, fmt, None, "", (_err(
                "xinference-size", f"{name} ({fmt}) comes in sizes {listed} in XInference {version}'s registry, "
                f"not {size_value(want):g}", f"set targets.xinference.size_in_billions to one of {listed}",
                "targets", NAME, "size_in_billions"),))
    elif len(sizes) == 1:
        pick = of_fmt
        why = f"{name}'s only {fmt} size in XInference {version}'s registry"
    else:
        pick = _nearest(plan, of_fmt)
        params = plan.facts.parameters
        if not pick or params is None:
            return Choice(name, None, None, fmt, None, "", (_err(
                "xinference-size", f"{name} ({fmt}) comes in sizes {listed} in XInference {version}'s registry "
                "and XInference launches the first one listed" + (
                    "; the model's parameter count is unknown" if params is None else
                    f"; none is within a quarter of the model's {params / 1e9:.2f}B parameters"),
                f"set targets.xinference.size_in_billions to one of {listed}", "targets", NAME),))
        why = (f"the size of {name} nearest to the model's {params / 1e9:.2f}B parameters "
               f"({plan.facts.origin})")
    cp = pick[0]
    quant, errs = _quant(o.quantization, cp, ("targets", NAME))
    text = f"built-in {name} {cp.size}B ({fmt}, {quant})" + (f": {why}" if why else "")
    return Choice(name, None, cp.size, fmt, quant, text, tuple(errs))


def _nearest(plan: Plan, cps: list[Builtin]) -> list[Builtin]:
    params = plan.facts.parameters
    if params is None:
        return []
    best = min(cps, key=lambda c: abs(size_value(c.size) * 1e9 - params))
    return [best] if abs(size_value(best.size) * 1e9 - params) <= 0.25 * params else []


def _custom(plan: Plan, o: XinferenceOptions, version: str) -> Choice:
    m, facts = plan.model, plan.facts
    fmt = _format(plan, None)
    quant = o.quantization or DEFAULT_QUANT.get(fmt)
    errs: list[Diagnostic] = []
    if o.size_in_billions is not None:
        size: int | str | None = size_label(o.size_in_billions)
        why = "size from targets.xinference.size_in_billions"
    elif facts.parameters is not None:
        size = size_label(max(round(facts.parameters / 1e9, 1), 0.1))
        why = f"size {size} from the model's parameter count ({facts.origin})"
    else:
        size, why = None, ""
        errs.append(_err("xinference-size", "a custom model needs a size and the model's parameter count is "
                         "unknown", "set targets.xinference.size_in_billions (e.g. 0.5 or 7), or give the model's "
                         "facts (deployc facts MODEL, or model.facts.parameters)", "targets", NAME))
    if fmt == "ggufv2" and gguf_path(plan) is None:
        errs.append(_err("xinference-gguf", f"{m.source} is not a GGUF checkpoint of XInference {version}'s "
                         "registry, and a registered GGUF model needs its file name", "download the .gguf file "
                         "and set model.gguf to it, or use the llama-cpp or ollama target", "model", "source"))
    if o.model_family is None:
        near = builtin.families_for(version, facts.architecture, m.source.rsplit("/", 1)[-1])
        local = plan.model_is_local
        what = "a local model" if local else f"{m.source}, which XInference {version}'s registry lacks,"
        if near:
            hint = (f"set targets.xinference.model_family to a built-in family of the same architecture "
                    f"({facts.architecture}): {', '.join(near)}")
            if local:
                hint += "; or, if the folder is a copy of a built-in model, targets.xinference.model_name"
        elif facts.architecture:
            hint = (f"no built-in chat family of XInference {version} has the architecture {facts.architecture}: "
                    "set targets.xinference.model_family to the family whose chat template fits")
        else:
            hint = ("set targets.xinference.model_family to the built-in family whose chat template and "
                    "architecture the model shares (the model's architecture is unknown here)")
        errs.append(_err("xinference-model-family", f"{what} is registered as a custom LLM, and XInference "
                         "registers one only with a model_family: the built-in family whose chat template and "
                         "architecture it shares", hint, "targets", NAME))
    elif not builtin.checkpoints(version, o.model_family):
        near = builtin.closest_names(version, o.model_family)
        errs.append(_err("xinference-model-family", f"{o.model_family!r} is not a built-in LLM family of "
                         f"XInference {version}", f"did you mean {' or '.join(near)}?" if near else
                         "name a built-in family (its chat template and architecture are borrowed)",
                         "targets", NAME, "model_family"))
    return Choice(None, o.model_family, size, fmt, quant, f"custom model of family {o.model_family}; {why}",
                  tuple(errs))
