"""A toy third-party target: `toyserve`, a made-up engine that serves a model from a container.

tests/test_plugin.py installs this folder as its own distribution and builds a spec with it: the
proof that a target is its own package plus one entry-point line. It imports nothing of deployc
but the plugin API, deployc.compiler.api.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployc.compiler import api


@dataclass(frozen=True, kw_only=True)
class ToyVersion(api.EngineVersion):
    image: str


# Newest first. 1.0 has no sharding: a spec that asks for tensor parallelism gets the core's diagnostic.
VERSIONS = {v.version: v for v in (
    ToyVersion(version="2.0", image="example.org/toyserve:2.0",
               capabilities=frozenset({api.Capability.TENSOR_PARALLEL, api.Capability.API_KEY})),
    ToyVersion(version="1.0", image="example.org/toyserve:1.0", capabilities=frozenset()),
)}


class ToyOptions(api.TargetOptions):
    """targets.toy: the common options (version, image, args, env)."""


@dataclass(frozen=True)
class Lowering:
    plan: api.Plan
    v: ToyVersion


TABLE: api.OptionTable[Lowering] = api.OptionTable(api.ARGPARSE, [
    api.opt(None, "model.source", lambda c: c.plan.model.source),
    api.opt("--name", "model.served_name", lambda c: c.plan.model.served_name),
    api.opt("--shards", "parallelism.tensor", lambda c: c.plan.parallelism.tensor,
            when=lambda v: api.Capability.TENSOR_PARALLEL in v.capabilities),
    api.opt("--host", "server.host", lambda c: "0.0.0.0"),   # inside the container
    api.opt("--port", "server.port", lambda c: c.plan.server.port),
    api.owned("--api-key", "server.api_key_env"),             # TOY_API_KEY, by name
])


class ToyTarget(api.Target[ToyOptions, ToyVersion]):
    name = "toy"
    title = "Toy"
    runs_container = True
    options = ToyOptions
    versions = VERSIONS

    def check(self, plan: api.Plan, opts: ToyOptions, v: ToyVersion) -> list[api.Diagnostic]:
        return TABLE.conflicts(opts.args, v, self.name)

    def lower(self, plan: api.Plan, opts: ToyOptions, v: ToyVersion, ctx: api.BuildContext) -> api.Lowered:
        argv = ["toyserve", *TABLE.argv(Lowering(plan, v), v), *opts.args]
        svc = api.service(plan=plan, image=opts.image or v.image, command=argv, container_cache="/cache",
                          env_set={**api.compose_api_key(plan, "TOY_API_KEY"), **api.compose_env(opts)})
        compose = api.compose_file(api.banner(ctx, self.name, self.title, v.version), svc)
        return api.Lowered(artifacts=(api.Artifact("compose.yaml", compose),), command=tuple(argv), service=svc)
