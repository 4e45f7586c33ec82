"""One copy of the model over several machines: how its nodes find each other.

A multi-node copy is a group of `plan.nodes` machines: node 0 (the leader) runs the HTTP
server, nodes 1..N-1 (the workers) run the rest of the model and serve nothing. Every node
runs the same engine argv plus a few node flags, which an engine spells in its own way
(targets/vllm, targets/sglang: ``node_args``). What a node cannot know at build time (the
leader's address, its own rank) is written as a reference that is filled in where the node
starts:

- ``SCRIPT``: shell variables of the per-node scripts (serve.sh on the leader,
  serve-worker.sh on each worker): LEADER_ADDR and NODE_RANK, set by whoever starts them.
- ``LWS``: the variables the LeaderWorkerSet controller injects into every container of a
  group, written `$(NAME)`, which Kubernetes expands in a container's command and args.
  Names from kubernetes-sigs/lws v0.10.0 (commit 2161f38ff333f9e24d3c44adef7cd5d9787cac00)
  api/leaderworkerset/v1/leaderworkerset_types.go:64-75 (LwsLeaderAddress = "LWS_LEADER_ADDRESS",
  LwsGroupSize = "LWS_GROUP_SIZE", LwsWorkerIndex = "LWS_WORKER_INDEX", 0 on the leader),
  set by pkg/utils/pod/pod_utils.go AddLWSVariables (the leader address is
  <lws>-<group>.<subdomain>.<namespace>, the leader pod's DNS name).

A data-parallel spec (parallelism.data > 1) becomes that many independent groups (LWS
replicas, or that many runs of the scripts), never the engine's own data-parallel flags:
each group is one complete server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.plan import Plan
from compiler.target_api import Artifact, BuildContext
from targets._shared import container


@dataclass(frozen=True)
class NodeRefs:
    """Tokens standing for what a node learns when it starts."""

    leader: str   # the leader's address (host name or IP)
    rank: str     # this worker's rank, 1..N-1
    kind: str     # "script" (shell variables) or "lws" (Kubernetes $(NAME) references)


SCRIPT = NodeRefs(leader="${LEADER_ADDR}", rank="${NODE_RANK}", kind="script")
LWS = NodeRefs(leader="$(LWS_LEADER_ADDRESS)", rank="$(LWS_WORKER_INDEX)", kind="lws")

# The shell variables of SCRIPT, checked at the top of the scripts (`${NAME:?...}`).
LEADER_ENV = "LEADER_ADDR"
RANK_ENV = "NODE_RANK"


def leader_check() -> tuple[str, str]:
    return (LEADER_ENV, f'"${{{LEADER_ENV}:?set {LEADER_ENV} to the address of node 0 (the leader), '
                        f'reachable from every node}}"')


def ranks(plan: Plan) -> str:
    return "1" if plan.nodes == 2 else f"1 to {plan.nodes - 1}"


def rank_check(plan: Plan) -> tuple[str, str]:
    return (RANK_ENV, f'"${{{RANK_ENV}:?set {RANK_ENV} to the rank of this worker node: {ranks(plan)}}}"')


def shell_words(tokens: list[str]) -> list[str]:
    """Node flags as shell words for the scripts: every token is double-quoted so that
    ${LEADER_ADDR} and ${NODE_RANK} expand; the rest are digits, flags and ':' (no other
    shell characters ever reach here)."""
    assert all(not set(t) & set('"\\`') for t in tokens)
    return [f'"{t}"' if "$" in t else t for t in tokens]


def node_scripts(ctx: BuildContext, banner: list[str], plan: Plan, about: str, package: str, argv: list[str],
                 leader_env: list[tuple[str, str]], worker_env: list[tuple[str, str]], leader_tail: list[str],
                 worker_tail: list[str], leader_words: list[str] = ()) -> tuple[Artifact, Artifact]:
    """serve.sh for node 0 and serve-worker.sh for nodes 1..N-1: the same engine argv, each with its
    node flags (leader_tail, worker_tail: SCRIPT references) and its environment (after the checks of
    LEADER_ADDR, and NODE_RANK on workers). about: the first line of serve.sh's description;
    package: the pip requirement each node needs (`vllm==0.33.0`); leader_words: shell words after
    the leader's node flags (an API key reference)."""
    per, gpu = plan.gpus_per_node_used, plan.hardware.gpu.name
    leader = container.serve_script(
        ctx, banner, [about, f"One copy spans {plan.nodes} nodes of {per} {gpu} GPU(s) (`pip install {package}` "
                             f"on each): run this script on node 0 with {LEADER_ENV} set to node 0's address, and "
                             "serve-worker.sh on every other node; HF_TOKEN is read from the environment for gated "
                             "models."],
        argv, [leader_check(), *leader_env], shell_tail=shell_words(leader_tail) + list(leader_words))
    worker = container.serve_script(
        ctx, banner, [f"Worker node ({RANK_ENV} {ranks(plan)}) of {plan.model.served_name}: runs its share of the "
                      "model and serves nothing; node 0 runs serve.sh.",
                      f"Needs `pip install {package}` and {per} GPU(s) ({gpu})."],
        argv, [leader_check(), rank_check(plan), *worker_env], shell_tail=shell_words(worker_tail))
    return Artifact("serve.sh", leader, executable=True), Artifact("serve-worker.sh", worker, executable=True)


def fill(tokens: list[str] | tuple[str, ...], leader: str, rank: int, refs: NodeRefs = SCRIPT) -> list[str]:
    """The argv a node really runs: references replaced by values (for tests and the conformance tier)."""
    return [t.replace(refs.leader, leader).replace(refs.rank, str(rank)) for t in tokens]


@dataclass(frozen=True)
class NodeGroup:
    """One multi-node copy of the model, for the platforms that start containers: the leader's and
    the workers' engine containers (targets/_shared/container.Service), whose commands hold LWS
    references. size is the node count (leader included); replicas the number of copies."""

    size: int
    replicas: int
    leader: Any
    worker: Any
    # Ports the nodes reach each other on, besides the HTTP port (for documentation and Services).
    internal_ports: tuple[tuple[str, int], ...] = ()
    # Where the node flags start in leader.command and worker.command: only those tokens hold LWS
    # references; everything before is literal (a served name "$(LWS_WORKER_INDEX)" stays text).
    node_args_at: int = 0
    # "world": the nodes form one distributed world, leader = node 0 (a LeaderWorkerSet). "pool": the
    # leader is a coordinator without GPUs serving the API, and size x replicas workers register with it
    # at container.SERVER_URL, announcing container.NODE_ADDR (XInference's supervisor and workers).
    kind: str = "world"
