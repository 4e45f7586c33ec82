"""One copy of the model over several nodes: XInference's distributed mode.

start-supervisor.sh runs `xinference-supervisor -H $SUPERVISOR_ADDR --port P` on node 0,
start-worker.sh `xinference-worker -e http://$SUPERVISOR_ADDR:P -H $WORKER_ADDR` on every node (node 0
included: the supervisor holds no GPUs), and the launch asks for n_worker = nodes with n_gpu = the GPUs
of one node (options.py). -H is both the address a process binds and the one it tells the others, so it
is the node's own reachable address, never 0.0.0.0. For Kubernetes: the supervisor (no GPUs, the API,
the launch steps) and a pool of workers.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Any

from deployc.compiler import api
from deployc.compiler.api import Artifact, BuildContext, Lowered, Plan
from deployc.targets.xinference.launch import launch_argv, launch_artifacts, request
from deployc.targets.xinference.options import AUTH, EXTRAS, REMOTE_CODE, Lowering
from deployc.targets.xinference.register import register_argv
from deployc.targets.xinference.service import server_service

# The shell variables of the multi-node scripts: the node addresses XInference processes bind and announce.
SUPERVISOR_ENV = "SUPERVISOR_ADDR"
WORKER_ENV = "WORKER_ADDR"
SUP = f"${{{SUPERVISOR_ENV}}}"
SUP_CHECK = (SUPERVISOR_ENV, f'"${{{SUPERVISOR_ENV}:?set {SUPERVISOR_ENV} to the address of node 0, where the '
                             'supervisor runs, reachable from every node}"')
WORKER_CHECK = (WORKER_ENV, f'"${{{WORKER_ENV}:?set {WORKER_ENV} to the address of this node, reachable from the '
                            'supervisor}"')


def start_scripts(plan: Plan, c: Lowering, ctx: BuildContext, banner: list[str]) -> list[Artifact]:
    """start-supervisor.sh (node 0) and start-worker.sh (every node)."""
    m, srv, v, n, per = plan.model, plan.server, c.v, plan.nodes, plan.gpus_per_node_used
    user = api.user_env_shell(c.opts)
    remote = REMOTE_CODE.env(plan, v)
    sup_about = [f"Starts the XInference {v.version} supervisor of a {n}-node cluster on node 0 "
                 f"({SUPERVISOR_ENV}:{srv.port}); then start-worker.sh on every node (node 0 too) and "
                 f"launch.sh (or launch.py) to load {m.served_name} over {n} workers.",
                 f"Needs `pip install \"xinference[{EXTRAS[c.engine]}]=={v.version}\"` on every node."]
    if srv.api_key_env and v.auth_env:
        sup_about.append(f"Auth is on: finish the first-run setup (POST /v1/admin/setup, token in the log), "
                         f"create an API key and put it in {srv.api_key_env} for launch.sh and clients.")
    start_sup = api.serve_script(ctx, banner, sup_about, ["xinference-supervisor", "-H"],
                                 [SUP_CHECK, *AUTH.env(plan, v), *remote, *user],
                                 shell_tail=[f'"{SUP}"', "--port", str(srv.port)])
    worker_about = [f"Starts an XInference worker with {per} {plan.hardware.gpu.name} GPU(s) on this node and "
                    f"joins it to the supervisor at {SUPERVISOR_ENV} (run on each of the {n} nodes).",
                    "HF_TOKEN is read from the environment for gated models."]
    start_worker = api.serve_script(ctx, banner, worker_about, ["xinference-worker", "-e"],
                                    [SUP_CHECK, WORKER_CHECK, *remote, *user],
                                    shell_tail=[f'"http://{SUP}:{srv.port}"', "-H", f'"${{{WORKER_ENV}}}"'])
    return [Artifact("start-supervisor.sh", start_sup, executable=True),
            Artifact("start-worker.sh", start_worker, executable=True)]


def lower_nodes(plan: Plan, c: Lowering, ctx: BuildContext, register: dict[str, Any] | None,
                registered: str | None, banner: list[str]) -> Lowered:
    """The start scripts, the launch of n_worker workers, and the supervisor + worker pool containers."""
    srv, v, n, per = plan.server, c.v, plan.nodes, plan.gpus_per_node_used
    endpoint = f"http://{SUP}:{srv.port}"
    commands = ([register_argv(endpoint)] if register is not None else []) + [launch_argv(c, endpoint)]
    body = request(commands[-1], v)
    # the endpoint token expands in the shell: "http://${SUPERVISOR_ADDR:?...}:P"; every other token is quoted
    expanding = f'"http://${{{SUPERVISOR_ENV}:?set {SUPERVISOR_ENV} to the address of node 0}}:{srv.port}"'
    lines = [" ".join(expanding if t == endpoint else shlex.quote(t) for t in command) for command in commands]
    about = [f"Loads {plan.model.served_name} over {n} XInference workers of {per} GPU(s) each (model uid "
             f"{body['model_uid']}, the name clients send as \"model\" to http://{SUPERVISOR_ENV}:{srv.port}/v1); "
             f"run with {SUPERVISOR_ENV} set, once every worker has joined."]
    endpoint_py = (f'"http://" + (os.environ.get({SUPERVISOR_ENV!r}) or sys.exit("set {SUPERVISOR_ENV} to the '
                   f'address of node 0")) + ":{srv.port}"')
    artifacts = [*start_scripts(plan, c, ctx, banner),
                 *launch_artifacts(plan, v, banner, body, register, lines, about, endpoint_py)]
    env = [*AUTH.env(plan, v), *REMOTE_CODE.env(plan, v), *api.user_env_shell(c.opts)]
    server = server_service(plan, c.opts, v, c.seqs, env, registered, ctx)
    supervisor = replace(server, command=("xinference-supervisor",), command_tail=(
        "-H", api.NODE_ADDR, "--port", str(srv.port)), gpus=0, env_pass=())
    worker = replace(server, command=("xinference-worker",), command_tail=(
        "-e", api.SERVER_URL, "-H", api.NODE_ADDR), gpus=per, launch=None,
        env_set=tuple((k, val) for k, val in server.env_set if k != v.auth_env))
    group = api.NodeGroup(size=n, replicas=plan.copies, leader=supervisor, worker=worker,
                          kind=api.GroupKind.POOL)
    return Lowered(artifacts=tuple(artifacts), command=("xinference-supervisor", "-H", SUP, "--port", str(srv.port)),
                   group=group)
