"""An engine version's own option table, and extra `args` checked against it.

The tables are data taken from the engines (targets/<name>/engine_options/<version>.json, written by
the extractors under conformance/extract/ from the engine's real parser or its source at a tag, with
provenance). Two layouts are read:

- argparse (vLLM, SGLang): options keyed by their first spelling, with `aliases`, `nargs`
  (0 for a switch), `choices`, `deprecated`, and `registries` of names the engine checks only later
  (vLLM's parser takes any --tool-call-parser string and fails at launch);
- clap (TGI's launcher): options with `short`, `takes_value`, `multiple`, `choices`.

``check_args`` reads a target's extra args the way the engine's parser would (``flags.Parser``) and
reports, at the YAML position of the token: an option the version does not have (with the version
that has it, or the closest spelling), an abbreviation the parser would expand to some other option,
an ambiguous prefix, a value outside the choices or the engine's registry, a deprecated option.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from deployc.compiler.api.flags import Parser
from deployc.compiler.diagnostics import Diagnostic, SpecPath, error, warning


@dataclass(frozen=True)
class EngineOption:
    """One option: its spellings (the first is its name), how many values it takes (0: a switch; 1;
    "?", "*" or "+" as argparse counts them), the values it accepts (the parser's choices, or the
    registry the engine checks later), and whether the engine marks it deprecated."""

    name: str
    spellings: tuple[str, ...]
    nargs: int | str = 1
    choices: tuple[str, ...] | None = None
    registry: tuple[str, ...] | None = None
    deprecated: bool = False


@dataclass(frozen=True)
class EngineOptions:
    """The option table of one engine command at one version."""

    engine: str
    version: str
    source: str
    options: tuple[EngineOption, ...]
    by_spelling: Mapping[str, EngineOption] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> EngineOptions:
        registries = {r["option"]: tuple(r["names"]) for r in (data.get("registries") or {}).values()
                      if isinstance(r, Mapping) and r.get("option") and not r.get("enforced_by_parser")}
        options = []
        for name, o in sorted(data["options"].items()):
            if "takes_value" in o:   # clap, click, Go
                spellings = (name, *o.get("aliases", ())) + ((f"-{o['short']}",) if o.get("short") else ())
                # click's multiple=True repeats the option, one value each time (click/core.py Option);
                # clap's multiple takes several values after one spelling
                several = o.get("multiple") and data.get("parser") != "click"
                nargs: int | str = ("+" if several else 1) if o["takes_value"] else 0
            else:                    # argparse
                spellings = (name, *o.get("aliases", ()))
                nargs = o.get("nargs")
                nargs = 1 if nargs is None else nargs
            choices = tuple(str(c) for c in o["choices"]) if o.get("choices") else None
            options.append(EngineOption(name, spellings, nargs, choices, registries.get(name),
                                        bool(o.get("deprecated"))))
        source = data.get("source") or {}
        where = source.get("package") or f"{source.get('repo', '')}@{source.get('commit', '')}"
        by_spelling: dict[str, EngineOption] = {}
        for o in options:   # a short spelling two options claim (TGI 3.3's -p) is the first one's
            for spelling in o.spellings:
                by_spelling.setdefault(spelling, o)
        return cls(data["engine"], data["version"], str(where), tuple(options), by_spelling)

    @classmethod
    def load(cls, path: Path) -> EngineOptions:
        return _load(str(path))

    def resolve(self, flag: str, parser: Parser) -> tuple[EngineOption | None, list[EngineOption]]:
        """The option a spelling selects (exactly, or as an abbreviation), and the candidates when it
        is an abbreviation (one: the parser expands it; several: ambiguous; none: unknown)."""
        if parser.underscores and flag.startswith("--"):
            flag = "--" + flag[2:].replace("_", "-")
        exact = self.by_spelling.get(flag)
        if exact is not None:
            return exact, []
        if parser.abbreviations and flag.startswith("--"):
            found = {o.name: o for s, o in self.by_spelling.items() if s.startswith("--") and s.startswith(flag)}
            return None, list(found.values())
        return None, []

    def value(self, args: Sequence[str], name: str, parser: Parser) -> str | None:
        """The value args give the option `name` (any spelling the parser takes: `--flag v`, `--flag=v`, a glued
        short `-fv`, an abbreviation), the last one winning as the parser reads them; None when not given.
        check_args reports what is malformed; this only reads."""
        found = None
        for o in read_args(args, self, parser):
            if o.option is not None and o.option.name == name and o.values:
                found = o.values[-1]
        return found

    def glued(self, flag: str, inline: str | None) -> tuple[EngineOption | None, str | None, str]:
        """A short option glued to its value (`-tp4`): the option, the value and the short spelling, or
        (None, inline, flag)."""
        for spelling in sorted((s for s in self.by_spelling if not s.startswith("--")), key=len, reverse=True):
            option = self.by_spelling[spelling]
            if flag.startswith(spelling) and option.nargs != 0:
                return option, flag[len(spelling):] + (f"={inline}" if inline is not None else ""), spelling
        return None, inline, flag


@cache
def _load(path: str) -> EngineOptions:
    return EngineOptions.from_data(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class ArgRead:
    """One item of extra args as the engine's parser reads it: an option (or what looks like one) with the
    values it takes, or a stray positional (option None, no candidates, positional True)."""
    at: int                          # index of the token in args
    token: str
    flag: str                        # the spelling before any `=value`
    written: str                     # the spelling as written (a glued short option's own spelling)
    option: EngineOption | None
    candidates: list[EngineOption]   # an abbreviation's expansions (one: the parser takes it; more: ambiguous)
    values: list[str]
    missing: bool                    # a value-taking option with no value after it
    after: str | None                # the token after the option's values
    positional: bool = False


def read_args(args: Sequence[str], table: EngineOptions, parser: Parser) -> list[ArgRead]:
    """Extra args split the way the engine's parser splits them (flags.Parser: `=` values, abbreviations,
    glued short options, argparse's value counting); a `--` ends nothing and is skipped."""
    out: list[ArgRead] = []
    i = 0
    while i < len(args):
        token, at = args[i], i
        i += 1
        if token == "--" or not _is_option(token):
            if token != "--":
                out.append(ArgRead(at, token, token, token, None, [], [], False, None, positional=True))
            continue
        flag, inline = token.split("=", 1) if "=" in token and parser.inline_values else (token, None)
        option, candidates = table.resolve(flag, parser)
        written = flag
        if option is None and parser.glued_short and not flag.startswith("--"):   # -tp4 is -tp 4
            option, inline, written = table.glued(flag, inline)
        if option is None and len(candidates) == 1:
            option = candidates[0]
        values: list[str] = []
        missing = False
        if option is not None:
            missing = option.nargs == 1 and inline is None and (i >= len(args) or _is_option(args[i]))
            i, values = _values(args, i, option, inline)
        elif inline is None and i < len(args) and not _is_option(args[i]):
            i += 1   # its value, most likely: one report for the option, not a second for the value
        out.append(ArgRead(at, token, flag, written, option, candidates, values, missing,
                           args[i] if i < len(args) else None))
    return out


