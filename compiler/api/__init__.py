"""deployc's plugin API: everything a target may use of the core, importable from this one place.

    from deployc.compiler import api

    class MyTarget(api.Target[MyOptions, MyVersion]):
        ...

A target (built in or third party, registered in the ``deployc.targets`` entry-point
group) imports this package and nothing else of deployc; an import-linter contract
in pyproject.toml holds the built-in targets to that. The names below are the
contract; the submodules are where they live:

- ``target``: Target, TargetOptions, EngineVersion, Capability and the core's feature
  table, Artifact, BuildContext, Lowered.
- ``container``: the engine container (Service, Volume, Launch) that Compose,
  ``deployc up`` and Kubernetes start, and one copy of a model over several nodes
  (NodeGroup, GroupKind, NodeRefs).
- ``compose``, ``scripts``: the shared renderers (a Compose file, serve.sh, per-node scripts).
- ``flags``: declarative option tables (spec setting -> engine option) from which a
  target's argv and its check of extra ``args`` both derive.
- ``engine_options``: an engine version's own option table (data extracted from the engine)
  and the check of extra ``args`` against it.
- re-exported from the core: the resolved Plan, diagnostics, the memory model, and the
  escaping renderers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from collections.abc import Mapping

from deployc.compiler.api.compose import compose_file
from deployc.compiler.api.container import (
    HF_CACHE_HOST,
    LWS,
    NODE_ADDR,
    NODE_ADDR_ENV,
    SCRIPT,
    SERVER_ENV,
    SERVER_URL,
    GroupKind,
    Launch,
    LocalMounts,
    NodeGroup,
    NodeRefs,
    Service,
    Volume,
    api_key_ref,
    client_url,
    compose_api_key,
    compose_env,
    compose_literal,
    fill,
    port_binding,
    publish_ip,
    service,
)
from deployc.compiler.api.engine_options import EngineOption, EngineOptions, check_args
from deployc.compiler.api.parsers import Kind as ParserKind
from deployc.compiler.api.importing import Ctx as ImportCtx, Dialect, FileImport, Importer, Keep, Refused, Rev, rev
from deployc.compiler.api.parsers import ParserSupport
from deployc.compiler.api.recipes import rope_override, rope_parameters, rope_positions, rope_type_check
from deployc.compiler.api.parsers import resolve as resolve_parser
from deployc.compiler.api.flags import (
    ARGPARSE,
    CLAP,
    CLICK,
    PFLAG,
    SAME_DEPLOYMENT,
    Derived,
    Opt,
    OptionTable,
    Owned,
    Parser,
    arg_conflicts,
    args_conflict,
    env_conflicts,
    fixed,
    opt,
    owned,
    render,
)
from deployc.compiler.api.quant import quant_gpu
from deployc.compiler.api.scripts import (
    api_key_export,
    banner,
    node_scripts,
    serve_script,
    sh_join_expanding,
    user_env_shell,
)
from deployc.compiler.api.target import (
    FEATURES,
    PARALLEL_MODES,
    RECIPE_CAPABILITIES,
    Artifact,
    BuildContext,
    Capability,
    EngineVersion,
    EnvValue,
    Feature,
    Lowered,
    Target,
    TargetOptions,
)
from deployc.compiler.derivatives import spellings as model_spellings
from deployc.compiler.diagnostics import Diagnostic, SpecPath, error, has_errors, warning
from deployc.compiler.memory import (
    Budget,
    DraftKv,
    EngineMemory,
    KvManager,
    MemoryPlan,
    share_after_weights,
    weights_per_gpu,
)
from deployc.compiler.memory_kv import StatePool
from deployc.compiler.plan import Plan
from deployc.compiler.render import (
    banner_lines,
    comment_block,
    compose_env_value,
    dump_yaml,
    render_template,
    sh_env_value,
)
from deployc.compiler.spec import Adapter, Plain, is_local

_C = TypeVar("_C")   # a target's lowering context


def derived_of(table: OptionTable[_C], ctx: _C, v: object, plan: Plan) -> tuple[Derived, ...]:
    """The derived values of one option table's argv for ctx."""
    return tuple(table.derived(ctx, v, plan.states))

