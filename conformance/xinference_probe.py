#!/usr/bin/env python3
"""Run deployc's XInference launch artifacts against the REAL xinference CLI and client (conformance tier).

Run with the python of a venv made by conformance/install_xinference.sh:

    echo '[{"id": "a", "dir": "/tmp/out", "commands": [["xinference", "launch", ...]],
            "api_key": null}]' | .conformance/xinference-4.1.0/bin/python conformance/xinference_probe.py

stdin:  JSON list of {"id", "dir" (folder holding launch.py and register.json),
        "commands" (launch.sh's argv lines, api key already substituted), "api_key_env", "api_key"}
stdout: JSON {"xinference_version", "client_version", "launch_model_params", "registry",
              "results": [{"id", "cli": [request...], "py": [request...], "error", "model"}]}
        where a request is {"method", "path", "json", "params", "authorization"}, "registry"
        says whether xinference's model registry imports here, and "model" is what it says
        about the launched model: register.json parsed by CustomLLMFamilyV2.parse_raw (the
        class `xinference register` uses) and whether its model_family is built in, or for a
        built-in model_name the registry specs matching format, size and quantization.

No server is involved: requests.Session.post/get are replaced in this process, so
the real click command (`xinference launch` / `xinference register`, argv[1:]
through cli.main) and launch.py's real xinference_client.RESTfulClient run up to
the HTTP request they would send. The CLI then polls the launch's progress; the
first GET ends that run. Both clients' cluster-auth probes are answered "authed",
so an --api-key / api_key becomes the Authorization header as against a 4.x server
with auth on.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from urllib.parse import urlsplit

import requests

REQUESTS: list[dict] = []


class Stop(Exception):
    """The first GET after a launch: the CLI starts polling, which needs a server."""


class Response:
    def __init__(self, data):
        self.status_code = 200
        self._data = data

    def json(self):
        return self._data


def fake_post(self, url, json=None, headers=None, params=None, **_):
    REQUESTS.append({"method": "POST", "path": urlsplit(url).path, "json": json, "params": params,
                     "authorization": (headers or {}).get("Authorization")})
    return Response({"model_uid": (json or {}).get("model_uid") or "uid"})


def fake_get(self, url, *a, **k):
    raise Stop(url)


requests.Session.post = fake_post
requests.Session.get = fake_get


def authed(self):
    self._cluster_authed = True


def main() -> None:
    import xinference
    import xinference_client
    from xinference.client.restful import restful_client as bundled
    from xinference.deploy import cmdline
    from xinference_client.client.restful import restful_client as package

    bundled.Client._check_cluster_authenticated = authed
    package.Client._check_cluster_authenticated = authed
    cmdline.get_stored_token = lambda *a, **k: None

    out = {"xinference_version": xinference.__version__, "client_version": xinference_client.__version__,
           "launch_model_params": {n: (None if p.default is inspect.Parameter.empty else p.default)
                                   for n, p in inspect.signature(package.Client.launch_model).parameters.items()
                                   if p.kind is p.POSITIONAL_OR_KEYWORD and n != "self"},
           "results": []}
    try:
        from xinference.model.llm.llm_family import BUILTIN_LLM_FAMILIES, CustomLLMFamilyV2
        builtin = {f.model_name: f for f in BUILTIN_LLM_FAMILIES}
        out["registry"] = True
    except Exception:  # 1.17.1's registry needs torchvision, which the judge venv cannot load
        out["registry"] = False
    for case in json.load(sys.stdin):
        result = {"id": case["id"], "cli": [], "py": [], "error": None, "model": None}
        if out["registry"]:
            register = os.path.join(case["dir"], "register.json")
            if os.path.exists(register):
                try:
                    family = CustomLLMFamilyV2.parse_raw(open(register, encoding="utf-8").read())
                    result["model"] = {"registered": family.model_name,
                                       "family_builtin": family.model_family in builtin,
                                       "specs": [s.dict(include={"model_format", "model_size_in_billions",
                                                                 "quantization", "model_id", "model_revision"})
                                                 for s in family.model_specs]}
                except Exception as e:
                    result["model"] = {"error": f"{type(e).__name__}: {e}"}
            else:
                body = json.load(open(os.path.join(case["dir"], "launch.json"), encoding="utf-8"))
                family = builtin.get(body["model_name"])
                result["model"] = {"builtin": family is not None, "matches": [] if family is None else [
                    s.model_hub for s in family.model_specs
                    if s.model_format == body["model_format"] and s.quantization == body["quantization"]
                    and str(s.model_size_in_billions) == str(body["model_size_in_billions"])]}
        old = os.getcwd()
        os.chdir(case["dir"])
        if case.get("api_key_env"):
            os.environ[case["api_key_env"]] = case["api_key"]
        try:
            for argv in case["commands"]:
                assert argv[0] == "xinference", argv
                REQUESTS.clear()
                sink = io.StringIO()
                try:
                    with redirect_stdout(sink), redirect_stderr(sink):
                        cmdline.cli.main(args=argv[1:], prog_name="xinference", standalone_mode=False)
                except Stop:
                    pass
                result["cli"] += REQUESTS
            REQUESTS.clear()
            source = open("launch.py", encoding="utf-8").read()
            namespace = {"__name__": "deployc_launch", "__file__": os.path.join(case["dir"], "launch.py")}
            exec(compile(source, "launch.py", "exec"), namespace)
            # launch_model's own signature must take every key (named, or through **kwargs).
            inspect.signature(package.Client.launch_model).bind(None, **namespace["LAUNCH"])
            with redirect_stdout(io.StringIO()):
                namespace["main"]()
            result["py"] = list(REQUESTS)
        except BaseException as e:
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            os.chdir(old)
            if case.get("api_key_env"):
                os.environ.pop(case["api_key_env"], None)
        out["results"].append(result)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
