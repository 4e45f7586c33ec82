"""Declarative option tables: each row maps one spec setting to one engine option.

A target states its mapping once, as a table in argv order (in the spirit of
sqlglot's dialect tables):

    TABLE = OptionTable(ARGPARSE, [
        opt(None, "model.source", lambda c: c.ref(c.plan.model.source)),          # a positional
        opt("--served-model-name", "model.served_name", lambda c: c.plan.model.served_name),
        opt("--tensor-parallel-size", "parallelism.tensor", lambda c: c.plan.parallelism.tensor,
            aliases=("-tp",)),
        owned("--api-key", "server.api_key_env"),     # set another way (an env variable), never in argv
        fixed("--gemm_plugin", "auto"),                # deployc's choice, no spec setting: extra args may override it
    ])

and derives from it:

- ``TABLE.argv(ctx, v)``: the options, in table order. A row's value function gets the
  target's own lowering context; it returns None, False or an empty list (the option is not written), True (a bare
  switch), a scalar (one value), a list (several values after one flag) or a list of tuples (the
  flag again before each tuple: a repeated option such as click's ``multiple=True``).
- ``TABLE.conflicts(args, v, target)``: the extra ``targets.<name>.args`` that restate a
  setting the spec owns, read the way the engine's parser reads them (``Parser``): with
  argparse's unique-prefix abbreviations and glued short options, ``--max_model_len`` for
  ``--max-model-len``, ``--no-X``/``--disable-X`` for ``X``.
- ``TABLE.owners(v)``: option spelling -> the spec setting that owns it (for an importer
  that reads a command line back into a spec).

A row that only some versions have says so with ``when`` (a predicate on the target's
EngineVersion record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from collections.abc import Callable, Iterable, Mapping, Sequence

from deployc.compiler.diagnostics import Diagnostic, SpecPath, error

C = TypeVar("C")
Scalar = int | float | str
Value = None | bool | Scalar | Sequence[Scalar] | Sequence[tuple[Scalar, ...]]


def _path(owner: str | SpecPath) -> SpecPath:
    return tuple(owner.split(".")) if isinstance(owner, str) else owner


@dataclass(frozen=True)
class Opt(Generic[C]):
    """One row. flag None: a positional argument. value(ctx) -> what to write (see the module doc).
    owner None: deployc's own choice (``fixed``), written but not a spec setting, so not checked."""

    flag: str | None
    owner: SpecPath | None
    value: Callable[[C], Value]
    aliases: tuple[str, ...] = ()
    when: Callable[[Any], bool] | None = None
    # Why the value is written when the spec does not state the setting (or, for a fixed row, ever):
    # what the engine requires, or what keeps every target serving the same deployment. None: the
    # core's reason for the setting (SAME_DEPLOYMENT), if it has one.
    why: str | Callable[[C], str | None] | None = None

    @property
    def spellings(self) -> tuple[str, ...]:
        return ((self.flag,) if self.flag else ()) + self.aliases


@dataclass(frozen=True)
class Owned:
    """An option the spec owns that the table never writes into argv: deployc sets it another way (an
    environment variable, the per-node flags) and extra args must not restate it."""

    flag: str
    owner: SpecPath
    aliases: tuple[str, ...] = ()
    when: Callable[[Any], bool] | None = None

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.flag,) + self.aliases


def opt(flag: str | None, owner: str | SpecPath, value: Callable[[C], Value], *, aliases: Iterable[str] = (),
        when: Callable[[Any], bool] | None = None, why: str | Callable[[C], str | None] | None = None) -> Opt[C]:
    return Opt(flag, _path(owner), value, tuple(aliases), when, why)


def owned(flag: str, owner: str | SpecPath, *, aliases: Iterable[str] = (),
          when: Callable[[Any], bool] | None = None) -> Owned:
    return Owned(flag, _path(owner), tuple(aliases), when)


def fixed(flag: str, value: Scalar, *, why: str, when: Callable[[Any], bool] | None = None) -> Opt[Any]:
    """An option deployc always writes with one value of its own choosing: no spec setting owns it,
    so extra args may restate it (the engine's parser keeps the last one). why: what needs it."""
    return Opt(flag, None, lambda _ctx: value, (), when, why)


@dataclass(frozen=True)
class Derived:
    """A value deployc writes that the spec does not state: where it goes (an option, a variable, a key),
    the spec setting it stands for (None: no setting, deployc's own), the value, and why it is there."""

    option: str
    setting: str | None
    value: str
    why: str | None

    def to_json(self) -> dict[str, Any]:
        return {"option": self.option, "setting": self.setting, "value": self.value, "why": self.why}


