"""A Service's setup steps and launch steps, run as the Kubernetes platform runs them.

Setup steps (``Service.setup``) are its initContainers: one-shot containers of the server's image with its
mounts, environment and devices, run in order before the server starts. Launch steps (``Service.launch``)
are its launch Job, run once the server answers, with DEPLOYC_SERVER set to the server's URL; here they run
inside the server container (the Engine API's exec), from a folder holding the launch files.
"""

from __future__ import annotations

import io
import re
import shlex
import tarfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from deployc.compiler.api.container import SERVER_ENV, Service
from deployc.compiler.runtime.clock import Clock
from deployc.compiler.runtime.compose import interpolate
from deployc.compiler.runtime.containers import LABEL_ROLE, CreateArgs, Resolved
from deployc.compiler.runtime.daemon import LOG_LINES, discard, tail
from deployc.compiler.runtime.errors import RunError, api_error, explanation
from deployc.compiler.runtime.protocols import Client, Container

LAUNCH_DIR = "/tmp/deployc-launch"     # the launch files, and the steps' working folder
LAUNCH_MARK = ".deployc-launched"      # in LAUNCH_DIR: the server's State.StartedAt when its launch succeeded

OnStep = Callable[[int, int, str], None]   # (step number from 1, step count, the step as shown)
OnLine = Callable[[str], None]             # one line of a step's output


def shown(argv: Iterable[str]) -> str:
    """A step as the user reads it: Compose syntax (`${NAME}` references unexpanded, `$$` as `$`); never
    holds a value read from the environment."""
    return shlex.join(t.replace("$$", "$") for t in argv)


def setup_name(name: str, i: int) -> str:
    return f"{name}-setup-{i}"


def setup_config(resolved: Resolved, argv: Iterable[str], i: int) -> CreateArgs:
    """containers.create kwargs of setup step i (1-based): the server's image, environment, mounts, devices
    and shm/ipc; the step's argv as the entrypoint (Kubernetes' `command`: the image's ENTRYPOINT and CMD
    are both replaced); no port, health check or restart; labelled so that `deployc down` removes it."""
    server = resolved.kwargs
    kw = server.copy()
    kw.pop("command", None)
    kw.pop("ports", None)
    kw.pop("healthcheck", None)
    kw["name"] = setup_name(server["name"], i)
    kw["entrypoint"] = list(argv)
    kw["restart_policy"] = {"Name": "no"}
    kw["labels"] = {**server["labels"], LABEL_ROLE: "setup"}
    return kw


