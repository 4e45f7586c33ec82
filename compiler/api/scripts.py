"""Shell scripts that start an engine: serve.sh (one argv, exec'd), and the per-node scripts of a
multi-node copy (serve.sh on node 0, serve-worker.sh on the others). Every argv is rendered with
shlex.join; environment values arrive already quoted as shell words."""

from __future__ import annotations

import shlex
from pathlib import Path
from collections.abc import Mapping, Sequence

from deployc.compiler.api.container import api_key_ref
from deployc.compiler.api.target import Artifact, BuildContext, TargetOptions
from deployc.compiler.plan import Plan
from deployc.compiler.render import banner_lines, render_template, sh_env_value

TEMPLATES = Path(__file__).parent / "templates"


def banner(ctx: BuildContext, target: str, engine: str, version: str) -> list[str]:
    return banner_lines(ctx.spec_name, ctx.spec_digest, target, engine, version)



def api_key_export(plan: Plan, engine_var: str) -> list[tuple[str, str]]:
    """`export ENGINE_VAR="${USER_VAR:?...}"`: the key travels by name, never by value."""
    name = plan.server.api_key_env
    if name is None:
        return []
    return [(engine_var, f'"{api_key_ref(name)}"')]



def serve_script(ctx: BuildContext, banner_text: list[str], about: list[str], argv: Sequence[str],
                 env: Sequence[tuple[str, str]], shell_tail: Sequence[str] = ()) -> str:
    """env holds (NAME, already-quoted shell word) pairs. shell_tail: already-quoted shell words
    appended after the argv, for an engine that takes a secret only as an argument (the word
    is an environment reference such as "${KEY:?...}", never a value)."""
    return render_template(TEMPLATES, "serve.sh.j2", banner=banner_text, about=about, spec_dir=ctx.spec_dir,
                           env=list(env), argv=list(argv), shell_tail=list(shell_tail))



def user_env_shell(opts: TargetOptions) -> list[tuple[str, str]]:
    return [(k, sh_env_value(v)) for k, v in sorted(opts.env.items())]



def sh_join_expanding(argv: Sequence[str], expand: Mapping[int, str]) -> str:
    """shlex.join, except that the token at index i (a key of expand) starts with the shell
    variable expand[i], written `${NAME}` in the token, which the shell expands; the rest of
    that token is quoted inert like every other token (`"${PWD}"'/model:/m:ro'`)."""
    words = []
    for i, token in enumerate(argv):
        name = expand.get(i)
        ref = f"${{{name}}}"
        if name is not None and token.startswith(ref):
            rest = token[len(ref):]
            words.append(f'"{ref}"' + (shlex.quote(rest) if rest else ""))
        else:
            words.append(shlex.quote(token))
    return " ".join(words)


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
                 worker_tail: list[str], leader_words: Sequence[str] = ()) -> tuple[Artifact, Artifact]:
    """serve.sh for node 0 and serve-worker.sh for nodes 1..N-1: the same engine argv, each with its
    node flags (leader_tail, worker_tail: SCRIPT references) and its environment (after the checks of
    LEADER_ADDR, and NODE_RANK on workers). about: the first line of serve.sh's description;
    package: the pip requirement each node needs (`vllm==0.33.0`); leader_words: shell words after
    the leader's node flags (an API key reference)."""
    per, gpu = plan.gpus_per_node_used, plan.hardware.gpu.name
    leader = serve_script(
        ctx, banner, [about, f"One copy spans {plan.nodes} nodes of {per} {gpu} GPU(s) (`pip install {package}` "
                             f"on each): run this script on node 0 with {LEADER_ENV} set to node 0's address, and "
                             "serve-worker.sh on every other node; HF_TOKEN is read from the environment for gated "
                             "models."],
        argv, [leader_check(), *leader_env], shell_tail=shell_words(leader_tail) + list(leader_words))
    worker = serve_script(
        ctx, banner, [f"Worker node ({RANK_ENV} {ranks(plan)}) of {plan.model.served_name}: runs its share of the "
                      "model and serves nothing; node 0 runs serve.sh.",
                      f"Needs `pip install {package}` and {per} GPU(s) ({gpu})."],
        argv, [leader_check(), rank_check(plan), *worker_env], shell_tail=shell_words(worker_tail))
    return Artifact("serve.sh", leader, executable=True), Artifact("serve-worker.sh", worker, executable=True)
