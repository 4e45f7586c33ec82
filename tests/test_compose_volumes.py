"""Issue 25, part 5: a local path reaches compose.yaml's volumes as Compose reads it: `$` is not
interpolated, `$(` is no invalid interpolation, a `:` does not split the mount."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from deployc.compiler.registry import Registry
from deployc.compiler.runtime.compose import interpolate
from conftest import MINIMAL

WEIRD = "./we$ird:dir/$(id)/${HOME}"


def compose_mounts(entry) -> tuple[str, str]:
    """(source, target) of one `volumes:` entry, the way Compose reads it (env empty)."""
    if isinstance(entry, dict):
        assert entry["type"] == "bind"
        return interpolate(entry["source"], {}), entry["target"]
    text = interpolate(entry, {})
    parts = text.split(":")
    assert len(parts) in (2, 3), f"{entry!r} splits into {parts}"
    return parts[0], parts[1]


@pytest.mark.parametrize("target", list(Registry.discover().names))
def test_a_local_path_with_dollar_and_colon_is_mounted_literally(tmp_path, cli, target):
    spec = tmp_path / "deploy.yaml"
    source = WEIRD + (".gguf" if target in ("ollama", "llama-cpp") else "")
    key = "gguf" if target in ("ollama", "llama-cpp") else "source"
    extra = {"xinference": "{model_family: qwen2.5-instruct, size_in_billions: 7}"}.get(target, "{}")
    body = MINIMAL.replace("vllm: {}", f"{target}: {extra}") + "limits:\n  max_model_len: 4096\n"
    body = body.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n",
                        "  source: Qwen/Qwen2.5-0.5B-Instruct\n" if key == "gguf" else f"  source: '{source}'\n")
    if key == "gguf":
        body = body.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n",
                            f"  source: Qwen/Qwen2.5-0.5B-Instruct-GGUF\n  gguf: '{source}'\n")
    spec.write_text(body)
    result = cli("build", spec, "--target", target)
    if result.exit_code != 0:   # a target may refuse such a path, at the key
        assert f"{spec}:4:11: error[" in result.stderr or f"{spec}:5:9: error[" in result.stderr, result.stderr
        return
    composes = list((tmp_path / "deploy" / target).rglob("compose.yaml"))
    mounted = target not in ("ollama", "xinference")   # Ollama creates from the host; XInference 4 has no compose
    assert bool(composes) or not mounted
    for path in composes:
        doc = YAML(typ="safe", pure=True).load(path.read_text())
        mounts = dict(compose_mounts(v)[::-1] for svc in doc["services"].values() for v in svc.get("volumes", []))
        local = [src for src in mounts.values() if "we$ird" in src]
        assert bool(local) or not mounted, mounts
        assert all(src.endswith(source[2:]) for src in local), local


def test_deployc_up_mounts_a_path_with_a_colon_through_the_mount_api():
    """docker's bind string (`src:dst:mode`) splits on ':': such a path goes to `mounts` instead, and
    `$$` is a literal `$` as Compose reads it."""
    from deployc.compiler.api.container import Volume, service
    from deployc.compiler.runtime import containers

    class P:   # the few plan fields api.service reads
        name = "demo"

        class server:
            host, port = "127.0.0.1", 8000

        gpus_needed = 1

        class hardware:
            class gpu:
                vendor = "nvidia"

    svc = service(plan=P, image="img", command=["serve"], container_cache="/root/.cache/huggingface",
                  volumes=[Volume("../../we$$ird:dir", "/deployc/model", True, long_syntax=True)])
    kw = containers.container_config(svc, env={"HOME": "/home/u"}, compose_dir="/srv/app/deploy/vllm", name="n",
                                     labels={}).kwargs
    assert kw["volumes"] == ["/home/u/.cache/huggingface:/root/.cache/huggingface:rw"]
    assert kw["mounts"] == [{"Type": "bind", "Source": "/srv/app/we$ird:dir", "Target": "/deployc/model",
                             "ReadOnly": True}]