def _lines(chunks: Iterable[bytes], on_line: OnLine, keep: deque[str]) -> None:
    """Split a stream of output chunks into lines: on_line(line) for each, the last ones kept."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *done, rest = re.split(rb"\r\n|\r|\n", rest)
        for raw in done:
            line = raw.decode("utf-8", "replace")
            keep.append(line)
            on_line(line)
    if rest:
        line = rest.decode("utf-8", "replace")
        keep.append(line)
        on_line(line)


def run_setup(client: Client, resolved: Resolved, steps: Iterable[Iterable[str]], on_step: OnStep,
              on_line: OnLine) -> None:
    """Run each setup step to completion, in order, in a one-shot container that is removed afterwards;
    a step that fails (or cannot start) is a RunError with its last output lines, and nothing is left."""
    import docker.errors

    todo = [tuple(s) for s in steps]
    for i, argv in enumerate(todo, 1):
        on_step(i, len(todo), shown(argv))
        kw = setup_config(resolved, argv, i)
        try:
            box = client.containers.create(**kw)
        except docker.errors.APIError as exc:
            raise api_error(exc, image=kw["image"]) from None
        try:
            try:
                box.start()
            except docker.errors.APIError as exc:
                err = api_error(exc, image=kw["image"])
                err.message = f"setup step {i}/{len(todo)} ({argv[0]}) could not start: {err.message}"
                raise err from None
            keep: deque[str] = deque(maxlen=LOG_LINES)
            _lines(box.logs(stream=True, follow=True), on_line, keep)
            code = box.wait().get("StatusCode")
            if code != 0:
                raise RunError(
                    f"setup step {i}/{len(todo)} failed with exit code {code}: {shown(argv)}; its container "
                    f"{kw['name']} was removed and the server was not started",
                    hint="read its last lines above; typical causes: a missing HF_TOKEN for a gated model, a full "
                         "disk, a model the build does not support. Fix the cause (or the spec, then `deployc build` "
                         "to review) and run `deployc up` again: setup runs again from its first step",
                    logs="\n".join(keep) or tail(box), source=kw["name"])
        finally:
            discard(box)


def launch_plan(svc: Service, env: Mapping[str, str], unset: list[str] | None = None
                ) -> tuple[list[list[str]], dict[str, str]]:
    """The launch steps and their environment, interpolated like Compose from the caller's environment with
    DEPLOYC_SERVER the server's URL from inside its container (http://127.0.0.1:<port>). A Service without
    launch steps has none."""
    url = f"http://127.0.0.1:{svc.port}"
    scope = {**env, SERVER_ENV: url}
    exec_env = {SERVER_ENV: url}
    if svc.launch is None:
        return [], exec_env
    for name, value in svc.launch.env:
        exec_env[name] = interpolate(value, scope, unset)
    return [[interpolate(t, scope, unset) for t in step] for step in svc.launch.steps], exec_env


def _started_at(container: Container) -> str:
    container.reload()
    return str(container.attrs.get("State", {}).get("StartedAt", ""))


def launched(container: Container, persistent: bool) -> bool:
    """Whether the launch steps already succeeded in this container: since its last start (a server that holds
    the model in memory comes back empty from a restart), or ever (persistent: the model is in the cache)."""
    import docker.errors

    try:
        stream, _ = container.get_archive(f"{LAUNCH_DIR}/{LAUNCH_MARK}")
        data = b"".join(stream)
    except (docker.errors.NotFound, docker.errors.APIError):
        return False
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(LAUNCH_MARK)
        mark = member.read().decode() if member else ""
    mark = mark.strip()
    return bool(mark) and (persistent or mark == _started_at(container))


def _tar(files: Iterable[tuple[str, str]], mtime: float) -> bytes:
    """A tar of LAUNCH_DIR (relative to /) holding files (name, text), each modified at mtime."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folder = tarfile.TarInfo(LAUNCH_DIR.lstrip("/"))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, int(mtime)
        tar.addfile(folder)
        for name, text in files:
            data = text.encode()
            info = tarfile.TarInfo(f"{LAUNCH_DIR.lstrip('/')}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(mtime)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run_launch(client: Client, container: Container, svc: Service, env: Mapping[str, str], on_step: OnStep,
               on_line: OnLine, *, clock: Clock) -> None:
    """Copy the launch files into LAUNCH_DIR of the running server container and exec each launch step there,
    in order; then mark the container launched. A failing step is a RunError with its output (the server is
    left running). clock: the time the files are written at. A Service without launch steps: nothing to do."""
    import docker.errors

    launch = svc.launch
    if launch is None:
        return
    steps, exec_env = launch_plan(svc, env)
    files = list(launch.files) + [(LAUNCH_MARK, "")]   # an older mark goes: a failed launch is not a done one
    try:
        container.put_archive("/", _tar(files, clock.time()))
    except docker.errors.APIError as exc:
        raise RunError(f"cannot copy the launch files into {container.name}: {explanation(exc)}",
                       hint="the server container must be running; `deployc status` shows it") from None
    for i, (argv, raw) in enumerate(zip(steps, launch.steps, strict=True), 1):
        on_step(i, len(steps), shown(raw))
        keep: deque[str] = deque(maxlen=LOG_LINES)
        try:
            exec_id = client.api.exec_create(container.id, argv, stdout=True, stderr=True, environment=exec_env,
                                             workdir=LAUNCH_DIR)["Id"]
            _lines(client.api.exec_start(exec_id, stream=True), on_line, keep)
            code = client.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            raise RunError(f"launch step {i}/{len(steps)} could not run in {container.name}: "
                           f"{explanation(exc)}; the server is still running, without the model",
                           hint="`deployc status` shows the server; `deployc up` again repeats the launch steps, "
                                "`deployc down` removes it") from None
        if code != 0:
            raise RunError(
                f"launch step {i}/{len(steps)} failed with exit code {code}: {shown(raw)}; the server "
                f"{container.name} is still running, without the model",
                hint="read its output above (`deployc logs` has the server's side); fix the cause, then run "
                     "`deployc up` again: it keeps the running server and repeats the launch steps "
                     "(`deployc down` removes the server)",
                logs="\n".join(keep), source=f"launch step {i}")
    mark = _started_at(container)
    container.put_archive("/", _tar([(LAUNCH_MARK, mark + "\n")], clock.time()))
