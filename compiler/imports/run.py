"""From the inputs of `deployc import` (a command, or files holding commands, Modelfiles, Compose files)
to one spec: each input read by its target's importer, several inputs merged into one spec with several
targets, the values they disagree on reported."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence

from deployc.compiler.api.importing import Importer
from deployc.compiler.imports import Entry, Imported, ImportError_, import_argv, match_command, printable
from deployc.compiler.imports.container import parse_run, runner
from deployc.compiler.imports.yamlout import report, to_yaml


@dataclass
class Input:
    argv: list[str]
    file: str | None = None   # the file it was read from
    source: str = ""          # how the spec's header names it (secrets redacted)
    read: Any = None          # a file an engine reads (FileImport), and its importer


@dataclass
class Outcome:
    items: list[Imported]
    spec: str
    report: str
    disagreements: list[str] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)


def importers() -> dict[str, tuple[Any, Importer]]:
    """Every registered target with an importer: name -> (target, importer)."""
    from deployc.compiler.registry import Registry

    reg = Registry.discover()
    out = {}
    for name in reg.names:
        target, _ = reg.load(name)
        imp = target.importer() if target is not None else None
        if imp is not None:
            out[name] = (target, imp)
    return out


def command_lines(text: str) -> list[list[str]]:
    """The commands of a shell snippet: `\\` continuations joined, comments and blank lines skipped."""
    joined = re.sub(r"\\\r?\n", " ", text)
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            words = shlex.split(line, comments=True)
            if words:
                out.append(words)
    return out


SPEC_DEFAULTS = {"server.host": "0.0.0.0", "server.port": 8000}   # deploy-yaml-v1.md: server.host, server.port


def compose_service(name: str, text: str, service: str | None) -> list[str] | None:
    """A Compose file's service as the `docker run` arguments it amounts to (image, environment, ports,
    command); None when the text is not a Compose file."""
    if not name.endswith((".yaml", ".yml")):
        return None
    from ruamel.yaml import YAML

    try:
        data = YAML(typ="safe").load(text)
    except Exception:   # not YAML: read as commands
        return None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return None
    services = data["services"]
    if service is None:
        if len(services) != 1:
            raise ImportError_(f"{name} has {len(services)} services ({', '.join(map(str, services))}): name one "
                               "with --service")
        service = next(iter(services))
    svc = services.get(service)
    if not isinstance(svc, dict) or not svc.get("image"):
        raise ImportError_(f"{name} has no service {service!r} with an image"
                           + (f" (services: {', '.join(map(str, services))})" if services else ""))
    argv: list[str] = []
    env = svc.get("environment") or {}
    items = env.items() if isinstance(env, dict) else (tuple(str(e).split("=", 1)) for e in env)
    for item in items:
        k, v = (item[0], item[1] if len(item) > 1 else None)
        argv += ["-e", f"{k}={v}" if v is not None else str(k)]
    for port in svc.get("ports") or ():
        argv += ["-p", str(port)]
    command = svc.get("command") or []
    if isinstance(command, str):
        command = shlex.split(command)
    return argv + [str(svc["image"]), *map(str, command)]


def read_inputs(words: Sequence[str], known: dict[str, tuple[Any, Importer]],
                service: str | None = None) -> list[Input]:
    if words and (runner(words) or match_command(words, [imp for _, imp in known.values()]) is not None):
        return [Input(list(words))]
    out = []
    for word in words:
        path = Path(word)
        if not path.is_file():
            raise ImportError_(f"{word!r} is neither a command deployc can import nor a file")
        text = path.read_text(encoding="utf-8")
        run_ = compose_service(word, text, service)
        if run_ is not None:
            out.append(Input(["docker", "run", *run_], word))
            continue
        hit = next(((imp, fi) for _, imp in known.values() if imp.read_file is not None
                    and (fi := imp.read_file(path.name, text)) is not None), None)
        if hit is not None:
            out.append(Input([], word, word, hit))
            continue
        for argv in command_lines(text):
            out.append(Input(argv, word))
        if not out:
            raise ImportError_(f"{word} holds no command")
    return out


def _reader(base: Path) -> Callable[[str], str]:
    def read(path: str) -> str:
        return (base / path).read_text(encoding="utf-8")
    return read


def from_file(imp: Importer, fi: Any, version: str) -> Imported:
    item = Imported(imp.target, imp.title, version, [])
    item.fields = dict(fi.fields)
    item.entries = [Entry(kind, text.split(" ", 1)[0], text, field_, why) for kind, text, field_, why in fi.entries]
    item.notes = list(fi.notes)
    item.file_config = fi.config
    return item


def _data_version(target: Any, version: str) -> str:
    v = target.version_for(version)
    return v.data_version if v is not None else version


def _container(inp: Input, known: dict[str, tuple[Any, Importer]], asked: str | None) -> tuple[Imported, Importer]:
    from deployc.compiler.secrets import credential_name

    n = runner(inp.argv)
    run_ = parse_run(inp.argv[n:])
    if run_ is None:
        raise ImportError_(f"{shlex.join(inp.argv[:n])} names no image")
    imp = next((i for _, i in known.values() if run_.repository in i.images
                or run_.repository.rsplit("/", 1)[-1] in {x.rsplit("/", 1)[-1] for x in i.images}), None)
    if imp is None:
        raise ImportError_(f"the image {run_.image} is not one deployc can import (it reads "
                           + ", ".join(i for _, imp_ in known.values() for i in imp_.images) + ")")
    target = known[imp.target][0]
    tag = (run_.tag or "").removeprefix("v")
    notes = []
    if asked is None and tag and target.version_for(tag) is not None:
        asked = tag
    elif asked is None:
        notes.append(f"the image tag {run_.tag or '(none)'} names no version deployc has read: the spec pins "
                     f"{imp.title} {imp.versions[0]}, the newest")
    version, data_version = version_of(target, imp, asked)
    args = list(run_.args)
    hit = match_command(args, [imp]) if args else None
    if hit is not None:            # the engine's command given after the image (lmsysorg/sglang)
        args = args[hit[1]:]
    published: dict[int, int] = {}
    for spec in run_.ports:
        parts = spec.split("/", 1)[0].split(":")
        if len(parts) >= 2 and parts[-2].isdigit() and parts[-1].isdigit():
            published[int(parts[-1])] = int(parts[-2])
    item = import_argv(args, imp, version, data_version, env=run_.env, published=published)
    item.notes += notes + [f"docker option {printable(u)} is not one deployc reads: left out" for u in run_.unknown]
    item.notes += [f"docker option {printable(o)} is the container's, not the engine's: not in the spec (deployc's "
                   "compose.yaml and `deployc up` set GPUs from parallelism, their own model-cache volume and shm)"
                   for o in run_.runtime]
    shown_env = [w for k, v in run_.env.items() for w in ("-e", k if v is None else
                 f"{k}=***" if credential_name(k) or k in imp.secrets.values() or k in imp.passed_env else f"{k}={v}")]
    inp.source = (f"{inp.file}: " if inp.file else "") + shlex.join(
        [*inp.argv[:n], *shown_env, *[w for p in run_.ports for w in ("-p", p)], run_.image, *item.redacted])
    return item, imp


def version_of(target: Any, imp: Importer, asked: str | None) -> tuple[str, str]:
    """(the version the spec pins, the version whose table reads the command)."""
    if asked is None:
        return imp.versions[0], imp.versions[0]
    v = target.version_for(asked)
    if v is None:
        raise ImportError_(f"{imp.title} {asked} is not a version deployc has read; it has "
                           + ", ".join(imp.versions))
    return asked, v.data_version


def run(words: Sequence[str], gpu: str | None, engine_version: str | None, check: bool,
        service: str | None = None) -> Outcome:
    known = importers()
    inputs = read_inputs(words, known, service)
    items: list[Imported] = []
    data_versions: dict[str, str] = {}
    for inp in inputs:
        if inp.read is not None:
            imp, fi = inp.read
            if any(i.target == imp.target for i in items):
                raise ImportError_(f"two inputs for {imp.title}: a spec has one targets.{imp.target}")
            version, data_version = version_of(known[imp.target][0], imp, engine_version)
            items.append(from_file(imp, fi, version))
            data_versions[imp.target] = data_version
            continue
        if runner(inp.argv):
            item, imp = _container(inp, known, engine_version)
            if any(i.target == imp.target for i in items):
                raise ImportError_(f"two commands for {imp.title}: a spec has one targets.{imp.target}")
            items.append(item)
            data_versions[imp.target] = _data_version(known[imp.target][0], item.version)
            continue
        hit = match_command(inp.argv, [imp for _, imp in known.values()])
        if hit is None:
            raise ImportError_(f"not a command deployc can import: {printable(shlex.join(inp.argv))} (it reads "
                               + ", ".join(" ".join(c) for _, imp in known.values() for c in imp.commands) + ")")
        imp, n = hit
        target = known[imp.target][0]
        version, data_version = version_of(target, imp, engine_version)
        if any(i.target == imp.target for i in items):
            raise ImportError_(f"two commands for {imp.title}: a spec has one targets.{imp.target}")
        args = inp.argv[n:]
        if imp.preprocess is not None:
            try:
                args = imp.preprocess(list(args), _reader(Path(inp.file).parent if inp.file else Path(".")))
            except OSError as exc:
                raise ImportError_(f"cannot read {exc.filename}: {exc.strerror}") from None
        item = import_argv(args, imp, version, data_version)
        inp.source = (f"{inp.file}: " if inp.file else "") + shlex.join(inp.argv[:n] + item.redacted)
        items.append(item)
        data_versions[imp.target] = data_version
    disagreements = []
    for path in dict.fromkeys(p for i in items for p in i.fields):
        # a command that does not say where it listens listens where deploy.yaml's default says (an engine
        # whose own default differs states it: Importer.restate)
        values = [(i.title, i.fields[path][0] if path in i.fields else SPEC_DEFAULTS[path]) for i in items
                  if path in i.fields or (path in SPEC_DEFAULTS and len(items) > 1)]
        if len({repr(v) for _, v in values}) > 1:
            kept = next(i.fields[path][0] for i in items if path in i.fields)   # what yamlout writes
            disagreements.append(f"{path}: " + ", ".join(f"{t} says {printable(repr(v))}" for t, v in values)
                                 + f"; the spec keeps {printable(repr(kept))}: pick one")
    spec = to_yaml(items, gpu, [i.source for i in inputs])
    out = Outcome(items, spec, report(items), disagreements)
    if check:
        from deployc.compiler.imports.roundtrip import compare

        for item in items:
            out.checks.append(compare(item, known[item.target][1], data_versions[item.target], spec))
    return out
