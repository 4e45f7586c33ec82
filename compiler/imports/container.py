"""`docker run ... IMAGE ARGS...` (and podman's): the image, its environment (`-e NAME=value`, `-e NAME`),
the published ports and the arguments the image's entrypoint gets. Docker's CLI is Go's pflag: `--flag=value`,
`-e=X`, grouped short switches (`-it`); the options that take a value are listed here, from `docker run --help`
(Docker 27). An option not listed is reported, never guessed."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence

RUNNERS = (("docker", "run"), ("podman", "run"), ("nvidia-docker", "run"), ("docker", "container", "run"))

_VALUE = {"-a", "--attach", "--add-host", "--annotation", "--blkio-weight", "--cap-add", "--cap-drop",
          "--cgroup-parent", "--cgroupns", "--cidfile", "--cpu-period", "--cpu-quota", "--cpu-shares", "-c",
          "--cpus", "--cpuset-cpus", "--cpuset-mems", "--device", "--device-cgroup-rule", "--dns", "--dns-option",
          "--dns-search", "--domainname", "--entrypoint", "-e", "--env", "--env-file", "--expose", "--gpus",
          "--group-add", "--health-cmd", "--health-interval", "--health-retries", "--health-start-period",
          "--health-timeout", "-h", "--hostname", "--ip", "--ip6", "--ipc", "--isolation", "-l", "--label",
          "--label-file", "--link", "--log-driver", "--log-opt", "--mac-address", "-m", "--memory",
          "--memory-reservation", "--memory-swap", "--mount", "--name", "--network", "--net", "--network-alias",
          "--pid", "--pids-limit", "--platform", "-p", "--publish", "--pull", "--restart", "--runtime",
          "--security-opt", "--shm-size", "--stop-signal", "--stop-timeout", "--storage-opt", "--sysctl",
          "--tmpfs", "-u", "--user", "--ulimit", "--userns", "--uts", "-v", "--volume", "--volumes-from",
          "-w", "--workdir"}
_SWITCH = {"-d", "--detach", "--rm", "-i", "--interactive", "-t", "--tty", "--privileged", "--init", "-P",
           "--publish-all", "--read-only", "--no-healthcheck", "--oom-kill-disable", "-q", "--quiet"}


@dataclass
class ContainerRun:
    image: str
    args: list[str]
    env: dict[str, str | None] = field(default_factory=dict)   # None: passed from the caller's environment
    ports: list[str] = field(default_factory=list)
    entrypoint: str | None = None
    unknown: list[str] = field(default_factory=list)
    runtime: list[str] = field(default_factory=list)   # docker's own options read but not carried (--gpus all)

    @property
    def repository(self) -> str:
        name = self.image.split("@", 1)[0]
        head, _, tail = name.rpartition(":")
        return head if head and "/" not in tail else name

    @property
    def tag(self) -> str | None:
        name = self.image.split("@", 1)[0]
        head, _, tail = name.rpartition(":")
        return tail if head and "/" not in tail else None

    def published(self, container_port: int | None = None) -> int | None:
        """The host port published for container_port (any, if None)."""
        for spec in self.ports:
            parts = spec.split("/", 1)[0].split(":")
            if len(parts) >= 2 and parts[-2].isdigit() and parts[-1].isdigit() and (
                    container_port is None or int(parts[-1]) == container_port):
                return int(parts[-2])
        return None


def runner(argv: Sequence[str]) -> int:
    """How many words start a container run (0: not one)."""
    for prefix in RUNNERS:
        if [w.rsplit("/", 1)[-1] for w in argv[:len(prefix)]] == list(prefix):
            return len(prefix)
    return 0


def parse_run(argv: Sequence[str]) -> ContainerRun | None:
    """argv after `docker run`; None when no image is named."""
    env: dict[str, str | None] = {}
    ports: list[str] = []
    unknown: list[str] = []
    runtime: list[str] = []
    entrypoint = None
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            i += 1
            break
        if not token.startswith("-") or token == "-":
            break
        flag, eq, inline = token.partition("=")
        value: str | None = inline if eq else None
        if flag not in _VALUE and flag not in _SWITCH and not flag.startswith("--"):
            if all(f"-{c}" in _SWITCH for c in flag[1:]):   # -it, -dit
                i += 1
                continue
            if f"-{flag[1]}" in _VALUE:                   # -p8080:80
                flag, value = f"-{flag[1]}", flag[2:] + (eq + inline if eq else "")
        if flag in _SWITCH:
            if flag not in ("-d", "--detach", "--rm", "-i", "--interactive", "-t", "--tty"):
                runtime.append(flag)
            i += 1
            continue
        if flag not in _VALUE:
            unknown.append(token)
            i += 1
            continue
        if value is None:
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 2
        else:
            i += 1
        if flag in ("-e", "--env"):
            name, has, v = value.partition("=")
            env[name] = v if has else None
        elif flag in ("-p", "--publish"):
            ports.append(value)
        elif flag == "--entrypoint":
            entrypoint = value
        elif flag not in ("--name",):
            runtime.append(f"{flag} {value}")
    if i >= len(argv):
        return None
    return ContainerRun(argv[i], list(argv[i + 1:]), env, ports, entrypoint, unknown, runtime)