__all__ = [
    "ARGPARSE",
    "CLAP",
    "CLICK",
    "FEATURES",
    "HF_CACHE_HOST",
    "LWS",
    "NODE_ADDR",
    "NODE_ADDR_ENV",
    "PARALLEL_MODES",
    "PFLAG",
    "RECIPE_CAPABILITIES",
    "SAME_DEPLOYMENT",
    "SCRIPT",
    "SERVER_ENV",
    "SERVER_URL",
    "Adapter",
    "Artifact",
    "Budget",
    "BuildContext",
    "Capability",
    "Derived",
    "Diagnostic",
    "Dialect",
    "DraftKv",
    "EngineMemory",
    "EngineOption",
    "EngineOptions",
    "EngineVersion",
    "EnvValue",
    "Feature",
    "FileImport",
    "GroupKind",
    "ImportCtx",
    "Importer",
    "Keep",
    "KvManager",
    "Launch",
    "LocalMounts",
    "Lowered",
    "MemoryPlan",
    "NodeGroup",
    "NodeRefs",
    "Opt",
    "OptionTable",
    "Owned",
    "Parser",
    "ParserKind",
    "ParserSupport",
    "Plain",
    "Plan",
    "Refused",
    "Rev",
    "Service",
    "SpecPath",
    "StatePool",
    "Target",
    "TargetOptions",
    "Volume",
    "api_key_export",
    "api_key_ref",
    "arg_conflicts",
    "args_conflict",
    "banner",
    "banner_lines",
    "check_args",
    "client_url",
    "comment_block",
    "compose_api_key",
    "compose_env",
    "compose_env_value",
    "compose_file",
    "compose_literal",
    "derived_of",
    "dump_yaml",
    "env_conflicts",
    "error",
    "fill",
    "fixed",
    "has_errors",
    "is_local",
    "model_spellings",
    "named_registry",
    "node_scripts",
    "opt",
    "owned",
    "parser_name",
    "parser_support",
    "port_binding",
    "publish_ip",
    "quant_gpu",
    "registry_names",
    "render",
    "render_template",
    "resolve_parser",
    "rev",
    "rope_override",
    "rope_parameters",
    "rope_positions",
    "rope_type_check",
    "serve_script",
    "service",
    "sh_env_value",
    "sh_join_expanding",
    "share_after_weights",
    "user_env_shell",
    "warning",
    "weights_per_gpu",
]


def parser_name(plan: Plan, opts: TargetOptions, target: str, support: ParserSupport | None,
                kind: ParserKind) -> str | None:
    """The concrete tool ("tool") or reasoning ("reasoning") parser a target writes (None: nothing);
    core_rules has reported every problem already."""
    return resolve_parser(plan, opts, target, support, kind)[0]


def named_registry(path: Path, registry: str) -> tuple[str, ...]:
    """The names of one registry an engine_options/<version>.json file records (values an engine checks
    inside a JSON setting, such as vLLM's speculative methods, rather than an option's own values)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(data["registries"][registry]["names"])


def registry_names(table: EngineOptions, option: str) -> tuple[str, ...] | None:
    """The values an engine version accepts for an option: the registry it checks at launch, else the
    parser's choices; None when the version lacks the option. The engine's own `auto` is left out
    (deployc resolves auto itself and writes a concrete name)."""
    found = table.by_spelling.get(option)
    if found is None:
        return None
    return tuple(n for n in (found.registry or found.choices or ()) if n != "auto")


def parser_support(engine: str, table: EngineOptions, tool_option: str, reasoning_option: str,
                   auto: Mapping[str, tuple[str | None, str | None]], cite: str,
                   templates: Mapping[str, str] | None = None) -> ParserSupport:
    """A ParserSupport from an engine version's option table: the names are its registries (or choices)
    for the two options; an `auto` entry the version does not register resolves to none there."""
    tool, reasoning = registry_names(table, tool_option), registry_names(table, reasoning_option)
    resolved = {fam: (t if tool and t in tool else None, r if reasoning and r in reasoning else None)
                for fam, (t, r) in auto.items()}
    return ParserSupport(engine, {"tool": tool, "reasoning": reasoning}, resolved, cite, templates=templates or {})
