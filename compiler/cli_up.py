"""`deployc up / down / status / logs`: run a target's engine container through the Docker Engine API.

Registered on the typer app by compiler/cli.py (``register``). Only typer and the standard library
load with the CLI: compiler.runner and docker are imported inside the commands. Exit codes as
everywhere: 0 ok, 1 failure (spec errors, engine refusals, a container that never got healthy),
2 usage (unknown target, a target without a container).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import typer

OK, FAILURE, USAGE_ERROR = 0, 1, 2
DEFAULT_SPEC = Path("deploy.yaml")
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
    from compiler.runner import RunError

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
    """One status line on stderr: redrawn in place on a terminal, else printed every `every` seconds."""

    def __init__(self, every: float = 15.0):
        self.tty = sys.stderr.isatty()
        self.every, self.last, self.width = every, 0.0, 0

    def show(self, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            pad = max(0, self.width - len(text))
            sys.stderr.write("\r" + text + " " * pad + ("\n" if final else ""))
            sys.stderr.flush()
            self.width = len(text)
        elif final or now - self.last >= self.every:
            typer.echo(text, err=True)
            self.last = now


def _bar(fraction: float, width: int = 24) -> str:
    done = int(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * done + "." * (width - done) + "]"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _compile(spec: Path, target: str, out: Optional[Path]):
    """The target's TargetResult for the spec, or exit with its diagnostics / a usage error."""
    from compiler import cli
    from compiler.diagnostics import has_errors

    registry = cli._registry()
    cli._existing([spec])
    if target not in registry.points:
        raise cli._unknown_target(target, registry)
    compiled, results = cli._compile_all(spec, registry, [target], out)
    every = list(compiled.diagnostics) + [d for r in results for d in r.diagnostics]
    cli._emit(every)
    if has_errors(every) or not results or not results[0].ok:
        raise typer.Exit(FAILURE)
    result = results[0]
    if result.lowered.service is None and compiled.plan.nodes > 1:
        scripts = ", ".join(a.path for a in result.lowered.artifacts if a.executable)
        raise cli._usage(f"{compiled.plan.name} spans {compiled.plan.nodes} nodes and `deployc up` starts one "
                         f"container on this machine; run the node scripts `deployc build --target {target}` "
                         f"writes ({scripts}) on each node, or deploy it with `deployc build --target {target} "
                         "--platform kubernetes`")
    if result.lowered.service is None:
        startable = []
        for name in registry.names:
            if name != target:
                _, other = cli._compile_all(spec, registry, [name], out)
                if other and other[0].ok and other[0].lowered.service is not None:
                    startable.append(name)
        raise cli._usage(f"target {target} has no engine container deployc can start; "
                         + (f"targets that can run this spec: {', '.join(startable)}" if startable else
                            "no target can start this spec")
                         + f" (`deployc build --target {target}` writes {target}'s own launch scripts)")
    return compiled, result


