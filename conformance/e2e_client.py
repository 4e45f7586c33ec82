"""Talk to a running OpenAI-compatible server with the real `openai` client; print one JSON object.

    <e2e venv>/bin/python conformance/e2e_client.py BASE_URL SERVED_NAME MAX_MODEL_LEN

BASE_URL ends in /v1; the API key is read from the environment variable E2E_CLIENT_KEY (the
test sets it to the key the server was started with). Nothing is asserted here: every
outcome is reported (status code, message, timings) and the test decides.

  chat         a chat completion with model=SERVED_NAME and the right key
  no_key       the same request with no key at all (raw HTTP: the client insists on one)
  wrong_key    the same request with a wrong key
  too_long     a prompt of more than MAX_MODEL_LEN tokens (vLLM counts its tokens)
  too_long_text  a much longer one (vLLM's character bound refuses it before tokenizing)
  over_budget  a prompt that fits, with max_tokens=MAX_MODEL_LEN
  models       GET /v1/models with the right key
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request


def outcome(fn) -> dict:
    import openai

    t0 = time.monotonic()
    try:
        value = fn()
        return {"status": 200, "body": value, "seconds": round(time.monotonic() - t0, 3)}
    except openai.APIStatusError as e:
        return {"status": e.status_code, "message": str(e), "seconds": round(time.monotonic() - t0, 3)}


def raw_chat(base: str, model: str) -> dict:
    """POST /chat/completions with no Authorization header at all."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()
    req = urllib.request.Request(base + "/chat/completions", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return {"status": r.status, "message": r.read().decode()[:500]}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "message": e.read().decode()[:500]}


def main(base: str, served: str, max_model_len: int) -> dict:
    from openai import OpenAI

    key = os.environ["E2E_CLIENT_KEY"]
    client = OpenAI(base_url=base, api_key=key, max_retries=0, timeout=300)
    messages = [{"role": "user", "content": "Hello, how are you today?"}]

    def chat(c: OpenAI, msgs=messages, max_tokens=8):
        r = c.chat.completions.create(model=served, messages=msgs, max_tokens=max_tokens, temperature=0)
        return {"model": r.model, "finish_reason": r.choices[0].finish_reason,
                "role": r.choices[0].message.role, "content": r.choices[0].message.content,
                "usage": r.usage.model_dump() if r.usage else None}

    out: dict = {"chat": outcome(lambda: chat(client))}
    out["no_key"] = raw_chat(base, served)
    wrong = OpenAI(base_url=base, api_key=key + "-wrong", max_retries=0, timeout=60)
    out["wrong_key"] = outcome(lambda: chat(wrong))
    # max_model_len words are more than max_model_len tokens with the template around them, yet
    # short enough in characters to reach vLLM's token count; 20 x as many hit its cheaper
    # character bound first (max_model_len x the longest token's length).
    long_prompt = [{"role": "user", "content": "count " * max_model_len}]
    out["too_long"] = outcome(lambda: chat(client, long_prompt, max_tokens=1))
    long_text = [{"role": "user", "content": "count " * (20 * max_model_len)}]
    out["too_long_text"] = outcome(lambda: chat(client, long_text, max_tokens=1))
    # A prompt that fits, asking for more tokens than are left.
    fits = [{"role": "user", "content": "count " * (max_model_len // 8)}]
    out["over_budget"] = outcome(lambda: chat(client, fits, max_tokens=max_model_len))
    out["models"] = outcome(lambda: [m.model_dump() for m in client.models.list().data])
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3])), indent=1))
