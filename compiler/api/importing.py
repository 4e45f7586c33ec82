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


class Refused(ValueError):
    """The input cannot become a spec without something only the user knows (the message says what)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


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
    inline_values: bool = True   # `--x=v` is `--x v` (argparse, clap); llama.cpp looks the whole token up
    glued_short: bool = True     # `-tp4` is `-tp 4` (argparse)


@dataclass
class FileImport:
    """A file an engine reads (an Ollama Modelfile) read back: spec fields (dotted path -> (value, comment)),
    the report's lines (kind: mapped, raw, default, unknown, secret; the text; the field; why), notes, and the
    configuration the engine acts on, for the round trip."""

    fields: dict[str, tuple[Any, str]]
    entries: list[tuple[str, str, str | None, str]]
    notes: list[str]
    config: dict[str, Any]


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
    # preprocess(argv, read) -> argv: what the engine's parser does before parsing (vLLM's --config YAML pulled
    # into the argv); read(path) gives a file's text.
    preprocess: Callable[[list[str], Callable[[str], str]], list[str]] | None = None
    # the engine's defaults for dests its option table records none for (llama.cpp's tables carry no defaults)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # dests never compared (deployc's own launcher options, the help action)
    ignore: Sequence[str] = ()
    # Container images that run this engine (`docker run IMAGE ...`), the port the image's server listens on
    # inside the container, and the dests that say where it listens inside (the published port is server.port).
    images: Sequence[str] = ()
    container_port: int | None = None
    inside: Sequence[str] = ()
    # Environment variables the engine reads for its options (clap's env fallback: the table's `env`) are read
    # from the table; these are the ones deployc itself passes (HF_TOKEN): dropped, with a note.
    passed_env: Sequence[str] = ("HF_TOKEN",)
    # A file the engine reads instead of a command line: read_file(name, text) -> FileImport, or None when the
    # text is not such a file; rebuilt_file(artifacts: path -> content) -> the same configuration, from the build.
    read_file: Callable[[str, str], FileImport | None] | None = None
    rebuilt_file: Callable[[Mapping[str, str]], dict[str, Any]] | None = None
