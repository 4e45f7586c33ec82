"""``RunError``, the one failure the runtime raises, and the Engine API's errors in the user's terms."""

from __future__ import annotations


class RunError(Exception):
    """A failure to report as `deployc: error: message`, `hint: ...`, then the last log lines of source."""

    def __init__(self, message: str, hint: str | None = None, logs: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.logs, self.source = message, hint, logs, source   # source: whose logs


def explanation(exc: BaseException) -> str:
    """The daemon's own words of a docker error (APIError.explanation), else the exception's text."""
    return str(getattr(exc, "explanation", None) or exc)


def api_error(exc: BaseException, *, image: str = "", port: int | None = None, host: str | None = None) -> RunError:
    """An Engine API error as a message and a hint (the daemon's own words kept)."""
    text = explanation(exc)
    low = text.lower()
    if "could not select device driver" in low:
        return RunError("Docker cannot give the container the NVIDIA GPUs it needs (no NVIDIA GPU or container "
                        f"runtime on this host): {text}",
                        hint="this host has no NVIDIA GPU or no NVIDIA Container Toolkit: install it "
                             "(nvidia-ctk runtime configure --runtime=docker, then restart Docker) and check "
                             "`docker run --rm --gpus all ubuntu nvidia-smi`, or run on a host with GPUs")
    if "port is already allocated" in low or "address already in use" in low:
        return RunError(f"port {port} is taken on {host or 'this host'}: {text}",
                        hint=port_hint(port))
    if "no such image" in low or ("not found" in low and image and image in text):
        return RunError(f"image {image} is not available: {text}", hint=pull_hint(image))
    if "conflict" in low and "already in use" in low:
        return RunError(f"a container name is taken: {text}",
                        hint="remove that container (`docker rm -f NAME`) or rename the spec")
    return RunError(f"the Docker engine refused: {text}", hint="see the message above; `docker info` shows the engine")


def connect_reason(exc: BaseException) -> str:
    """Why docker-py could not reach the engine, in a few words."""
    text = explanation(exc)
    for marker, reason in (("FileNotFoundError", "no such socket"), ("ConnectionRefusedError", "connection refused"),
                           ("PermissionError", "permission denied")):
        if marker in text:
            return reason
    return text.strip().removeprefix("Error while fetching server API version: ")


def port_hint(port: int | None) -> str:
    return (f"stop what listens on port {port} (`ss -ltnp 'sport = :{port}'` shows it), or change server.port "
            "in the spec")


def pull_hint(image: str) -> str:
    return (f"check the image name and tag, that this host reaches its registry, and `docker login` for a private "
            f"one; or bring the image in yourself (`docker pull {image}` or `docker load`) and run up again")