# Settings every target writes whether or not the spec states them, so that all of them serve the same
# deployment (the contract's "What a compiled deployment must agree on"): the reason, for rows that give none.
SAME_DEPLOYMENT: dict[SpecPath, str] = {
    ("model", "served_name"): "the name clients send as \"model\" (the last part of model.source, lower-cased): "
                              "every target serves the model under the same name",
    ("server", "host"): "server.host's default, 0.0.0.0: every target listens on the same address (inside a "
                        "container the engine always listens on 0.0.0.0 and the host picks the published address)",
    ("server", "port"): "server.port's default, 8000: every target serves on the same port",
    ("limits", "max_model_len"): "the model's own context window: every target serves the same context",
    ("precision", "dtype"): "float16 on a GPU without bfloat16 (compute capability below 8.0), where engines "
                            "refuse a bfloat16 checkpoint's own dtype unless told",
}


def written(value: Value) -> str:
    """A row's value as a Derived record shows it."""
    if value is True:
        return "true"
    if isinstance(value, (str, int, float)):
        return render(value)
    return " ".join(" ".join(map(render, v)) if isinstance(v, tuple) else render(v) for v in value or ())


@dataclass(frozen=True)
class Parser:
    """How an engine's command-line parser matches option spellings.

    abbreviations: a unique prefix of a long option selects it (Python argparse's allow_abbrev);
    only tokens of at least shortest_prefix characters are read as prefixes. glued_short: `-tp4` is
    `-tp 4`. underscores: `--max_model_len` is `--max-model-len` (vLLM's FlexibleArgumentParser).
    negations: (prefix, replacement) pairs under which a spelling names the same option
    (`--no-X` -> `--X` for BooleanOptionalAction, `--disable-X` -> `--enable-X`). inline_values:
    `--x=v` is `--x v` (argparse, clap); llama.cpp looks the whole token up and finds no such option.
    """

    abbreviations: bool = True
    shortest_prefix: int = 5
    glued_short: bool = True
    underscores: bool = False
    negations: tuple[tuple[str, str], ...] = ()
    inline_values: bool = True

    def normalize(self, flag: str, known: Mapping[str, Any]) -> str:
        if self.underscores and flag.startswith("--"):
            flag = "--" + flag[2:].replace("_", "-")
        for prefix, replacement in self.negations:
            if flag.startswith(prefix) and replacement + flag[len(prefix):] in known:
                return replacement + flag[len(prefix):]
        return flag

    def match(self, token: str, known: Mapping[str, SpecPath]) -> SpecPath | None:
        """The owner of the option a `-x`/`--x[=v]` token names, as this parser reads it; None: unowned."""
        flag = self.normalize(token.split("=", 1)[0] if self.inline_values else token, known)
        hit = known.get(flag)
        if hit is None and self.abbreviations and flag.startswith("--") and len(flag) >= self.shortest_prefix:
            hit = next((known[o] for o in sorted(known) if o.startswith(flag)), None)
        if hit is None and self.glued_short and not flag.startswith("--"):
            hit = next((known[o] for o in sorted(known, key=len, reverse=True)
                        if not o.startswith("--") and flag.startswith(o)), None)
        return hit


# Python's argparse (vLLM, SGLang, LMDeploy, TensorRT-LLM's trtllm-build): unique prefixes, glued short options.
ARGPARSE = Parser()
# Rust's clap without infer_long_args (TGI's launcher): long options match exactly.
CLAP = Parser(abbreviations=False)
# Python's click (XInference's CLI, trtllm-serve): long options match exactly (no prefixes), `--x=v`
# and a short option's glued value (`-qInt4`) as in argparse.
CLICK = Parser(abbreviations=False)
# Go's cobra/pflag (Ollama's CLI): the same rules as click.
PFLAG = Parser(abbreviations=False)