def check_args(args: Sequence[str], table: EngineOptions, title: str, target: str, parser: Parser,
               owners: Mapping[str, SpecPath] | None = None, others: Sequence[EngineOptions] = (),
               stale: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Extra args read as the engine's parser reads them (read_args), against the version's option table: an
    option the spec owns (owners: spelling -> spec path, from the target's OptionTable) is restated; an option
    the version lacks (others: the engine's other versions, to say which has it; stale: spelling -> what
    to do instead, for options users copy from older posts), an abbreviation, an ambiguous prefix, a
    missing value or one outside the choices or registry is an error; a deprecated option a warning."""
    owners = owners or {}
    out: list[Diagnostic] = []
    for o in read_args(args, table, parser):
        at, flag, option = ("targets", target, "args", o.at), o.flag, o.option
        if o.positional:
            out.append(error("target-args-positional", f"{o.token!r} in targets.{target}.args is not an option "
                             f"of {title} {table.version}, and {title} takes no further positional arguments",
                             hint="give each option before its value (`--flag value`)", path=at))
            continue
        abbreviated = option is not None and len(o.candidates) == 1
        # a short spelling two options share (TGI 3.3's -p) names the option it was written as, no other
        owner = next((owners[s] for s in option.spellings if s in owners and (s.startswith("--") or s == o.written)),
                     None) if option else None
        if owner is None and option is None and not o.candidates:
            owner = parser.match(o.token, owners)   # a spelling the spec owns that the table lacks
        why = stale and (stale.get(flag) or (stale.get(flag[:2]) if not flag.startswith("--") else None))
        if owner is not None:
            where = ".".join(map(str, owner))
            out.append(error("target-args-conflict", f"{flag} in targets.{target}.args restates {where}, which "
                             "deployc derives from the spec", hint=f"set {where} instead and remove it from args",
                             path=at))
        elif why:   # copied from an older post: gone, or a different option now
            out.append(error("target-args-stale", f"{o.token} is not a flag of the pinned version: {why}",
                             hint="remove it from args (blog posts often predate the rename)", path=at))
        elif option is None:
            out.append(_unknown(flag, o.candidates, table, title, at, others))
        else:
            out += _option_problems(option, flag, o.values, o.missing, abbreviated, o.after, table, title, at)
    return out


def _option_problems(option: EngineOption, flag: str, values: list[str], missing: bool, abbreviated: bool,
                     after: str | None, table: EngineOptions, title: str, at: tuple[Any, ...]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if missing:
        out.append(error("target-args-value", f"{flag} takes a value, and {title}'s parser reads "
                         + (f"{after!r} as an option" if after is not None else "nothing after it"), path=at,
                         hint=f"write {option.name}=VALUE as one item (a value starting with '-' needs the = form)"))
    if abbreviated:
        out.append(error("target-args-abbreviated", f"{flag} is not an option of {title} {table.version}: its "
                         f"parser expands it to {option.name}", path=at,
                         hint=f"write {option.name} in full" + _close(flag, table, exclude=option.name)))
    if option.deprecated:
        out.append(warning("target-args-deprecated", f"{option.name} is deprecated in {title} {table.version}",
                           hint="see the option's help for its replacement", path=at))
    allowed = option.choices or option.registry or ()
    for value in values if allowed else ():
        if value not in allowed:
            close = difflib.get_close_matches(value, allowed, n=1)
            out.append(error(
                "target-args-choice", f"{value!r} is not a value {title} {table.version} takes for {option.name}",
                path=at, hint=(f"did you mean {close[0]}? " if close else "")
                + f"{len(allowed)} values: " + ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")))
    return out


def _values(args: Sequence[str], i: int, option: EngineOption, inline: str | None) -> tuple[int, list[str]]:
    """Where the option's values end, and the values (argparse's counting: a token starting with '-'
    that is not a negative number ends a variable list)."""
    if inline is not None:
        return i, [inline]
    if option.nargs == 0:
        return i, []
    if option.nargs == 1:
        return (i + 1, [args[i]]) if i < len(args) and not _is_option(args[i]) else (i, [])
    if isinstance(option.nargs, int):   # a fixed count (llama.cpp's two-value options)
        end = i
        while end < min(len(args), i + option.nargs) and not _is_option(args[end]):
            end += 1
        return end, list(args[i:end])
    values: list[str] = []
    while i < len(args) and not _is_option(args[i]):
        values.append(args[i])
        i += 1
        if option.nargs == "?":
            break
    return i, values


def _is_option(token: str) -> bool:
    """Whether a parser reads the token as an option (argparse: '-' followed by anything but a number)."""
    return token.startswith("-") and token != "-" and not _is_number(token)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _close(flag: str, table: EngineOptions, exclude: str = "") -> str:
    names = [o.name for o in table.options if o.name != exclude]
    close = difflib.get_close_matches(flag, names, n=1, cutoff=0.75)
    return f", or did you mean {close[0]}?" if close else ""


def _unknown(flag: str, candidates: list[EngineOption], table: EngineOptions, title: str, at: tuple[Any, ...],
             others: Sequence[EngineOptions]) -> Diagnostic:
    if len(candidates) > 1:
        return error("target-args-ambiguous", f"{flag} is an ambiguous abbreviation for {title} {table.version}",
                     hint="write one of " + ", ".join(sorted(o.name for o in candidates)[:6]) + " in full", path=at)
    has = [t.version for t in others if t.by_spelling.get(flag)]
    close = difflib.get_close_matches(flag, [o.name for o in table.options], n=1, cutoff=0.75)
    return error("target-args-unknown", f"{flag} is not an option of {title} {table.version}"
                 + (f" ({', '.join(has)} {'has' if len(has) == 1 else 'have'} it)" if has else ""), path=at,
                 hint=(f"did you mean {close[0]}?" if close else f"see `--help` of {title} {table.version}"))
