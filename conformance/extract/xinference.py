#!/usr/bin/env python3
"""XInference's click options and built-in LLM registry, read from an installed xinference release.

Run with the python of a conformance venv (conformance/install_xinference.sh makes them):

    pip download --no-deps xinference==4.1.0 -d /tmp/xw      # only to record the wheel's sha256
    .conformance/xinference-4.1.0/bin/python conformance/extract/xinference.py \
        --wheel /tmp/xw/xinference-4.1.0-py3-none-any.whl
    (the same with xinference-1.17.1)

Writes targets/xinference/engine_options/<version>.json and targets/xinference/registry/<version>.json
(--stdout prints the option table; --registry-stdout the registry). Without --wheel, "wheel" and
"sha256" of the source are null; with it, the wheel's RECORD must agree with every installed file
read, so the tables are the wheel's.

Options: the real click commands are walked (xinference.deploy.cmdline), nothing is parsed from
text: `xinference-local` (the "options" section), and under "commands" `xinference-supervisor`,
`xinference-worker`, the `xinference` group itself, `xinference launch` and `xinference register`.
Per click.Option: the key is its first long spelling, aliases are its other opts, plus click's
secondary_opts, is_flag, flag_value, required, nargs and hidden; type is click's type name (Choice:
choices; IntRange/FloatRange: min, max); default is click's default (tuples as lists). Each command
records its context_settings (`xinference launch` has ignore_unknown_options and
allow_extra_args: unknown `--key value` pairs become model kwargs) and the help option names.

Registry: the package's own built-in LLM catalogue (4.x: xinference/model/llm/models/*.json, one
family per file; 1.x: xinference/model/llm/llm_family.json), read as JSON, keeping per
family its model_name, architectures, model_ability and context_length, and per spec
model_format, model_size_in_billions and, per hub of model_src, model_id and quantizations
(deployc matches hub ids and sizes against them: targets/xinference/builtin.py). One model per
line, sorted by name.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

# This file is named xinference.py: drop its folder from sys.path so `import xinference` finds the
# package, and load the shared helpers by path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_spec = importlib.util.spec_from_file_location("_src_common", _HERE / "_src_common.py")
_common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_common)
REPO_ROOT, dumps, option, sha256, write = _common.REPO_ROOT, _common.dumps, _common.option, _common.sha256, _common.write

EXTRACTOR = "conformance/extract/xinference.py"


def jsonable(v):
    if isinstance(v, (tuple, list)):
        return [jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if callable(v):
        return "<callable>"
    return str(v)


def click_option(p) -> tuple[str, dict]:
    longs = [o for o in p.opts if o.startswith("--")]
    key = (longs or p.opts)[0]
    t = p.type
    extra = {"is_flag": bool(getattr(p, "is_flag", False)), "secondary_opts": list(p.secondary_opts),
             "required": bool(p.required), "nargs": p.nargs, "hidden": bool(getattr(p, "hidden", False))}
    if extra["is_flag"]:
        extra["flag_value"] = jsonable(p.flag_value)
    for bound in ("min", "max"):
        if hasattr(t, bound):
            extra[bound] = getattr(t, bound)
    envvar = p.envvar if isinstance(p.envvar, str) or p.envvar is None else list(p.envvar)
    return key, option(
        aliases=[o for o in p.opts if o != key], dest=p.name,
        takes_value=not (extra["is_flag"] or getattr(p, "count", False)), type=t.name,
        choices=list(t.choices) if hasattr(t, "choices") else None, default=jsonable(p.default),
        env=envvar, multiple=bool(p.multiple), deprecated=bool(getattr(p, "deprecated", False)), **extra)


def command(cmd, info_name: str) -> dict:
    import click

    options, arguments = {}, []
    for p in cmd.params:
        if isinstance(p, click.Option):
            key, entry = click_option(p)
            assert key not in options, key
            options[key] = entry
        else:
            arguments.append({"dest": p.name, "type": p.type.name, "required": bool(p.required),
                              "nargs": p.nargs, "default": jsonable(p.default)})
    ctx = click.Context(cmd, info_name=info_name)
    help_opt = cmd.get_help_option(ctx)
    return {"options": options, "arguments": arguments,
            "context_settings": {k: jsonable(v) for k, v in sorted(cmd.context_settings.items())},
            "help_options": sorted(help_opt.opts) if help_opt else []}


def installed_files(site: Path, rels: list[str]) -> dict[str, str]:
    return {r: sha256((site / r).read_bytes()) for r in sorted(rels)}


def check_wheel(wheel: Path, files: dict[str, str]) -> None:
    """The wheel's RECORD must give every file read the hash it has in the venv."""
    with zipfile.ZipFile(wheel) as z:
        record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        rows = {r[0]: r[1] for r in csv.reader(io.StringIO(z.read(record).decode())) if len(r) > 1 and r[1]}
    for rel, hexdigest in files.items():
        algo, b64 = rows[rel].split("=", 1)
        assert algo == "sha256", rows[rel]
        want = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
        assert want == hexdigest, f"{rel}: venv file differs from {wheel.name}"


