"""Tool-call and reasoning parsers (model.tool_parser, model.reasoning_parser): one rule for all targets.

A target says how its engine version takes parsers with a ParserSupport (Target.parsers): the names
the engine registers (data extracted from the engine: the `registries` or `choices` of its option
table, engine_options/<version>.json), the parser its documentation gives each checkpoint family
(`auto`, with the document cited), and which kinds the engine parses by itself (TGI, Ollama,
llama.cpp: `auto` writes nothing or the engine's own switch, a name is refused).

`auto` is resolved here, at build time, per target and version: the checkpoint family comes from
the model's config.json (model_type) and, where one architecture needs different parsers (DeepSeek
V3, V3.1 and R1 are all deepseek_v3), from the checkpoint's name; the artifact then names the
concrete parser. An unknown family, or a family the engine documents no parser for, is an error.
A name is checked against the version's registry, because some engines (vLLM, LMDeploy) accept any
string on the command line and fail only at launch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from collections.abc import Mapping

from deployc.compiler.diagnostics import Diagnostic, SpecPath, did_you_mean, error, warning

if TYPE_CHECKING:
    from deployc.compiler.api.target import TargetOptions
    from deployc.compiler.plan import Plan

Kind = Literal["tool", "reasoning"]
KINDS: tuple[Kind, ...] = ("tool", "reasoning")
_WHAT = {"tool": "tool-call parser", "reasoning": "reasoning parser"}


@dataclass(frozen=True)
class Family:
    """A checkpoint family whose chat format (and so parser) is one: the config.json model_type values
    it covers and, where one model_type holds several formats, a pattern on the checkpoint's name."""

    name: str
    model_types: frozenset[str]
    pattern: str | None = None
    excludes: str | None = None

    def matches(self, model_type: str | None, source: str) -> bool:
        if model_type not in self.model_types:
            return False
        last = source.rstrip("/").rsplit("/", 1)[-1]
        if self.pattern and not re.search(self.pattern, last, re.IGNORECASE):
            return False
        return not (self.excludes and re.search(self.excludes, last, re.IGNORECASE))


def _f(name: str, *types: str, pattern: str | None = None, excludes: str | None = None) -> Family:
    return Family(name, frozenset(types), pattern, excludes)


# First match wins: the specific names before the catch-all of a model_type. model_type values are
# the transformers config classes' (DeepSeek-V3, V3.1 and R1 all ship model_type deepseek_v3; Kimi K2
# reuses it too; Qwen3-Coder is qwen3_moe).
FAMILIES: tuple[Family, ...] = (
    _f("gpt-oss", "gpt_oss"),
    _f("kimi-k2", "deepseek_v3", "kimi_k2", pattern=r"kimi-k2"),
    _f("deepseek-r1", "deepseek_v3", pattern=r"deepseek-r1"),
    _f("deepseek-v3.1", "deepseek_v3", pattern=r"deepseek-v3\.1"),
    _f("deepseek-v3", "deepseek_v3", pattern=r"deepseek-v3(?![.\d])"),
    _f("qwen3-coder", "qwen3_moe", "qwen3", pattern=r"qwen3-coder"),
    _f("qwen3", "qwen3", "qwen3_moe", excludes=r"coder"),
    _f("qwen2.5", "qwen2", pattern=r"qwen2\.5", excludes=r"coder|math|vl"),
    _f("llama-3.1", "llama", pattern=r"llama-3\.[123]"),
    _f("glm-4.5", "glm4_moe"),
    _f("mistral", "mistral", pattern=r"mistral"),
)


def family_of(model_type: str | None, source: str) -> str | None:
    return next((f.name for f in FAMILIES if f.matches(model_type, source)), None)


@dataclass(frozen=True)
class ParserSupport:
    """How one engine version takes parsers. names[kind]: the version's registry (None: it cannot name
    that kind of parser); builtin: kinds the engine parses by itself (auto writes only `switch`, a name
    is refused); auto[family] = (tool, reasoning): the parser the engine documents for a family (None:
    none), from `cite`; templates[tool parser]: a chat template the engine documents for it."""

    engine: str
    names: Mapping[Kind, tuple[str, ...] | None]
    auto: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    cite: str = ""
    builtin: frozenset[Kind] = frozenset()
    templates: Mapping[str, str] = field(default_factory=dict)

    def takes(self, kind: Kind) -> bool:
        return kind in self.builtin or self.names.get(kind) is not None


