"""The launch: `xinference launch` (launch.sh), the request it sends (launch.json, the body of POST
/v1/models) and the same request through xinference-client (launch.py).

launch.sh's command comes from the option table (options.py); the request is read back from it the way
`xinference launch` builds one (cmdline.py model_launch -> RESTfulClient.launch_model), so the three
send one request by construction.
"""

from __future__ import annotations

import json
import pprint
import shlex
from pathlib import Path
from typing import Any
from collections.abc import Callable

from deployc.compiler.api import Artifact, Plan, render_template
from deployc.targets.xinference.options import LAUNCH, Lowering
from deployc.targets.xinference.versions import XinferenceVersion

TEMPLATES = Path(__file__).parent / "templates"


def launch_argv(c: Lowering, endpoint: str) -> list[str]:
    """`xinference launch` with the table's options, then the user's extra `--key value` pairs."""
    return ["xinference", "launch", "--endpoint", endpoint, *LAUNCH[c.engine].argv(c, c.v), *c.opts.args]


def click_value(raw: str, v: XinferenceVersion) -> Any:
    """The value `xinference launch` makes of an extra argument (deploy/utils.py handle_click_args_type)."""
    if raw == "None":
        return None
    if raw in ("True", "true"):
        return True
    if raw in ("False", "false"):
        return False
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    if v.args_json and raw.startswith(("{", "[")):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw


def _size(raw: str) -> int | str:
    return raw if "_" in raw else int(raw)  # model_launch keeps 0_5 a string


# The click options of `xinference launch` that fill a named field of the request, and how the CLI types
# their text. --trust-remote-code (a click bool) goes on as a model kwarg, like every `--key value` pair.
FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--model-name": ("model_name", str), "--model-type": ("model_type", str),
    "--model-engine": ("model_engine", str), "--model-uid": ("model_uid", str),
    "--model-format": ("model_format", str), "--size-in-billions": ("model_size_in_billions", _size),
    "--quantization": ("quantization", str), "--replica": ("replica", int), "--n-gpu": ("n_gpu", int),
    "--n-worker": ("n_worker", int), "--model-path": ("model_path", str),
}


def request(argv: list[str], v: XinferenceVersion) -> dict[str, Any]:
    """The POST /v1/models body that argv (a launch_argv command) sends: the named fields, then what the
    CLI sends without being told (v.cli_defaults), then the model kwargs."""
    options = argv[4:]  # after `xinference launch --endpoint E`
    fields: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    i = 0
    while i + 1 < len(options):
        flag, raw = options[i], options[i + 1]
        if flag == "--lora-modules":  # NAME PATH, the structure model_launch builds
            peft = fields.setdefault("peft_model_config", {
                "image_lora_load_kwargs": None, "image_lora_fuse_kwargs": None, "lora_list": []})
            peft["lora_list"].append({"lora_name": raw, "local_path": options[i + 2]})
            i += 3
            continue
        if flag in FIELDS:
            key, kind = FIELDS[flag]
            fields[key] = kind(raw)
        elif flag == "--trust-remote-code":
            kwargs["trust_remote_code"] = raw == "true"
        else:
            kwargs[flag[2:]] = click_value(raw, v)
        i += 2
    return {**fields, **dict(v.cli_defaults), **kwargs}


def py_dict(data: dict[str, Any]) -> str:
    """A dict as a Python literal, one key per line (repr quotes every string inertly)."""
    items = "".join(f"    {k!r}: {pprint.pformat(v, width=100, sort_dicts=False)},\n" for k, v in data.items())
    return "{\n" + items + "}"


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def launch_artifacts(plan: Plan, v: XinferenceVersion, banner: list[str], body: dict[str, Any],
                     register: dict[str, Any] | None, lines: list[str], about: list[str],
                     endpoint_py: str) -> list[Artifact]:
    """launch.sh (lines: its commands, shell-quoted), launch.py, launch.json (and register.json).
    endpoint_py: the server's URL as a Python expression."""
    srv = plan.server
    if register is not None:
        about = about + [f"Registers the custom model {body['model_name']} first (register.json); run once "
                         "per server start."]
    sh_about = about + ([f"The `xinference` command takes the key only as --api-key: while launch.sh runs, other "
                         f"users of this machine can read ${srv.api_key_env} in the process list; launch.py "
                         "reads it from the environment and does not show it."] if srv.api_key_env else [])
    launch_sh = render_template(TEMPLATES, "launch.sh.j2", banner=banner, about=sh_about, lines=lines,
                                api_key_env=srv.api_key_env)
    launch_py = render_template(
        TEMPLATES, "launch.py.j2", banner=banner,
        about=about + [f"Needs `pip install xinference-client=={v.client}`."],
        endpoint=endpoint_py, api_key_env=repr(srv.api_key_env),
        register=repr("register.json" if register is not None else None),
        launch=py_dict(body))
    artifacts = [Artifact("launch.sh", launch_sh, executable=True),
                 Artifact("launch.py", launch_py, executable=True), Artifact("launch.json", to_json(body))]
    if register is not None:
        artifacts.append(Artifact("register.json", to_json(register)))
    return artifacts


def quoted(commands: list[list[str]]) -> list[str]:
    """Commands as launch.sh lines, every token quoted inert."""
    return [shlex.join(c) for c in commands]
