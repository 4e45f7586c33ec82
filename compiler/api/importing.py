"""What a target declares so that `deployc import` can read one of its engine's command lines back into a spec.

A target's ``importer(v)`` hook returns an ``Importer``: the commands that start its engine, where the
engine's option table for a version is (the same engine_options/<version>.json the target checks extra
args against), how its parser reads tokens (``Dialect``), and the reverse rows, one per parsed setting
(argparse ``dest``) that has a deploy.yaml field:

    IMPORTER = Importer(
        target=NAME, commands=((ENGINE, "serve"), ("python", "-m", ENGINE_MODULE)),
        table=lambda version: ENGINE_OPTIONS / f"{version}.json", ...,
        rows=[
            rev("tensor_parallel_size", "parallelism.tensor", int),   # an int field takes an int, nothing else
            rev("enable_expert_parallel", fn=_expert),                # a switch -> an int field: its own function
        ])

The engine-agnostic machinery (argparse emulation, defaults, raw args, the report, the round trip) is
deployc.compiler.imports; a target stays declarative.

A row's function gets the value as the engine's parser produced it and the whole parsed configuration
(``Ctx``), and returns ``{spec path: value}`` (``{}``: consumed, no field of its own, e.g. vLLM's
--enable-auto-tool-choice next to --tool-call-parser), or a ``Keep`` (the option stays raw in
targets.<name>.args, with why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping, Sequence


@dataclass(frozen=True)
class Keep:
    """The option stays verbatim in targets.<name>.args; why: the comment beside it."""

    why: str


@dataclass
class Ctx:
    """What a reverse row sees: the parsed configuration (dest -> value, the engine's defaults filled in),
    which dests the command gave, and the version read."""

    config: Mapping[str, Any]
    given: frozenset[str]
    version: str
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, dest: str) -> Any:
        return self.config.get(dest)


Result = Mapping[str, Any] | Keep
Fn = Callable[[Any, Ctx], Result]


@dataclass(frozen=True)
class Rev:
    """One reverse row: the engine's parsed setting `dest` -> spec field(s). kind: the Python type the
    field takes (a value of another type stays raw instead of being coerced); fn: an explicit mapping."""

    dest: str
    path: str | None = None
    kind: type | tuple[type, ...] | None = None
    fn: Fn | None = None

    def apply(self, value: Any, ctx: Ctx) -> Result:
        if self.fn is not None:
            return self.fn(value, ctx)
        assert self.path is not None
        if self.kind is not None:
            kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            # bool is an int in Python: a switch's True never lands in an int field
            if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
                return Keep(f"{self.path} takes {' or '.join(k.__name__ for k in kinds)}, and the engine read "
                            f"{value!r}")
            if float in kinds and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
        return {self.path: value}


def rev(dest: str, path: str | None = None, kind: type | tuple[type, ...] | None = None, *,
        fn: Fn | None = None) -> Rev:
    return Rev(dest, path, kind, fn)


@dataclass(frozen=True)
class Dialect:
    """How the engine's command-line parser reads tokens, beyond the option table.

    underscores: `--max_model_len` is `--max-model-len` (an engine's own argparse subclass); abbreviations:
    argparse's unique prefixes (allow_abbrev); dotted_json: `--speculative-config.method ngram` builds
    the JSON of --speculative-config (vLLM, merged and appended after the other options);
    positional: the dest of the one positional argument (vLLM's model_tag)."""

    underscores: bool = False
    abbreviations: bool = True
    dotted_json: bool = False
    positional: str | None = None


@dataclass(frozen=True)
class Importer:
    """How to read one engine's command line back into a spec (see the module doc).

    commands: argv prefixes that start the engine (a `python`/`python3` prefix matches either).
    rebuilt_prefix(v): the argv prefix of deployc's own command, stripped before the round trip compares.
    secrets: dest -> the environment variable the engine reads it from (the value never lands in the spec).
    restate: dests whose engine default differs from deploy.yaml's default: written even when not given,
    so the imported spec serves what the command served (SGLang's 127.0.0.1:30000).
    env: environment variable -> what it is (None: engine configuration kept in targets.<name>.env;
    "secret": a credential, passed by name).
    effective(config, spec): the parsed configuration as the engine acts on it (vLLM's model_tag or
    --model; served_model_name None means the model id), for the round trip.
    """

    target: str
    title: str
    commands: tuple[tuple[str, ...], ...]
    table: Callable[[str], Path]
    versions: Sequence[str]
    dialect: Dialect
    rows: Sequence[Rev]
    rebuilt_prefix: Callable[[str], Sequence[str]]
    secrets: Mapping[str, str] = field(default_factory=dict)
    restate: Sequence[str] = ()
    env: Mapping[str, str | None] = field(default_factory=dict)
    effective: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # dests never compared (deployc's own launcher options, the help action)
    ignore: Sequence[str] = ()
