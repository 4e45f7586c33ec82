"""Secrets never belong in deploy.yaml: a value that looks like a token (or, as an env value, a long
random-looking run) is an error at its key, and no diagnostic repeats it."""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterator

from deployc.compiler.diagnostics import SECRET, Diagnostic, SpecPath, error, format_path, looks_secret

__all__ = ["SECRET", "credential_name", "high_entropy", "scan"]

_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
# env names whose value is a credential: the last word names one (HF_TOKEN, OPENAI_API_KEY, DB_PASSWORD)
_CREDENTIAL_WORDS = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIALS", "CREDENTIAL", "APIKEY"}
_KEY_QUALIFIERS = {"API", "ACCESS", "SECRET", "PRIVATE", "SIGNING", "ENCRYPTION", "AUTH"}


def credential_name(name: str) -> bool:
    """An environment variable NAME that holds a credential by convention."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", name.upper()) if w]
    if not words:
        return False
    if words[-1] in _CREDENTIAL_WORDS:
        return True
    return words[-1] == "KEY" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS


# ---------------------------------------------------------------------------------------------
# checks on raw data and on local files


def scan(node: Any, path: SpecPath) -> Iterator[Diagnostic]:
    """Every key and every value of the spec. A credential-named env variable (HF_TOKEN, *_API_KEY,
    *_PASSWORD...) takes only a ${NAME} reference (or nothing): any literal value is refused."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and looks_secret(k):
                yield error("secret-in-spec", f"a key under {format_path(path) or 'the top level'} looks like a "
                            "secret token; secrets never go in deploy.yaml", path=path + (k,), anchor="key",
                            hint="remove it (and rotate it if it was committed)")
                continue
            if (_is_env_value(path + (k,)) and isinstance(k, str) and credential_name(k) and isinstance(v, str)
                    and v and not _REF.fullmatch(v) and not looks_secret(v) and not high_entropy(v)):
                yield error("secret-in-spec", f"{format_path(path + (k,))} is a credential given as a literal value; "
                            "deployc passes credentials by reference only", path=path + (k,),
                            hint=f"write {k}: ${{{k}}} and set {k} in the environment that runs the engine (or "
                                 "the Kubernetes Secret)")
                continue
            yield from scan(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from scan(v, path + (i,))
    elif isinstance(node, str) and (looks_secret(node) or (_is_env_value(path) and high_entropy(node))):
        yield error("secret-in-spec", f"{format_path(path)} looks like a secret token; secrets never go in "
                    "deploy.yaml", path=path,
                    hint="remove it (and rotate it if it was committed); pass it by environment variable "
                         "name: server.api_key_env, or targets.<name>.env: {NAME: ${NAME}}")


def _is_env_value(path: SpecPath) -> bool:
    return len(path) == 4 and path[0] == "targets" and path[2] == "env"


_TOKEN = re.compile(r"[A-Za-z0-9+=]{24,}")


def high_entropy(value: str) -> bool:
    """A long random-looking run (a key pasted as an env value): 24+ characters of letters, digits,
    '+' and '=', with upper case, lower case and digits all present, over 4.2 bits of Shannon
    entropy per character, and not made of words (at most one run of 4+ lower-case letters, which
    CamelCase names like MistralNemoInstruct2407 have several of). '/', '.', '-' and '_' break runs,
    so paths, URLs, model ids and snake_case settings never qualify; hex digests (commits, sha256)
    have no upper case."""
    import math
    from collections import Counter

    for token in _TOKEN.findall(value):
        if not (any(c.isdigit() for c in token) and any(c.isupper() for c in token)
                and any(c.islower() for c in token)):
            continue
        bits = -sum(n / len(token) * math.log2(n / len(token)) for n in Counter(token).values())
        if bits > 4.2 and len(re.findall(r"[a-z]{4,}", token)) <= 1:
            return True
    return False
