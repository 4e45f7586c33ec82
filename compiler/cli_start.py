"""`deployc init` and `deployc facts`: starting a spec (a starter sized from the plan) and locking its
model's facts beside it. Registered on the typer app by compiler/cli.py (``register``)."""

from __future__ import annotations

from pathlib import Path

import typer

from deployc.compiler.cli_common import (
    DEFAULT_SPEC,
    OK,
    failure,
    registry as _registry,
    target_names,
    unknown_target,
    usage,
)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(facts)


def init(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="Where to write the starter spec."),
    model: str = typer.Option("Qwen/Qwen2.5-7B-Instruct", "--model", help="Hub id or local path of the model."),
    gpu: str = typer.Option("H100-80GB", "--gpu", help="A GPU from `deployc gpus`."),
    targets: list[str] = typer.Option([], "--target", help="A target to list; repeat for more (default: every "
                                      "registered one, commented out).", autocompletion=target_names),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter deploy.yaml sized for the model and GPU (tensor parallelism from the memory
    plan), and deploy.schema.json beside it, for editor completion."""
    from deployc.compiler import gpus
    from deployc.compiler.diagnostics import did_you_mean
    from deployc.compiler.facts import catalog
    from deployc.compiler.schema import schema_text
    from deployc.compiler.spec import is_local
    from deployc.compiler.starter import size, starter_text

    if spec.exists() and not force:
        raise usage(f"{spec} exists; pass --force to overwrite it")
    registry = _registry()
    for name in targets:
        if name not in registry.points:
            raise unknown_target(name, registry)
    found = gpus.lookup(gpu)
    if found is None:
        spellings = {**{n: n for n in gpus.CATALOG}, **gpus.ALIASES}   # "h100" -> H100-80GB too
        close = list(dict.fromkeys(spellings[c] for c in did_you_mean(gpu, spellings, n=5)))[:3]
        raise usage(f"unknown GPU {gpu!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
                    + "; `deployc gpus` lists the catalog, or write hardware.gpu as {name, memory_gib, "
                    "compute_capability} in the spec")
    targets = list(dict.fromkeys(targets))
    sized = size(model, found.name, targets, registry, spec.parent)
    schema_path = spec.parent / "deploy.schema.json"
    text = starter_text(spec.stem.replace(".deploy", "") if spec.name != "deploy.yaml" else spec.resolve().parent.name,
                        model, found.name, targets, registry.names, "./deploy.schema.json", str(spec),
                        sized.tensor, sized.max_model_len)
    try:
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(text, encoding="utf-8")
        if not schema_path.exists() or force:
            schema_path.write_text(schema_text(registry), encoding="utf-8")
    except OSError as exc:
        raise failure(f"cannot write {spec}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {spec} and {schema_path}")
    if sized.facts != "none":
        typer.echo(f"  model facts: {sized.facts}")
    elif is_local(model):
        typer.echo(f"  model facts: unknown: {model}/config.json is not here; add it or give model.facts")
    else:
        close = did_you_mean(model, [e["id"] for e in catalog().values()], n=3)
        typer.echo(f"  model facts: unknown: {model} is not in deployc's catalog"
                   + (f" (did you mean {', '.join(close)}?)" if close else "")
                   + f"; `deployc facts {model}" + (f" --dir {spec.parent}" if str(spec.parent) != "." else "")
                   + "` locks its config.json beside the spec")
    typer.echo(f"  {sized.note}")
    typer.echo(f"next: deployc validate {spec} && deployc build {spec} --target all" if targets else
               f"next: uncomment the targets to build for under targets:, then deployc validate {spec}")
    raise typer.Exit(OK)


def facts(
    model: str = typer.Argument(..., help="Hub id of the model (org/name)."),
    revision: str | None = typer.Option(None, "--revision", help="Branch, tag or commit (default: main)."),
    folder: Path = typer.Option(Path("."), "--dir", help="The spec's folder: model-facts.lock.json is written there."),
) -> None:
    """Lock a hub model's config.json and weight size at its current commit, beside the spec, so every
    build on every machine reads the same facts (needs the network and huggingface_hub)."""
    import os

    from deployc.compiler import factlock, hub
    from deployc.compiler.facts import catalog_facts, from_config
    from deployc.compiler.spec import is_local

    if is_local(model):
        raise usage(f"{model} is a local path: its config.json is read directly, nothing to lock")
    if not folder.is_dir():
        raise usage(f"{folder} is not a folder")
    try:
        entry = hub.fetch(model, revision)
        text = factlock.updated_text(folder, entry)
    except hub.HubError as exc:
        raise failure(exc.message, exc.hint) from None
    except ValueError as exc:
        raise failure(f"{folder / factlock.LOCK_NAME}: {exc}") from None
    path = folder / factlock.LOCK_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise failure(f"cannot write {path}: {exc.strerror or exc}") from None
    f = from_config(entry.config, entry.label)
    quant = f.quant_method or "none (16-bit)"
    typer.echo(f"{path}: {entry.model} at {entry.revision} = {entry.commit}")
    typer.echo(f"  {f.layers} layers, {f.attention_heads} attention heads, {f.kv_heads} KV heads, context "
               f"{f.context}, quantization {quant}"
               + (f", {entry.weights_bytes / 2**30:.2f} GiB of safetensors" if entry.weights_bytes else ""))
    if entry.base_model:
        base = catalog_facts(entry.base_model)
        typer.echo(f"  base model: {entry.base_model}" + (f" ({base.origin})" if base.known else ""))
    typer.echo(f"  builds of specs in {folder} now read these facts; commit {path.name} with the spec")
    raise typer.Exit(OK)