def source(version: str, wheel: Path | None, files: dict[str, str]) -> dict:
    if wheel is not None:
        assert wheel.name.startswith(f"xinference-{version}-"), wheel.name
        check_wheel(wheel, files)
    return {"package": f"xinference=={version}", "wheel": wheel.name if wheel else None,
            "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel else None,
            "files": sorted(files), "file_sha256": files}


def options_table(version: str, site: Path, wheel: Path | None) -> dict:
    from xinference.deploy import cmdline

    commands = {
        "xinference-supervisor": command(cmdline.supervisor, "xinference-supervisor"),
        "xinference-worker": command(cmdline.worker, "xinference-worker"),
        "xinference": command(cmdline.cli, "xinference"),
        "xinference launch": command(cmdline.cli.commands["launch"], "launch"),
        "xinference register": command(cmdline.cli.commands["register"], "register"),
    }
    local = command(cmdline.local, "xinference-local")
    files = installed_files(site, ["xinference/deploy/cmdline.py"])
    from importlib.metadata import version as dist_version

    return {
        "engine": "xinference",
        "version": version,
        "parser": "click",
        "parser_version": dist_version("click"),
        "program": "xinference-local",
        "source": source(version, wheel, files),
        "extractor": EXTRACTOR,
        "options": local.pop("options"),
        "arguments": local["arguments"],
        "context_settings": local["context_settings"],
        "help_options": local["help_options"],
        "commands": commands,
    }


def registry_files(site: Path) -> list[str]:
    llm = site / "xinference/model/llm"
    if (llm / "models").is_dir():
        return sorted(str(p.relative_to(site)) for p in (llm / "models").glob("*.json"))
    return ["xinference/model/llm/llm_family.json"]


def registry(version: str, site: Path, wheel: Path | None) -> dict:
    rels = registry_files(site)
    models: dict[str, list] = {}
    for rel in rels:
        data = json.loads((site / rel).read_text(encoding="utf-8"))
        for family in data if isinstance(data, list) else [data]:
            specs = []
            for s in family["model_specs"]:
                hubs = {}
                for hub, src in sorted(s.get("model_src", {}).items()):
                    hubs[hub] = {"model_id": src.get("model_id"), "quantizations": src.get("quantizations")}
                if "model_id" in s:  # a spec without model_src (older catalogue layout)
                    hubs.setdefault(s.get("model_hub", "huggingface"),
                                    {"model_id": s["model_id"], "quantizations": s.get("quantizations")})
                specs.append({"model_format": s["model_format"],
                              "model_size_in_billions": s["model_size_in_billions"], "hubs": hubs})
            name = family["model_name"]
            entry = {"architectures": family.get("architectures") or [],
                     "abilities": family.get("model_ability") or [],
                     "context_length": family.get("context_length"), "specs": specs}
            assert name not in models or models[name] == entry, f"{name} defined twice, differently"
            models[name] = entry
    return {"engine": "xinference", "version": version, "extractor": EXTRACTOR,
            "source": source(version, wheel, installed_files(site, rels)), "models": models}


def dumps_registry(data: dict) -> str:
    """Compact and diffable: the header on one line, then one model per line."""
    head = {k: v for k, v in data.items() if k != "models"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "models": {']
    names = sorted(data["models"])
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(data['models'][name], sort_keys=True, separators=(',', ':'))}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import xinference

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", type=Path, help="the release wheel, to record its sha256 (checked against RECORD)")
    ap.add_argument("--stdout", action="store_true", help="print the option table instead of writing files")
    ap.add_argument("--registry-stdout", action="store_true", help="print the registry instead of writing files")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "targets/xinference")
    args = ap.parse_args(argv)
    version = xinference.__version__
    site = Path(xinference.__file__).resolve().parents[1]
    if args.stdout or args.registry_stdout:
        sys.stdout.write(dumps(options_table(version, site, args.wheel)) if args.stdout
                         else dumps_registry(registry(version, site, args.wheel)))
        return
    table = options_table(version, site, args.wheel)
    write(args.out / "engine_options" / f"{version}.json", table)
    reg = registry(version, site, args.wheel)
    path = args.out / "registry" / f"{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_registry(reg), encoding="utf-8")
    print(f"{version}: xinference-local {len(table['options'])} options, "
          + ", ".join(f"{k} {len(v['options'])}" for k, v in table["commands"].items())
          + f"; registry {len(reg['models'])} models, {path.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
