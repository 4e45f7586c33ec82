"""`deployc import`: an engine's command line read back into a reviewed deploy.yaml.

The engine-agnostic part: which target a command belongs to (each target's ``importer()`` hook names
its commands), parsing it with the version's option table (argv.py), the reverse rows (first-class
fields), the engine's defaults dropped, secrets turned into references by name, the rest kept verbatim
in targets.<name>.args with why, a report, and the commented YAML (yamlout.py). The round trip is
roundtrip.py.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping, Sequence

from deployc.compiler.api.importing import Ctx, Importer, Keep
from deployc.compiler.imports.argv import Parsed, parse, table_data

MAPPED, RAW, DEFAULT, UNKNOWN, SECRET, CONSUMED = "mapped", "raw", "default", "unknown", "secret", "consumed"


class ImportError_(ValueError):
    """The command cannot be imported (exit 2): not a command deployc knows, a version it has no table for."""


@dataclass
class Entry:
    """One line of the report: what happened to one option of the command."""

    kind: str
    option: str
    text: str
    field: str | None = None
    why: str = ""

    def line(self) -> str:
        head = {MAPPED: "mapped ", RAW: "raw    ", DEFAULT: "default", UNKNOWN: "unknown", SECRET: "secret ",
                CONSUMED: "mapped "}[self.kind]
        where = f" -> {self.field}" if self.field else ""
        return f"{head}  {printable(self.text)}{where}" + (f"  ({self.why})" if self.why else "")


@dataclass
class Imported:
    """One imported command: the spec fields (dotted path -> value, comment), the raw args, the report."""

    target: str
    title: str
    version: str
    argv: list[str]
    fields: dict[str, tuple[Any, str]] = field(default_factory=dict)
    args: list[tuple[list[str], str]] = field(default_factory=list)
    env: dict[str, tuple[str, str]] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parsed: Parsed | None = None
    redacted: list[str] = field(default_factory=list)   # argv with every secret's value as ***
    container: bool = False
    file_config: dict[str, Any] | None = None   # a file an engine reads: its configuration, for the round trip

    def count(self, *kinds: str) -> int:
        return sum(1 for e in self.entries if e.kind in kinds)


def printable(text: str) -> str:
    """Text safe on one line of a terminal or a YAML comment: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(tokens: Sequence[str]) -> str:
    return printable(shlex.join(tokens))


_PYTHON = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?$")


def match_command(argv: Sequence[str], importers: Sequence[Importer]) -> tuple[Importer, int] | None:
    """The importer whose command starts argv, and where the engine's options start."""
    words = list(argv)
    best: tuple[Importer, int] | None = None
    for imp in importers:
        for prefix in imp.commands:
            n = len(prefix)
            if len(words) < n:
                continue
            head = ["python" if _PYTHON.fullmatch(w) and i == 0 else w.rsplit("/", 1)[-1] if i == 0 else w
                    for i, w in enumerate(words[:n])]
            want = ["python" if _PYTHON.fullmatch(w) else w for w in prefix]
            if head == want and (best is None or n > best[1]):
                best = (imp, n)
    return best


_SECRET_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def env_tokens(env: Mapping[str, str | None], data: Mapping[str, Any], imp: Importer
               ) -> tuple[list[str], list[str], dict[str, str | None]]:
    """The options the environment sets through the engine's env fallback (clap's `env`), as tokens before
    the command's own (which win), the variable behind each token, and the variables left over."""
    by_env = {o["env"]: (name, o) for name, o in data["options"].items() if o.get("env")}
    tokens: list[str] = []
    names: list[str] = []
    rest: dict[str, str | None] = {}
    for key, value in env.items():
        hit = by_env.get(key)
        if hit is None or (value is None and hit[1]["dest"] not in imp.secrets):
            rest[key] = value
            continue
        name, o = hit
        if o.get("nargs") == 0:
            if str(value).lower() in ("true", "1", "") or value is None:
                tokens.append(name)
                names.append(key)
            continue
        tokens += [name, value if value is not None else "${" + key + "}"]
        names += [key, key]
    return tokens, names, rest


