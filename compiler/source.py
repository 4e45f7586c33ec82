"""Load deploy.yaml with ruamel.yaml into plain data plus a side table of positions.

The data handed to validation is plain ``dict``/``list``/scalars: positions are
never injected into it. ``Source.locate(path, anchor)`` answers 1-based
(line, column) for the key or the value at a spec path, falling back to the
nearest enclosing node that has a position.

Every way a file can fail to be YAML (syntax errors, tabs, duplicate keys,
invalid UTF-8, an empty file, a document that is not a mapping, custom tags,
alias bombs) becomes a Diagnostic, never an exception.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployc.compiler.diagnostics import Diagnostic, SpecPath, error

# A spec is a few dozen nodes; anything near this is an alias bomb or junk.
MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_BYTES = 1_000_000

Position = tuple[int, int]  # 1-based line, column
_CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


@dataclass
class Source:
    """A loaded spec: display name, plain data, positions, and load diagnostics."""

    name: str
    data: dict[str, Any] | None
    diagnostics: list[Diagnostic]
    keys: dict[SpecPath, Position] = field(default_factory=dict)
    values: dict[SpecPath, Position] = field(default_factory=dict)
    digest: str = ""

    def locate(self, path: SpecPath | None, anchor: str = "value") -> Position | None:
        if path is None:
            return None
        path = tuple(path)
        while True:
            table = self.keys if anchor == "key" else self.values
            if path in table:
                return table[path]
            other = self.values if anchor == "key" else self.keys
            if path in other:
                return other[path]
            if not path:
                return (1, 1)
            # A missing key is reported at the mapping that should hold it.
            path = path[:-1]
            anchor = "key"

    def place(self, diagnostic: Diagnostic) -> Diagnostic:
        if diagnostic.line is not None:
            return diagnostic
        pos = self.locate(diagnostic.path, diagnostic.anchor)
        return diagnostic.at(self.name, *(pos or (None, None)))


def load(path: Path, display: str | None = None) -> Source:
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:  # the CLI checks existence first; this is the race/permission case
        return Source(name, None, [error("io", f"cannot read file: {exc.strerror or exc}")])
    return loads(raw, name)


def loads(raw: bytes, name: str = "deploy.yaml", fast: bool = True) -> Source:
    """fast=False: always the round-trip loader (tests compare the two). Any exception the YAML
    library raises on some input becomes a diagnostic (yaml-invalid at the start when no node can
    be blamed): a loader bug is reported, never a traceback."""
    try:
        return _loads(raw, name, fast)
    except RecursionError:
        return Source(name, None, [error("yaml-too-deep", "the document nests too deeply").at(name, 1, 1)])
    except Exception as exc:  # the generic guard
        return Source(name, None, [_invalid(exc).at(name, 1, 1)])


def _invalid(exc: BaseException) -> Diagnostic:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return error("yaml-invalid", f"the YAML library cannot read this file ({type(exc).__name__}"
                 + (f": {text}" if text else "") + ")",
                 hint="simplify the YAML around this point: plain keys and values, no tags, anchors or directives")


def _loads(raw: bytes, name: str, fast: bool) -> Source:
    src = Source(name, None, [])

    def fail(code: str, message: str, line: int = 1, col: int = 1, hint: str | None = None) -> Source:
        src.diagnostics.append(error(code, message, hint=hint).at(name, line, col))
        return src

    if len(raw) > MAX_BYTES:
        return fail("yaml-too-large", f"file is {len(raw)} bytes; a deploy.yaml is at most {MAX_BYTES}",
                    hint="this does not look like a deployment spec")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return fail("yaml-encoding", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", line, col,
                    hint="save the file as UTF-8")
    if "\x00" in text:
        off = text.index("\x00")
        return fail("yaml-syntax", "NUL character in file", *_offset_position(text, off),
                    hint="a deploy.yaml is plain text")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return fail("yaml-empty", "the file is empty",
                    hint="start from `deployc init`, or see the deploy.yaml reference in README.md")

    plain = _fast_load(text) if fast else None
    if plain is not None:
        src.data, src.keys, src.values = plain
        src.digest = _digest(src.data)
        return src

    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        docs = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        return _yaml_error(src, exc)
    except YAMLError as exc:
        return fail("yaml-syntax", str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    except RecursionError:
        return fail("yaml-too-deep", "the document nests too deeply")
    except Exception as exc:  # whatever the constructor raises: find the node, never a traceback
        return _construction_failure(src, text, exc)
    if len(docs) != 1:
        return fail("yaml-documents", f"expected one YAML document, found {len(docs)}",
                    hint="remove the extra `---` separators")
    doc = docs[0]
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else type(_plain_scalar(doc)).__name__
        if isinstance(doc, list):
            kind = "a list"
        return fail("yaml-not-mapping", f"the document must be a mapping of keys to values, not {kind}",
                    hint="a deploy.yaml starts with `apiVersion: deployc/v1`")
    walker = _Walker(src)
    data = walker.convert(doc, (), 0)
    if src.diagnostics:
        src.data = None
        return src
    src.data = data
    src.digest = _digest(data)
    return src


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# Anchors, aliases, tags and merge keys: what the fast path leaves to the round-trip loader.
# Anchors, aliases, tags, merge keys and tabs go to the round-trip loader (libyaml reads a tab inside a plain
# key, `s\tource:`, where the round-trip loader reports it).
_UNUSUAL = re.compile(r"[&*!\t]|<<")
_fast_yaml: Any = None


def _fast_load(text: str) -> tuple[dict[str, Any], dict[SpecPath, Position], dict[SpecPath, Position]] | None:
    """A plain, valid spec through libyaml's composer (ruamel.yaml.clib), five to ten times faster
    than the pure-Python round-trip loader; None sends the text to that loader, which alone
    reports problems (syntax, duplicate keys, tags, aliases, non-string keys, limits). Both give
    the same data and positions (tests/test_source.py checks it over the samples and fuzz input)."""
    global _fast_yaml
    if _UNUSUAL.search(text):
        return None
    if _fast_yaml is None:
        from ruamel.yaml import YAML

        _fast_yaml = YAML(typ="safe", pure=False)
        if _fast_yaml.Parser.__name__ != "CParser":  # ruamel.yaml.clib is not installed
            _fast_yaml = False
    if _fast_yaml is False:
        return None
    try:
        docs = list(_fast_yaml.compose_all(text))
    except Exception:  # any trouble: the round-trip loader gives the diagnostic
        return None
    if len(docs) != 1 or type(docs[0]).__name__ != "MappingNode":
        return None
    keys: dict[SpecPath, Position] = {}
    values: dict[SpecPath, Position] = {}
    construct = _fast_yaml.constructor.construct_object
    count = 0

    def convert(node: Any, path: SpecPath, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise _Slow
        kind = type(node).__name__
        if kind == "MappingNode":
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                key = knode.value
                if knode.tag != "tag:yaml.org,2002:str" or key in out or _SURROGATE.search(key):
                    raise _Slow
                if vnode.value == "" and not vnode.style:
                    # `key:` with no value: libyaml places the null after the colon, the round-trip
                    # loader at the next token; that loader decides, so diagnostics do not move.
                    raise _Slow
                child = path + (key,)
                keys[child] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                values[child] = (vnode.start_mark.line + 1, vnode.start_mark.column + 1)
                out[key] = convert(vnode, child, depth + 1)
            return out
        if kind == "SequenceNode":
            items = []
            for i, item in enumerate(node.value):
                child = path + (i,)
                keys[child] = values[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                items.append(convert(item, child, depth + 1))
            return items
        value = _plain_scalar(construct(node))
        if isinstance(value, str) and _SURROGATE.search(value):
            raise _Slow
        return value

    try:
        data = convert(docs[0], (), 0)
    except (_Slow, ValueError, OverflowError, TypeError, RecursionError):
        return None
    finally:
        _fast_yaml.constructor.constructed_objects.clear()
    return data, keys, values


class _Slow(Exception):
    """The fast path declines: the round-trip loader decides."""


_MERGE_TAG = "tag:yaml.org,2002:merge"
_DIRECTIVE = re.compile(r"^%YAML[ \t]+(\S*)", re.M)


def _bad_directive(text: str) -> tuple[int, str] | None:
    """The first `%YAML` directive naming a version other than 1.1 or 1.2: (line, version)."""
    for m in _DIRECTIVE.finditer(text):
        if m[1] not in ("1.1", "1.2"):
            return text.count("\n", 0, m.start()) + 1, m[1]
    return None


def _construction_failure(src: Source, text: str, exc: Exception) -> Source:
    """The round-trip loader raised something other than a YAML error while building the data: find
    the node to blame. In order: a syntax error anywhere in the stream (the file is not YAML), a
    %YAML directive of another version, a mapping used as a key, a mapping that merges itself, a
    scalar its core tag cannot read; else yaml-invalid at the start."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    def at(diag: Diagnostic, line: int, col: int) -> Source:
        src.diagnostics.append(diag.at(src.name, line, col))
        return src

    if (bad := _bad_directive(text)) is not None:
        return at(_directive_error(bad[1]), bad[0], 1)
    try:
        docs = list(YAML(typ="rt").compose_all(text))
    except MarkedYAMLError as syntax:
        return _yaml_error(src, syntax)
    except Exception:  # cannot even compose: the generic diagnostic
        return at(_invalid(exc), 1, 1)
    constructor = YAML(typ="safe", pure=True).constructor
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[int, ...]]] = [(d, ()) for d in reversed(docs)]
    while stack:
        node, ancestors = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        mark = node.start_mark
        if isinstance(node, MappingNode):
            inner = ancestors + (id(node),)
            for key, value in node.value:
                kmark = key.start_mark
                if not isinstance(key, ScalarNode):
                    return at(error("yaml-key", "mapping keys must be strings, not "
                                    + ("a mapping" if isinstance(key, MappingNode) else "a list"),
                                    hint="quote the key"), kmark.line + 1, kmark.column + 1)
                if key.tag == _MERGE_TAG or key.value == "<<":
                    merged = value.value if isinstance(value, SequenceNode) else [value]
                    if any(id(m) in inner for m in merged):
                        return at(error("yaml-merge", "this mapping merges itself (`<<: *anchor` inside the "
                                        "anchored mapping)", hint="merge another mapping, or write the keys out"),
                                  kmark.line + 1, kmark.column + 1)
                stack += [(value, inner), (key, inner)]
        elif isinstance(node, SequenceNode):
            stack += [(item, ancestors + (id(node),)) for item in reversed(node.value)]
        elif isinstance(node, ScalarNode) and str(node.tag).startswith("tag:yaml.org,2002:"):
            try:
                constructor.construct_object(node, deep=True)
            except Exception:  # any failure of the constructor is the answer
                tag = "!!" + str(node.tag).rsplit(":", 1)[1]
                return at(error("yaml-tag", f"{node.value!r} cannot be read as {tag}",
                                hint="remove the tag, or give a value of that type"), mark.line + 1, mark.column + 1)
    return at(_invalid(exc), 1, 1)