def up(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to run."),
    target: str = typer.Option(..., "--target", "-t", help="A target with an engine container "
                                                            "(`deployc targets` lists them)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The output folder the spec builds into "
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
    from compiler import cli, runner

    compiled, result = _compile(spec, target, out)
    svc = result.lowered.service
    name = runner.container_name(svc, target)
    spec_path = str(spec.resolve())
    setup = tuple(getattr(svc, "setup", ()) or ())
    launch = getattr(svc, "launch", None)
    with _reporting(name):
        resolved = runner.container_config(
            svc, env=os.environ, compose_dir=os.path.abspath(cli._out_dir(spec, out, target)), name=name,
            labels=runner.labels(svc, spec_path=spec_path, target=target, version=result.version,
                                 digest=compiled.source.digest))
        unset = list(resolved.unset)
        if launch is not None:   # a missing `${KEY:?...}` of a launch step fails before anything starts
            runner.launch_plan(svc, os.environ, unset)
        for var in dict.fromkeys(unset):
            typer.echo(f"deployc: warning: {var} is not set; an empty string is used, as Compose does", err=True)
        client = runner.connect(os.environ)
        url = runner.health_url(svc)
        container = None
        for old in runner.find(client, spec_path, target):
            if not runner.is_server(old):
                typer.echo(f"removing {old.name} (a setup step left from an earlier up)", err=True)
                runner.remove([old])
                continue
            current = old.labels.get(runner.LABEL_DIGEST) == compiled.source.digest
            if current and old.status == "running" and not force_recreate and container is None:
                typer.echo(f"{old.name} is already running this spec", err=True)
                container = old
                continue
            why = "--force-recreate" if force_recreate else "the spec changed" if not current else old.status
            typer.echo(f"removing {old.name} ({why})", err=True)
            runner.remove([old])
        created = container is None
        if created:
            _foreign(client, name)
            _pull(client, svc.image)
            if setup:
                runner.check_port_free(svc.host_ip, svc.port)   # before a build that takes long
                _steps("setup", lambda on_step, on_line: runner.run_setup(client, resolved, setup, on_step, on_line))
            container = runner.create_and_start(client, resolved, host=svc.host_ip, port=svc.port)
            typer.echo(f"started {name}: {svc.image}, {target} {result.version}", err=True)
        elif setup:
            typer.echo(f"setup steps skipped: {name} already runs this spec (`--force-recreate` runs them again)",
                       err=True)
        if no_wait:
            if launch is not None:
                typer.echo(f"{name}: the model is not loaded: --no-wait skips the launch steps that load it once the "
                           "server answers; `deployc up` without --no-wait runs them", err=True)
            typer.echo(f"{name}: started; health at {url} (`deployc status` shows it)")
            raise typer.Exit(OK)
        bar = _Progress()

        def tick(elapsed: float, state: str) -> None:
            bar.show(f"waiting for {url} {_bar(elapsed / timeout if timeout else 1)} {elapsed:4.0f}/{timeout:g} s "
                     f"{state}", final=state == "healthy")

        waited = runner.wait_healthy(container, url, timeout, tick)
        if launch is not None:
            if not created and runner.launched(container, launch.persistent):
                typer.echo(f"launch steps skipped: {name} already holds the model", err=True)
            else:
                _steps("launch", lambda on_step, on_line: runner.run_launch(client, container, svc, os.environ,
                                                                           on_step, on_line))
    typer.echo(f"{name}: healthy after {waited:.0f} s; the API is at {url.rsplit(svc.health_path, 1)[0]}")
    if launch is not None and not launch.persistent:
        typer.echo(_MEMORY_NOTE.format(name=name), err=True)
    raise typer.Exit(OK)


_MEMORY_NOTE = ("note: {name} holds its model only in memory: a restarted container comes back empty, "
                "and `deployc up` loads the model again")


def _steps(kind: str, run) -> None:
    """Run setup or launch steps with a progress line each: `kind i/n: argv`, then the step's latest output
    line (redrawn on a terminal, every 15 s otherwise), then how long it took."""
    bar = _Progress()
    now = {"step": "", "start": 0.0}

    def on_step(i: int, n: int, argv: str) -> None:
        if now["step"]:
            bar.show(f"{now['step']}: done in {time.monotonic() - now['start']:.0f} s", final=True)
        now["step"], now["start"] = f"{kind} {i}/{n}", time.monotonic()
        typer.echo(f"{kind} {i}/{n}: {argv}", err=True)

    def on_line(line: str) -> None:
        if line.strip():
            bar.show(f"{now['step']} {time.monotonic() - now['start']:4.0f} s: {line.strip()[:120]}")

    run(on_step, on_line)
    if now["step"]:
        bar.show(f"{now['step']}: done in {time.monotonic() - now['start']:.0f} s", final=True)


def _foreign(client, name: str) -> None:
    """A container of that name that deployc did not start for this spec: refuse, never remove it."""
    import docker.errors

    from compiler import runner

    try:
        other = client.containers.get(name)
    except docker.errors.NotFound:
        return
    owner = other.labels.get(runner.LABEL_SPEC)
    raise runner.RunError(f"a container named {name} exists and was not started by deployc for this spec"
                          + (f" (it belongs to {owner})" if owner else ""),
                          hint=f"remove or rename it (`docker rm -f {name}`), or give this spec another name")


def _pull(client, image: str) -> None:
    from compiler import runner

    bar = _Progress(every=10.0)
    seen = {"total": 0}

    def progress(status: str, done: int, total: int) -> None:
        seen["total"] = total
        bar.show(f"pulling {image} {_bar(done / total if total else 0)} {_size(done)} / {_size(total)} {status}")

    if runner.ensure_image(client, image, progress):
        bar.show(f"pulled {image} ({_size(seen['total'])})", final=True)


def down(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml whose containers to remove."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Only this target's container."),
) -> None:
    """Stop and remove the containers `deployc up` started for the spec, and nothing else."""
    from compiler import runner

    with _reporting():
        client = runner.connect(os.environ)
        removed = runner.remove(runner.find(client, str(spec.resolve()), target))
    for name in removed:
        typer.echo(f"removed {name}")
    if not removed:
        typer.echo(f"nothing to remove: no container deployc started for {spec}" + (f" ({target})" if target else ""))
    raise typer.Exit(OK)


def status(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml whose containers to show."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Only this target's container."),
) -> None:
    """State and health of the containers `deployc up` started for the spec (exit 1 if one is not running, or
    runs without the model its launch steps load)."""
    from compiler import runner

    with _reporting():
        client = runner.connect(os.environ)
        found = runner.find(client, str(spec.resolve()), target)
        rows, notes, empty = [], [], []
        for c in found:
            state, health = runner.state(c)
            ports = c.attrs.get("HostConfig", {}).get("PortBindings") or {}
            published = ", ".join(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"
                                  for binds in ports.values() for b in binds or [])
            rows.append((c.name, c.labels.get(runner.LABEL_TARGET, "?"), state, health or "-",
                         c.attrs.get("Config", {}).get("Image", ""), published or "-"))
            kind = c.labels.get(runner.LABEL_LAUNCH)
            if not runner.is_server(c):
                notes.append(f"{c.name}: a setup step of `deployc up` ({state})")
            elif kind and state == "running" and not runner.launched(c, kind == "persistent"):
                empty.append(c.name)
                notes.append(f"{c.name}: the model is not loaded (its launch steps have not run since the container "
                             f"started): `deployc up {spec} --target {c.labels.get(runner.LABEL_TARGET, '?')}` "
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
    target: Optional[str] = typer.Option(None, "--target", "-t", help="The target (needed when several run)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep streaming new lines until Ctrl-C."),
    tail_lines: Optional[int] = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines."),
) -> None:
    """The log of the engine container `deployc up` started for the spec."""
    from compiler import runner

    with _reporting():
        client = runner.connect(os.environ)
        found = runner.find(client, str(spec.resolve()), target)
        found = [c for c in found if runner.is_server(c)] or found   # a setup step's only while no server exists
        if len(found) > 1:
            typer.echo("deployc: error: containers of several targets run for this spec: "
                       + ", ".join(c.labels.get(runner.LABEL_TARGET, c.name) for c in found)
                       + "; name one with --target", err=True)
            raise typer.Exit(USAGE_ERROR)
        if not found:
            raise runner.RunError(f"no container deployc started for {spec}" + (f" ({target})" if target else ""),
                                  hint=f"`deployc up {spec} --target T` starts one")
        stream = found[0].logs(stream=True, follow=follow, tail="all" if tail_lines is None else tail_lines)
        for chunk in stream:
            typer.echo(chunk.decode("utf-8", "replace"), nl=False)
    raise typer.Exit(OK)