def import_argv(argv: Sequence[str], imp: Importer, version: str, data_version: str,
                env: Mapping[str, str | None] | None = None, published: Mapping[int, int] | None = None) -> Imported:
    """argv: the engine's options (after its command). version: what the spec pins; data_version: the
    version whose option table reads it. env: the container's environment; published: container port ->
    host port (a `docker run` import)."""
    data = table_data(str(imp.table(data_version)))
    pre, pre_names, rest = env_tokens(env or {}, data, imp)
    parsed = parse(pre + list(argv), data, imp.dialect)
    for dest, value in imp.defaults.items():
        if parsed.defaults.get(dest) is None:
            parsed.defaults[dest] = value
    out = Imported(imp.target, imp.title, version, pre + list(argv), parsed=parsed,
                   redacted=redact(argv, parsed, imp))
    out.container = published is not None
    ctx = Ctx(parsed.config, frozenset(parsed.given), version)
    rows = {r.dest: r for r in imp.rows}
    _environment(out, imp, rest)
    if published is not None:
        inside = parsed.values.get("port") if "port" in parsed.given else imp.container_port
        host = published.get(int(inside)) if isinstance(inside, int) else None
        if host is not None:
            _put(out, "server.port", host, f"the host port published for the container's {inside}")
            out.entries.append(Entry(MAPPED, "-p", f"-p {host}:{inside}", "server.port"))
        else:
            out.notes.append(f"the container's port {inside} is not published: server.port keeps its default")
    for g in sorted(parsed.given.values(), key=lambda g: g.index):
        value = parsed.values[g.dest]
        text = shown(g.tokens) if g.dest not in imp.secrets else f"{g.name} ***"
        if g.index < len(pre):
            text = f"-e {pre_names[g.index]}=" + ("***" if g.dest in imp.secrets else printable(str(value)))
        if published is not None and g.dest in imp.inside:
            out.entries.append(Entry(CONSUMED, g.name, text, None, "where it listens inside the container: the "
                                     "published port is server.port"))
            continue
        if g.repeated > 1 and parsed.options.get(g.dest, {}).get("action") != "append":
            out.notes.append(f"{g.name} is given {g.repeated} times: {imp.title}'s parser keeps the last, {text}")
        if g.dest in imp.secrets:
            variable = imp.secrets[g.dest]
            literal = value if isinstance(value, str) else " ".join(map(str, value or ()))
            ref = _SECRET_REF.fullmatch(literal.strip())
            name = ref.group(1) if ref else variable
            _put(out, "server.api_key_env", name,
                 f"from {g.name}: the key itself is never written here; export {name} where the engine runs")
            out.entries.append(Entry(SECRET, g.name, f"{g.name} ***", "server.api_key_env",
                                     f"a literal key became a reference to ${name}" if not ref else "a reference"))
            if not ref:
                out.notes.append(f"{g.name} held a literal key: it is not in the spec; set {name} in the "
                                 "environment where the engine runs")
            continue
        if g.dest not in imp.restate and g.dest != imp.dialect.positional and _same(value, parsed.defaults.get(g.dest)):
            out.entries.append(Entry(DEFAULT, g.name, text, None, f"{imp.title} {version}'s default"))
            continue
        row = rows.get(g.dest)
        result = row.apply(value, ctx) if row is not None else Keep(f"deploy.yaml has no field for {g.name}")
        if isinstance(result, Keep):
            out.args.append((g.canonical(), result.why))
            out.entries.append(Entry(RAW, g.name, text, f"targets.{imp.target}.args", result.why))
            continue
        if not result:
            out.entries.append(Entry(CONSUMED, g.name, text, None, "read with the options it goes with"))
            continue
        for path, v in result.items():
            _put(out, path, v, f"from {text}")
        out.entries.append(Entry(MAPPED, g.name, text, ", ".join(result)))
    for dest in imp.restate:
        if dest in parsed.given or dest not in rows or (published is not None and dest in imp.inside):
            continue
        result = rows[dest].apply(parsed.defaults.get(dest), ctx)
        if not isinstance(result, Keep):
            for path, v in result.items():
                _put(out, path, v, f"{imp.title}'s own default, stated: deploy.yaml's default differs")
    for tokens, _index, why in parsed.unknown:
        out.args.append((tokens, why + ": kept as given"))
        out.entries.append(Entry(UNKNOWN, tokens[0], shown(tokens), f"targets.{imp.target}.args", why))
    for token in parsed.positionals:
        out.args.append(([token], f"{imp.title} takes no further positional argument"))
        out.entries.append(Entry(UNKNOWN, token, shown([token]), f"targets.{imp.target}.args",
                                 "an extra positional argument"))
    out.notes += ctx.notes
    if "model.source" not in out.fields:
        raise ImportError_(f"the command names no model ({imp.title} needs one)")
    if "model.served_name" not in out.fields:
        _put(out, "model.served_name", out.fields["model.source"][0],
             "what the engine served without --served-model-name (the model id): clients keep working")
    return out