def _directive_error(version: str) -> Diagnostic:
    return error("yaml-directive", f"%YAML {version} is not a YAML version deployc reads (1.1 or 1.2)",
                 hint="remove the %YAML line; a deploy.yaml needs no directive")


def _key_kind(key: Any) -> str:
    if isinstance(key, Mapping):  # ruamel's CommentedKeyMap is a Mapping, not a dict
        return "a mapping"
    if isinstance(key, (list, tuple)):
        return "a list"
    return repr(_plain_scalar(key))


def _offset_position(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _yaml_error(src: Source, exc: Any) -> Source:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    code, hint = "yaml-syntax", "check indentation, colons and quotes around this point"
    if "\\t" in problem or "'\\t'" in problem or "\t" in problem:
        code, problem = "yaml-tab", "tab character used for indentation"
        hint = "YAML indents with spaces; replace the tab with spaces"
    elif "incompatible YAML document" in problem and isinstance(getattr(mark, "buffer", None), str):
        bad = _bad_directive(mark.buffer)
        if bad is not None:
            d = _directive_error(bad[1])
            src.diagnostics.append(d.at(src.name, bad[0], 1))
            return src
    elif "duplicate key" in problem:
        code = "yaml-duplicate-key"
        first = exc.context_mark
        problem = problem.split(" with value")[0]
        hint = "each key may appear once in a mapping; remove or merge the repeated one"
        if first is not None:
            hint += f" (the mapping starts at line {first.line + 1})"
    elif "<stream end>" in problem and exc.context_mark is not None and exc.context:
        # "expected ']' but got end of file": the useful place is where the bracket opened.
        mark = exc.context_mark
        what = exc.context.removeprefix("while parsing ").removeprefix("a ")
        problem = f"{what} opened here is never closed ({problem})"
        hint = "close it, or write the list as indented `- item` lines"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    src.diagnostics.append(error(code, problem, hint=hint).at(src.name, line, col))
    return src


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Walker:
    """Converts ruamel's round-trip nodes to plain data, recording positions."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.nodes = 0

    def convert(self, node: Any, path: SpecPath, depth: int) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            if not any(d.code == "yaml-too-large" for d in self.src.diagnostics):
                pos = self.src.locate(path) or (1, 1)
                self.src.diagnostics.append(error(
                    "yaml-too-large", f"the document expands to more than {MAX_NODES} nodes or "
                    f"{MAX_DEPTH} levels (anchors and aliases count each time they are used)",
                    hint="a deploy.yaml is a few dozen keys; remove the aliases").at(self.src.name, *pos))
            return None
        tag = getattr(getattr(node, "tag", None), "value", None)
        if tag and tag not in _CORE_TAGS:
            pos = self.src.locate(path) or (1, 1)
            self.src.diagnostics.append(error(
                "yaml-tag", f"YAML tag {tag} is not allowed in a deploy.yaml",
                hint="remove the tag; values are plain strings, numbers, booleans, lists and mappings",
            ).at(self.src.name, *pos))
            return None
        if isinstance(node, TaggedScalar):  # `!!str 12`: a core tag on a scalar
            return self.text(str(node.value), path)
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key in node:
                try:
                    kpos, vpos = node.lc.key(key), node.lc.value(key)
                except (KeyError, TypeError):  # merged in by `<<:`: no record of its own
                    kpos = vpos = None
                if kpos is None or vpos is None:   # ruamel keeps none for some merged keys
                    kpos = vpos = (node.lc.line, node.lc.col)
                if not isinstance(key, str):
                    self.src.diagnostics.append(error(
                        "yaml-key", f"mapping keys must be strings, not {_key_kind(key)}",
                        hint="quote the key").at(self.src.name, kpos[0] + 1, kpos[1] + 1))
                    continue
                child = path + (key,)
                if _SURROGATE.search(key):
                    self.src.diagnostics.append(error(
                        "yaml-text", "a key holds an unpaired UTF-16 surrogate (a `\\ud800`-style escape), "
                        "which is not text", hint="write the character itself, or remove it")
                        .at(self.src.name, kpos[0] + 1, kpos[1] + 1))
                    continue
                self.src.keys[child] = (kpos[0] + 1, kpos[1] + 1)
                self.src.values[child] = (vpos[0] + 1, vpos[1] + 1)
                out[key] = self.convert(node[key], child, depth + 1)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for i, item in enumerate(node):
                try:
                    ipos = node.lc.item(i) or (node.lc.line, node.lc.col)
                except (KeyError, TypeError):
                    ipos = (node.lc.line, node.lc.col)
                child = path + (i,)
                self.src.keys[child] = self.src.values[child] = (ipos[0] + 1, ipos[1] + 1)
                items.append(self.convert(item, child, depth + 1))
            return items
        value = _plain_scalar(node)
        return self.text(value, path) if isinstance(value, str) else value

    def text(self, value: str, path: SpecPath) -> str | None:
        """Strings must be encodable text: a `"\\ud800"` escape yields a lone surrogate, which is not."""
        if not _SURROGATE.search(value):
            return value
        self.src.diagnostics.append(error(
            "yaml-text", "the value holds an unpaired UTF-16 surrogate (a `\\ud800`-style escape), which is "
            "not text", hint="write the character itself, or remove it").at(
                self.src.name, *(self.src.locate(path) or (1, 1))))
        return None
