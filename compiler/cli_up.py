"""`deployc up / down / status / logs`: run a target's engine container through the Docker Engine API.

Registered on the typer app by compiler/cli.py (``register``). Only typer and the standard library
load with the CLI: deployc.compiler.runtime (and docker, inside it) is imported inside the commands.
`up` reads the runtime's one clock (``runtime.clock.CLOCK``, which tests replace) when it starts and passes
it to everything that waits or times. Exit codes as everywhere: 0 ok, 1 failure (spec errors, engine
refusals, a container that never got healthy), 2 usage (unknown target, a target without a container).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from deployc.compiler.cli_common import DEFAULT_SPEC, OK, emit, existing, registry, unknown_target, usage

if TYPE_CHECKING:   # the runtime loads only inside the commands
    from deployc.compiler.api.container import Service
    from deployc.compiler.results import Compiled, TargetResult
    from deployc.compiler.runtime.clock import Clock
    from deployc.compiler.runtime.containers import Resolved
    from deployc.compiler.runtime.protocols import Client, Container
    from deployc.compiler.runtime.steps import OnLine, OnStep

FAILURE = 1
DEFAULT_TIMEOUT = 1800.0   # weight loading: a 70B model can take many minutes


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(logs)


def _fail(message: str, hint: str | None = None, logs: str | None = None, name: str | None = None) -> typer.Exit:
    if logs:
        typer.echo(f"--- last lines of {name or 'the container'}'s log ---", err=True)
        typer.echo(logs, err=True)
        typer.echo("---", err=True)
    typer.echo(f"deployc: error: {message}", err=True)
    if hint:
        typer.echo(f"  hint: {hint}", err=True)
    return typer.Exit(FAILURE)


@contextlib.contextmanager
def _reporting(name: str | None = None) -> Iterator[None]:
    """RunError and any error of docker/requests become a message and exit 1, never a traceback."""
    from deployc.compiler.runtime.errors import RunError

    try:
        yield
    except RunError as exc:
        raise _fail(exc.message, exc.hint, exc.logs, exc.source or name) from None
    except KeyboardInterrupt:
        typer.echo("", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        root = type(exc).__module__.split(".")[0]
        if root not in ("docker", "requests", "urllib3"):
            raise
        raise _fail(f"the Docker engine failed: {getattr(exc, 'explanation', None) or exc}",
                    "`docker info` shows whether the engine is healthy; retry the command") from None


class _Progress:
    """One status line on stderr: redrawn in place on a terminal, else printed at first and then every
    `every` seconds of clock."""

    def __init__(self, clock: Clock, every: float = 15.0):
        self.tty = sys.stderr.isatty()
        self.clock, self.every, self.width = clock, every, 0
        self.last: float | None = None

    def show(self, text: str, final: bool = False) -> None:
        now = self.clock.monotonic()
        if self.tty:
            pad = max(0, self.width - len(text))
            sys.stderr.write("\r" + text + " " * pad + ("\n" if final else ""))
            sys.stderr.flush()
            self.width = len(text)
        elif final or self.last is None or now - self.last >= self.every:
            typer.echo(text, err=True)
            self.last = now


def _bar(fraction: float, width: int = 24) -> str:
    done = int(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * done + "." * (width - done) + "]"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def _compile(spec: Path, target: str, out: Path | None) -> tuple[Compiled, TargetResult]:
    """The target's TargetResult for the spec, or exit with its diagnostics / a usage error."""
    from deployc.compiler import driver
    from deployc.compiler.diagnostics import has_errors

    reg = registry()
    existing([spec])
    if target not in reg.points:
        raise unknown_target(target, reg)
    done = driver.build(driver.Request(spec, [target], out=out), reg)
    emit(done.diagnostics)
    if has_errors(done.diagnostics) or not done.results or not done.results[0].ok:
        raise typer.Exit(FAILURE)
    compiled, result = done.compiled, done.results[0]
    assert compiled.plan is not None and result.lowered is not None
    if result.lowered.service is None and compiled.plan.nodes > 1:
        scripts = ", ".join(a.path for a in result.lowered.artifacts if a.executable)
        raise usage(f"{compiled.plan.name} spans {compiled.plan.nodes} nodes and `deployc up` starts one "
                    f"container on this machine; run the node scripts `deployc build --target {target}` "
                    f"writes ({scripts}) on each node, or deploy it with `deployc build --target {target} "
                    "--platform kubernetes`")
    if result.lowered.service is None:
        startable = [name for name in reg.names if name != target
                     and (other := driver.build(driver.Request(spec, [name], out=out), reg).results)
                     and other[0].ok and other[0].lowered is not None and other[0].lowered.service is not None]
        raise usage(f"target {target} has no engine container deployc can start; "
                    + (f"targets that can run this spec: {', '.join(startable)}" if startable else
                       "no target can start this spec")
                    + f" (`deployc build --target {target}` writes {target}'s own launch scripts)")
    return compiled, result