def _environment(out: Imported, imp: Importer, env: Mapping[str, str | None]) -> None:
    """The container's variables no option reads: credentials become references (never values), the ones
    deployc passes itself are dropped, the rest are the engine's own settings, kept in targets.<name>.env."""
    from deployc.compiler.secrets import credential_name

    secret_env = set(imp.secrets.values())
    for key, value in env.items():
        if key in imp.passed_env:
            out.entries.append(Entry(SECRET, key, f"-e {key}" + ("=***" if value is not None else ""), None,
                                     f"deployc passes {key} from the environment it runs in"))
            continue
        if key in secret_env:
            _put(out, "server.api_key_env", key, f"from -e {key}: the key itself is never written here")
            out.entries.append(Entry(SECRET, key, f"-e {key}=***", "server.api_key_env", "a reference"))
            continue
        if credential_name(key) or value is None:
            out.env[key] = ("${" + key + "}", "passed from the environment by name" if value is None else
                            "a credential: the value is never written here; set it where the engine runs")
            out.entries.append(Entry(SECRET if value is not None else RAW, key, f"-e {key}" + (
                "=***" if value is not None else ""), f"targets.{imp.target}.env", "a reference by name"))
            continue
        out.env[key] = (value, f"an environment variable for {imp.title}, kept as given")
        out.entries.append(Entry(RAW, key, f"-e {key}={printable(value)}", f"targets.{imp.target}.env",
                                 f"an environment variable for {imp.title}"))


def redact(argv: Sequence[str], parsed: Parsed, imp: Importer) -> list[str]:
    """argv as it may be shown: each secret option's value (every occurrence) replaced by ***."""
    secret_flags = {s for dest in imp.secrets if dest in parsed.options
                    for s in (parsed.options[dest]["name"], *parsed.options[dest].get("aliases", ()))}
    out, hide = [], False
    for token in argv:
        flag = token.split("=", 1)[0]
        if hide and not token.startswith("-"):
            out.append("***")
            continue
        hide = False
        if any(len(flag) > 2 and s.startswith(flag) for s in secret_flags):
            if "=" in token:
                out.append(flag + "=***")
            else:
                out.append(token)
                hide = True
            continue
        out.append(token)
    return out


def _same(value: Any, default: Any) -> bool:
    """A value equal to the default, also where the parser leaves numbers as text (click without a type)."""
    if value == default:
        return True
    return isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool) \
        and value.strip() == str(default)


def _put(out: Imported, path: str, value: Any, comment: str) -> None:
    old = out.fields.get(path)
    if old is not None and old[0] != value:
        out.notes.append(f"{path}: {old[0]!r} and {value!r} both come from the command; keeping {value!r}")
    out.fields[path] = (value, comment)
