"""`deployc import`: the command line you run today -> a reviewed deploy.yaml. Registered on the typer app by
compiler/cli.py (``register``); the work is deployc.compiler.imports."""

from __future__ import annotations

from pathlib import Path

import typer

from deployc.compiler.cli_common import OK, SPEC_ERROR, USAGE_ERROR, failure, usage


def register(app: typer.Typer) -> None:
    app.command("import", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                            "allow_interspersed_args": True})(import_command)


def import_command(
    inputs: list[str] = typer.Argument(..., help="`-- COMMAND...` (vllm serve, python -m "
                                       "vllm.entrypoints.openai.api_server, sglang serve, python -m "
                                       "sglang.launch_server, docker run of the TGI image), or files: an Ollama "
                                       "Modelfile, a Compose file (--service), shell scripts holding commands."),
    gpu: str | None = typer.Option(None, "--gpu", help="hardware.gpu, which a command line does not say."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the spec here (default: standard output)."),
    check: bool = typer.Option(False, "--check", help="Build the imported spec and compare the engine's parsed "
                               "configuration of the original command with the rebuilt one; exit 1 on a "
                               "difference."),
    engine_version: str | None = typer.Option(None, "--engine-version", help="The engine version the command "
                                              "was written for (default: the image tag, else the newest deployc "
                                              "has read)."),
    service: str | None = typer.Option(None, "--service", help="The service of a Compose file to import."),
) -> None:
    """Read an engine's command line back into a commented deploy.yaml, with a report of what was mapped,
    kept raw, dropped as the engine's default, or unknown to that version."""
    from deployc.compiler.imports import ImportError_, printable
    from deployc.compiler.imports.roundtrip import lines
    from deployc.compiler.imports.run import run

    from deployc.compiler.api.importing import Refused

    try:
        done = run(inputs, gpu, engine_version, check, service)
    except ImportError_ as exc:
        raise usage(str(exc)) from None
    except Refused as exc:
        typer.echo(f"deployc: error: {printable(str(exc))}", err=True)
        if exc.hint:
            typer.echo(f"  hint: {printable(exc.hint)}", err=True)
        raise typer.Exit(USAGE_ERROR) from None
    if out is not None:
        try:
            out.write_text(done.spec, encoding="utf-8")
        except OSError as exc:
            raise failure(f"cannot write {out}: {exc.strerror or exc}") from None
    else:
        typer.echo(done.spec, nl=False)
    typer.echo(done.report, err=True, nl=False)
    for d in done.disagreements:
        typer.echo(f"deployc: error[import-disagree]: {d}", err=True)
    bad = bool(done.disagreements)
    for rt, item in zip(done.checks, done.items):
        for line in lines(rt, f"{item.title} {item.version}"):
            typer.echo(printable(line), err=True)
        bad = bad or not rt.ok
    raise typer.Exit(SPEC_ERROR if bad else OK)