class OptionTable(Generic[C]):
    """A target's spec -> option mapping for one engine command, in argv order."""

    def __init__(self, parser: Parser, rows: Sequence[Opt[C] | Owned]):
        self.parser = parser
        self.rows = tuple(rows)

    def _rows(self, v: Any) -> list[Opt[C] | Owned]:
        return [r for r in self.rows if r.when is None or r.when(v)]

    def argv(self, ctx: C, v: Any) -> list[str]:
        out: list[str] = []
        for row in self._rows(v):
            if not isinstance(row, Opt):
                continue
            value = row.value(ctx)
            if value is None or value is False:
                continue
            if value is True:
                assert row.flag is not None, "a positional needs a value"
                out.append(row.flag)
                continue
            values = [value] if isinstance(value, (str, int, float)) else list(value)
            if not values:   # an empty list writes nothing, not a flag without its values
                continue
            if isinstance(values[0], tuple):  # a repeated option: the flag before each group
                assert row.flag is not None, "a repeated option needs a flag"
                out += [t for group in values if isinstance(group, tuple) for t in (row.flag, *map(render, group))]
                continue
            out += ([row.flag] if row.flag else []) + [render(x) for x in values if not isinstance(x, tuple)]
        return out

    def derived(self, ctx: C, v: Any, stated: Callable[[SpecPath], bool]) -> list[Derived]:
        """The options argv(ctx, v) writes for a setting the spec does not state (stated(path) False), or
        of deployc's own (fixed rows), each with why it is written."""
        out = []
        for row in self._rows(v):
            if not isinstance(row, Opt) or (row.owner is not None and stated(row.owner)):
                continue
            value = row.value(ctx)
            if value is None or value is False or (isinstance(value, (list, tuple)) and not value):
                continue
            why = row.why(ctx) if callable(row.why) else row.why
            if why is None and row.owner is not None:
                why = SAME_DEPLOYMENT.get(row.owner)
            out.append(Derived(row.flag or "(positional)", ".".join(map(str, row.owner)) if row.owner else None,
                               written(value), why))
        return out

    def owners(self, v: Any) -> dict[str, SpecPath]:
        """Every spelling of every option the spec owns in version v -> the owning spec path."""
        return {s: row.owner for row in self._rows(v) if row.owner is not None for s in row.spellings}

    def conflicts(self, args: Sequence[str], v: Any, target: str,
                  stale: Mapping[str, str] | None = None) -> list[Diagnostic]:
        """Extra args that restate what the spec owns, or (stale) that the pinned version no longer takes."""
        return arg_conflicts(args, self.owners(v), target, self.parser, stale)


def render(value: int | float | str) -> str:
    """One option value as argv text: numbers without a trailing .0 (0.9, not 0.90)."""
    if isinstance(value, bool):
        raise TypeError("a bool is a switch, not a value")
    return f"{value:g}" if isinstance(value, float) else str(value)


def arg_conflicts(args: Sequence[str], owned: Mapping[str, SpecPath], target: str, parser: Parser = ARGPARSE,
                  stale: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Extra args that set what the spec owns (owned: spelling -> spec path), read as `parser` reads
    them, or that the pinned version no longer takes (stale: spelling -> what to do instead)."""
    out = []
    for i, token in enumerate(args):
        if not token.startswith("-") or token in ("-", "--"):
            continue
        hit = parser.match(token, owned)
        if hit is not None:
            out.append(args_conflict(token.split("=", 1)[0], hit, target, i))
            continue
        flag = parser.normalize(token.split("=", 1)[0], owned)
        if stale and (key := next((k for k in (flag, token[:2]) if k in stale), None)):  # -O3 is -O
            out.append(error("target-args-stale", f"{token} is not a flag of the pinned version: {stale[key]}",
                             hint="remove it from args (blog posts often predate the rename)",
                             path=("targets", target, "args", i)))
    return out


def args_conflict(flag: str, owner: SpecPath, target: str, index: int) -> Diagnostic:
    """targets.<target>.args[index], option `flag`, restates the spec setting `owner` (for targets whose
    engine reads extra args in a way of its own and walk them themselves)."""
    where = ".".join(map(str, owner))
    return error("target-args-conflict", f"{flag} in targets.{target}.args restates {where}, which deployc derives "
                 "from the spec", hint=f"set {where} instead and remove it from args",
                 path=("targets", target, "args", index))


def env_conflicts(env: Mapping[str, str], owned: Mapping[str, SpecPath], target: str) -> list[Diagnostic]:
    """Extra env variables that set what a spec field owns (e.g. the engine's API key variable)."""
    return [error("target-env-conflict", f"targets.{target}.env.{name} restates {'.'.join(map(str, owned[name]))}",
                  hint=f"set {'.'.join(map(str, owned[name]))} instead and remove {name} from env",
                  path=("targets", target, "env", name), anchor="key")
            for name in env if name in owned]