def up(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to run."),
    target: str = typer.Option(..., "--target", "-t", help="A target with an engine container "
                                                            "(`deployc targets` lists them)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="The output folder the spec builds into "
                                       "(relative bind mounts start at OUT/<target>/, as in compose.yaml)."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, "--timeout", min=0,
                                  help="Seconds to wait for the engine's health route (weights load slowly)."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Start the container and return at once."),
    force_recreate: bool = typer.Option(False, "--force-recreate",
                                        help="Replace the container even if the spec did not change."),
) -> None:
    """Start the target's engine container with Docker, as its compose.yaml describes it; wait until healthy.

    Setup steps (TensorRT-LLM's engine build) run first, each in a one-shot container; launch steps (Ollama's
    `ollama create`, XInference's `xinference launch`) run in the server once it answers."""
    from deployc.compiler.runtime import clock as clocks
    from deployc.compiler.runtime import containers, daemon, health, steps

    clock = clocks.CLOCK
    compiled, result = _compile(spec, target, out)
    lowered, version, out_dir = result.lowered, result.version, result.out_dir
    assert lowered is not None and lowered.service is not None and version is not None and out_dir is not None
    svc, digest, spec_path = lowered.service, compiled.source.digest, str(spec.resolve())
    name = containers.container_name(svc, target)
    launch = svc.launch
    url = health.health_url(svc)
    with _reporting(name):
        resolved = _resolve(svc, name, spec_path, target, version, digest, out_dir)
        client = daemon.connect(os.environ)
        container = _keep_current(client, spec_path, target, digest, force_recreate)
        created = container is None
        if container is None:
            container = _create(client, svc, resolved, clock)
            typer.echo(f"started {name}: {svc.image}, {target} {version}", err=True)
        elif svc.setup:
            typer.echo(f"setup steps skipped: {name} already runs this spec (`--force-recreate` runs them again)",
                       err=True)
        if no_wait:
            if launch is not None:
                typer.echo(f"{name}: the model is not loaded: --no-wait skips the launch steps that load it once the "
                           "server answers; `deployc up` without --no-wait runs them", err=True)
            typer.echo(f"{name}: started; health at {url} (`deployc status` shows it)")
            raise typer.Exit(OK)
        bar = _Progress(clock)

        def tick(elapsed: float, state: str) -> None:
            bar.show(f"waiting for {url} {_bar(elapsed / timeout if timeout else 1)} {elapsed:4.0f}/{timeout:g} s "
                     f"{state}", final=state == "healthy")

        waited = health.wait_healthy(container, url, timeout, tick, clock=clock)
        if launch is not None:
            if not created and steps.launched(container, launch.persistent):
                typer.echo(f"launch steps skipped: {name} already holds the model", err=True)
            else:
                server = container
                _steps("launch", clock, lambda on_step, on_line: steps.run_launch(
                    client, server, svc, os.environ, on_step, on_line, clock=clock))
    typer.echo(f"{name}: healthy after {waited:.0f} s; the API is at {url.rsplit(svc.health_path, 1)[0]}")
    if launch is not None and not launch.persistent:
        typer.echo(_MEMORY_NOTE.format(name=name), err=True)
    raise typer.Exit(OK)


_MEMORY_NOTE = ("note: {name} holds its model only in memory: a restarted container comes back empty, "
                "and `deployc up` loads the model again")


def _resolve(svc: Service, name: str, spec_path: str, target: str, version: str, digest: str,
             out_dir: Path) -> Resolved:
    """The container's create arguments from the caller's environment; warns about each unset `${NAME}`, and
    a missing `${KEY:?...}` of a launch step fails here, before anything starts."""
    from deployc.compiler.runtime import containers, steps

    resolved = containers.container_config(
        svc, env=os.environ, compose_dir=os.path.abspath(out_dir), name=name,
        labels=containers.labels(svc, spec_path=spec_path, target=target, version=version, digest=digest))
    unset = list(resolved.unset)
    if svc.launch is not None:
        steps.launch_plan(svc, os.environ, unset)
    for var in dict.fromkeys(unset):
        typer.echo(f"deployc: warning: {var} is not set; an empty string is used, as Compose does", err=True)
    return resolved


def _keep_current(client: Client, spec_path: str, target: str, digest: str, force_recreate: bool
                  ) -> Container | None:
    """The running server of this very spec, kept; every other container `up` started for it is removed
    (a leftover setup step, a server of an older spec, a stopped one, or any with --force-recreate)."""
    from deployc.compiler.runtime import containers, daemon

    kept = None
    for old in daemon.find(client, spec_path, target):
        if not containers.is_server(old):
            typer.echo(f"removing {old.name} (a setup step left from an earlier up)", err=True)
            daemon.remove([old])
            continue
        current = old.labels.get(containers.LABEL_DIGEST) == digest
        if current and old.status == "running" and not force_recreate and kept is None:
            typer.echo(f"{old.name} is already running this spec", err=True)
            kept = old
            continue
        why = "--force-recreate" if force_recreate else "the spec changed" if not current else old.status
        typer.echo(f"removing {old.name} ({why})", err=True)
        daemon.remove([old])
    return kept


def _create(client: Client, svc: Service, resolved: Resolved, clock: Clock) -> Container:
    """Pull the image if needed, run the setup steps, then create and start the server."""
    from deployc.compiler.runtime import daemon, steps

    daemon.refuse_foreign(client, resolved.kwargs["name"])
    _pull(client, svc.image, clock)
    if svc.setup:
        daemon.check_port_free(svc.host_ip, svc.port)   # before a build that takes long
        _steps("setup", clock, lambda on_step, on_line: steps.run_setup(client, resolved, svc.setup, on_step,
                                                                        on_line))
    return daemon.create_and_start(client, resolved, host=svc.host_ip, port=svc.port)


def _steps(kind: str, clock: Clock, run: Callable[[OnStep, OnLine], None]) -> None:
    """Run setup or launch steps with a progress line each: `kind i/n: argv`, then the step's latest output
    line (redrawn on a terminal, every 15 s otherwise), then how long it took."""
    bar = _Progress(clock)
    step, start = "", 0.0

    def on_step(i: int, n: int, argv: str) -> None:
        nonlocal step, start
        if step:
            bar.show(f"{step}: done in {clock.monotonic() - start:.0f} s", final=True)
        step, start = f"{kind} {i}/{n}", clock.monotonic()
        typer.echo(f"{kind} {i}/{n}: {argv}", err=True)

    def on_line(line: str) -> None:
        if line.strip():
            bar.show(f"{step} {clock.monotonic() - start:4.0f} s: {line.strip()[:120]}")

    run(on_step, on_line)
    if step:
        bar.show(f"{step}: done in {clock.monotonic() - start:.0f} s", final=True)


def _pull(client: Client, image: str, clock: Clock) -> None:
    from deployc.compiler.runtime import daemon

    bar = _Progress(clock, every=10.0)
    seen = {"total": 0}

    def progress(status: str, done: int, total: int) -> None:
        seen["total"] = total
        bar.show(f"pulling {image} {_bar(done / total if total else 0)} {_size(done)} / {_size(total)} {status}")

    if daemon.ensure_image(client, image, progress):
        bar.show(f"pulled {image} ({_size(seen['total'])})", final=True)


def down(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml whose containers to remove."),
    target: str | None = typer.Option(None, "--target", "-t", help="Only this target's container."),
) -> None:
    """Stop and remove the containers `deployc up` started for the spec, and nothing else."""
    from deployc.compiler.runtime import daemon

    with _reporting():
        client = daemon.connect(os.environ)
        removed = daemon.remove(daemon.find(client, str(spec.resolve()), target))
    for name in removed:
        typer.echo(f"removed {name}")
    if not removed:
        typer.echo(f"nothing to remove: no container deployc started for {spec}" + (f" ({target})" if target else ""))
    raise typer.Exit(OK)


def status(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml whose containers to show."),
    target: str | None = typer.Option(None, "--target", "-t", help="Only this target's container."),
) -> None:
    """State and health of the containers `deployc up` started for the spec (exit 1 if one is not running, or
    runs without the model its launch steps load)."""
    from deployc.compiler.runtime import containers, daemon, steps

    with _reporting():
        client = daemon.connect(os.environ)
        found = daemon.find(client, str(spec.resolve()), target)
        rows: list[tuple[str, ...]] = []
        notes: list[str] = []
        empty: list[str] = []
        for c in found:
            state, health = daemon.state(c)
            ports = c.attrs.get("HostConfig", {}).get("PortBindings") or {}
            published = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
                                  for binds in ports.values() for b in binds or [])
            rows.append((c.name, c.labels.get(containers.LABEL_TARGET, "?"), state, health or "-",
                         c.attrs.get("Config", {}).get("Image", ""), published or "-"))
            kind = c.labels.get(containers.LABEL_LAUNCH)
            if not containers.is_server(c):
                notes.append(f"{c.name}: a setup step of `deployc up` ({state})")
            elif kind and state == "running" and not steps.launched(c, kind == "persistent"):
                empty.append(c.name)
                notes.append(f"{c.name}: the model is not loaded (its launch steps have not run since the container "
                             f"started): `deployc up {spec} --target {c.labels.get(containers.LABEL_TARGET, '?')}` "
                             "loads it")
            elif kind == "memory":
                notes.append(_MEMORY_NOTE.format(name=c.name))
    if not rows:
        typer.echo(f"no container deployc started for {spec}" + (f" ({target})" if target else ""))
        raise typer.Exit(FAILURE)
    head = ("NAME", "TARGET", "STATE", "HEALTH", "IMAGE", "PORTS")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        typer.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    for note in notes:
        typer.echo(note)
    raise typer.Exit(OK if all(r[2] == "running" for r in rows) and not empty else FAILURE)


def logs(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml whose container's log to show."),
    target: str | None = typer.Option(None, "--target", "-t", help="The target (needed when several run)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep streaming new lines until Ctrl-C."),
    tail_lines: int | None = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines."),
) -> None:
    """The log of the engine container `deployc up` started for the spec."""
    from deployc.compiler.runtime import containers, daemon
    from deployc.compiler.runtime.errors import RunError

    with _reporting():
        client = daemon.connect(os.environ)
        found = daemon.find(client, str(spec.resolve()), target)
        found = [c for c in found if containers.is_server(c)] or found   # a setup step's only while no server exists
        if len(found) > 1:
            raise usage("containers of several targets run for this spec: "
                        + ", ".join(c.labels.get(containers.LABEL_TARGET, c.name) for c in found)
                        + "; name one with --target")
        if not found:
            raise RunError(f"no container deployc started for {spec}" + (f" ({target})" if target else ""),
                           hint=f"`deployc up {spec} --target T` starts one")
        stream = found[0].logs(stream=True, follow=follow, tail="all" if tail_lines is None else tail_lines)
        for chunk in stream:
            typer.echo(chunk.decode("utf-8", "replace"), nl=False)
    raise typer.Exit(OK)