def asked(plan: Plan, opts: TargetOptions, target: str, kind: Kind) -> tuple[str | None, SpecPath]:
    """The parser this target is asked for, and where: targets.<name>.<kind>_parser, else model.<kind>_parser."""
    own = getattr(opts, f"{kind}_parser")
    if own is not None:
        return own, ("targets", target, f"{kind}_parser")
    return getattr(plan.model, f"{kind}_parser"), ("model", f"{kind}_parser")


def resolve(plan: Plan, opts: TargetOptions, target: str, support: ParserSupport | None,
            kind: Kind) -> tuple[str | None, list[Diagnostic]]:
    """The concrete parser name this target writes for `kind` (None: nothing to write), and what is wrong."""
    value, path = asked(plan, opts, target, kind)
    if value is None:
        return None, []
    engine = support.engine if support else target
    what = _WHAT[kind]
    if support is None or not support.takes(kind):
        if path[0] == "model":   # the capability table says so at model.<kind>_parser (core_rules)
            return None, []
        return None, [error("parser-unsupported", f"{engine} takes no {what}", path=path,
                            hint=f"remove targets.{target}.{kind}_parser")]
    if kind in support.builtin:
        if value != "auto":
            return None, [error(
                "parser-builtin", f"{engine} parses {'tool calls' if kind == 'tool' else 'reasoning'} by itself "
                f"and takes no parser name ({value!r})", path=path,
                hint=f"use {kind}_parser: auto for {target}"
                + (f" (targets.{target}.{kind}_parser: auto)" if path[0] == "model" else ""))]
        return None, []
    names = support.names[kind] or ()
    if value == "auto":
        family = family_of(plan.facts.model_type, plan.model.source)
        if family is None:
            known = ", ".join(sorted({f.name for f in FAMILIES}))
            return None, [error(
                "parser-auto-family", f"{kind}_parser auto: deployc knows no parser for this checkpoint's family "
                f"(model_type {plan.facts.model_type or 'unknown'}, {plan.model.source})", path=path,
                hint=f"name {engine}'s parser in targets.{target}.{kind}_parser (its registry: {', '.join(names)}); "
                     f"auto knows the families {known}")]
        entry = support.auto.get(family, (None, None))
        chosen = entry[0] if kind == "tool" else entry[1]
        if chosen is None:
            return None, [error(
                "parser-auto-none", f"{engine} documents no {what} for the {family} family" + (
                    f" ({support.cite})" if support.cite else ""), path=path,
                hint=f"remove {'.'.join(map(str, path))}, name one in targets.{target}.{kind}_parser, "
                     f"or leave {target} out of targets")]
        return chosen, []
    if value not in names:
        close = did_you_mean(value, names, n=3)
        return None, [error(
            "parser-unknown", f"{engine} has no {what} {value!r}", path=path,
            hint=(f"did you mean {' or '.join(close)}? " if close else "") + f"{engine} registers: {', '.join(names)}")]
    return value, []


def check(plan: Plan, opts: TargetOptions, target: str, support: ParserSupport | None) -> list[Diagnostic]:
    """Every parser problem of one target, for each kind."""
    out: list[Diagnostic] = []
    for kind in KINDS:
        bare = getattr(plan.model, f"{kind}_parser")
        if bare not in (None, "auto") and getattr(opts, f"{kind}_parser") is None and len(plan.targets) > 1:
            continue   # compiler/plan.py says once that a bare name needs a single target
        name, diags = resolve(plan, opts, target, support, kind)
        out += diags
        if kind == "tool" and name and support and name in support.templates and plan.model.chat_template is None:
            out.append(warning(
                "parser-chat-template", f"{support.engine} documents the chat template {support.templates[name]} "
                f"for the {name} {_WHAT[kind]}; the model's own template may not produce what it parses",
                path=asked(plan, opts, target, kind)[1],
                hint="copy that template next to deploy.yaml and set model.chat_template to it"))
    return out
