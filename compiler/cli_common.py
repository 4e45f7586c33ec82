"""What every command of the CLI shares: exit codes, usage errors, the registry, printing diagnostics.

The CLI modules (cli.py, cli_up.py) sit above the build driver; neither imports the other's commands.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Sequence

import typer
from typer.core import TyperGroup

from deployc.compiler.diagnostics import Diagnostic, did_you_mean, printable, render_text
from deployc.compiler.registry import Registry

OK, SPEC_ERROR, USAGE_ERROR = 0, 1, 2
DEFAULT_SPEC = Path("deploy.yaml")


def usage(message: str) -> typer.Exit:
    typer.echo(f"deployc: error: {printable(message)}", err=True)
    return typer.Exit(USAGE_ERROR)


def failure(message: str, hint: str | None = None) -> typer.Exit:
    """A failure that is not the command's fault (a file that cannot be written, the network): exit 1."""
    typer.echo(f"deployc: error: {printable(message)}", err=True)
    if hint:
        typer.echo(f"  hint: {printable(hint)}", err=True)
    return typer.Exit(SPEC_ERROR)


def registry() -> Registry:
    return Registry.discover()


def unknown_target(name: str, reg: Registry, more: str = "") -> typer.Exit:
    close = did_you_mean(name, reg.names)
    return usage(f"unknown target {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
                 + "; registered: " + ", ".join(reg.names) + more)


def target_names(incomplete: str) -> list[str]:
    """Shell completion of --target: the registered targets (and `all`)."""
    return [n for n in [*registry().names, "all"] if n.startswith(incomplete)]



def existing(specs: Sequence[Path]) -> list[Path]:
    from deployc.compiler.driver import spec_name_problem

    for spec in specs:
        if (problem := spec_name_problem(spec)) is not None:
            raise usage(problem)
        if spec.is_dir():
            raise usage(f"{spec} is a folder; name the deploy.yaml in it")
        if not spec.is_file():
            raise usage(f"{spec}: no such file" + (" (SPEC defaults to ./deploy.yaml; `deployc init` writes one)"
                                                  if spec == DEFAULT_SPEC else ""))
    return list(specs)


def emit(diags: Iterable[Diagnostic]) -> None:
    diags = list(diags)
    if diags:
        typer.echo(render_text(diags), err=True)


# --- help: readable option types ---------------------------------------------------------------------

_LIST = re.compile(r"^<list\[(\w+)\]>$")


def _readable_type(param: Any, shown: str | None) -> str | None:
    """A flag takes no value (typer shows `<bool>`); a list shows its element (the name says `...`)."""
    if getattr(param, "is_flag", False):
        return None
    if shown and (m := _LIST.match(shown.removesuffix("..."))):
        return f"<{m[1].lower()}>"
    return shown


def _readable(command: Any, ctx: Any) -> None:
    for param in command.get_params(ctx):
        if getattr(param, "_deployc_readable", False) or not hasattr(param, "display_type_rich"):
            continue
        shown = param.display_type_rich

        def display(ctx: Any, _shown: Any = shown, _param: Any = param) -> str | None:
            return _readable_type(_param, _shown(ctx=ctx))

        param.display_type_rich = display
        param._deployc_readable = True


class ReadableGroup(TyperGroup):
    """typer's group, with each command's help showing value types a reader understands."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _readable(self, ctx)
        super().format_help(ctx, formatter)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _readable(command, ctx)
        return command
