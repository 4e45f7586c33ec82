"""The only module that writes files: atomic writes, a manifest of hashes, drift checks.

Each target's output folder holds ``deployc-manifest.json``: the path and
sha256 of every file deployc wrote there. With it, ``build`` can tell a file
it wrote and nobody touched (overwrite) from one edited by hand or one it
never wrote (refuse without --force), and ``check`` can tell "stale" from
"edited by hand". Every decision is taken before the first byte is written,
so a refused build leaves the disk as it was; each file is replaced
atomically (temp file in the same folder, fsync, rename).
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from compiler.diagnostics import Diagnostic, error, warning
from compiler.target_api import Artifact

MANIFEST = "deployc-manifest.json"


def sha256(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def safe_relpath(path: str) -> bool:
    p = PurePosixPath(path)
    return bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path and p.name != MANIFEST


def manifest_text(target: str, version: str, artifacts: Sequence[Artifact]) -> str:
    body = {
        "generator": "deployc",
        "target": target,
        "version": version,
        "files": {a.path: {"sha256": sha256(a.content)[7:], "mode": a.mode}
                  for a in sorted(artifacts, key=lambda a: a.path)},
    }
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


def read_manifest(out_dir: Path) -> dict[str, str] | None:
    """path -> "sha256:..." of what deployc last wrote, or None when there is no (valid) manifest."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        return {p: "sha256:" + v["sha256"] for p, v in files.items() if isinstance(p, str) and safe_relpath(p)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _disk_hash(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file():
            return "other" if path.exists() or path.is_symlink() else None
        return sha256(path.read_bytes())
    except OSError:
        return "other"


@dataclass
class WritePlan:
    out_dir: Path
    writes: list[Artifact] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    replaced: set[str] = field(default_factory=set)   # writes over an existing file (changed, not new)
    manifest: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)


def out_dir_problem(out_dir: Path) -> str | None:
    """Why deployc will not write into out_dir (or None): never through a symlink, never over a file."""
    if out_dir.is_symlink():
        return f"{out_dir} is a symbolic link; deployc writes only into real folders (pass --out to its target)"
    if out_dir.exists() and not out_dir.is_dir():
        return f"{out_dir} exists and is not a folder"
    return None


@contextlib.contextmanager
def locked(out_dir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on out_dir (created if missing) while a build plans and writes there.

    flock on the folder itself: nothing extra on disk, released by the kernel if the process dies.
    A second `deployc build` of the same output waits for the first, then plans against what the
    first wrote; after `timeout` seconds it gives up with OSError."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OSError(f"another deployc build has held {out_dir} for {timeout:g} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)   # closing the descriptor releases the lock


def plan_build(out_dir: Path, target: str, version: str, artifacts: Sequence[Artifact], force: bool) -> WritePlan:
    wp = WritePlan(out_dir, manifest=manifest_text(target, version, artifacts))
    old = read_manifest(out_dir) or {}
    shown = lambda p: str(out_dir / p)  # noqa: E731
    for art in artifacts:
        dest = out_dir / art.path
        linked = next((p for p in dest.parents if p != out_dir and out_dir in p.parents and p.is_symlink()), None)
        if linked is not None:
            wp.diagnostics.append(error(
                "output-symlink", f"{linked} is a symbolic link: writing {shown(art.path)} would land outside "
                f"{out_dir}", hint="replace the link with a real folder, or move it away").at(shown(art.path), None, None))
            continue
        on_disk = _disk_hash(dest)
        fresh = sha256(art.content)
        if on_disk == fresh and _mode_ok(dest, art):
            wp.unchanged.append(art.path)
            continue
        if on_disk is not None and not force:
            if art.path in old and old[art.path] != on_disk:
                wp.diagnostics.append(error(
                    "output-edited", f"{shown(art.path)} was edited by hand since deployc wrote it",
                    hint="move your change into the spec (targets.<name>.args or env), or rerun with --force "
                         "to overwrite it").at(shown(art.path), None, None))
                continue
            if art.path not in old:
                wp.diagnostics.append(error(
                    "output-unowned", f"{shown(art.path)} exists and was not written by deployc",
                    hint="move it away, choose another --out, or rerun with --force to overwrite it"
                ).at(shown(art.path), None, None))
                continue
        if on_disk is not None:
            wp.replaced.add(art.path)
        wp.writes.append(art)
    produced = {a.path for a in artifacts}
    for path in sorted(set(old) - produced):
        on_disk = _disk_hash(out_dir / path)
        if on_disk is None:
            continue
        if on_disk == old[path]:
            wp.deletes.append(path)
        else:
            wp.diagnostics.append(warning(
                "output-orphan", f"{shown(path)} is no longer generated but was edited by hand; left in place",
                hint="delete it yourself if it is not needed").at(shown(path), None, None))
    return wp


def _mode_ok(dest: Path, art: Artifact) -> bool:
    try:
        return bool(dest.stat().st_mode & 0o100) == art.executable
    except OSError:
        return False


def _stage(dest: Path, content: str, executable: bool) -> Path:
    """Write content to a synced temp file beside dest; the caller renames it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o755 if executable else 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def apply(wp: WritePlan) -> None:
    """Carry out a plan that has no errors.

    Every new file is first written in full to a temp file beside its destination; only when all
    of them are on disk are they renamed into place, then stale files removed, then the manifest
    replaced. A failure while staging (disk full, permissions) leaves every existing file as it
    was; a crash between renames leaves files that the next build recognises as its own output.
    Raises OSError for the CLI to report.
    """
    assert not any(d.is_error for d in wp.diagnostics)
    staged: list[tuple[Path, Path]] = []
    manifest: tuple[Path, Path] | None = None
    try:
        for art in wp.writes:
            dest = wp.out_dir / art.path
            staged.append((_stage(dest, art.content, art.executable), dest))
        if wp.writes or wp.deletes or _disk_hash(wp.out_dir / MANIFEST) != sha256(wp.manifest):
            manifest = (_stage(wp.out_dir / MANIFEST, wp.manifest, False), wp.out_dir / MANIFEST)
    except BaseException:
        for tmp, _ in staged:  # _stage removes its own temp file when it fails
            tmp.unlink(missing_ok=True)
        raise
    for tmp, dest in staged:
        os.replace(tmp, dest)
    for path in wp.deletes:
        (wp.out_dir / path).unlink(missing_ok=True)
    if manifest is not None:
        os.replace(*manifest)


@dataclass(frozen=True)
class Drift:
    diagnostic: Diagnostic
    diff: str


def compare(out_dir: Path, target: str, version: str, artifacts: Sequence[Artifact],
            regen: str = "deployc build") -> list[Drift]:
    """What `deployc check` reports: each generated file that is missing, stale or edited by hand.

    ``regen`` is the command that rebuilds this output; hints quote it."""
    drifts: list[Drift] = []
    old = read_manifest(out_dir)
    shown = lambda p: str(out_dir / p)  # noqa: E731
    if old is None:
        return [Drift(error("output-missing", f"no deployc output in {out_dir} (no {MANIFEST})",
                            hint=f"run `{regen}` and commit its output").at(str(out_dir / MANIFEST), None, None),
                      "")]
    for art in sorted(artifacts, key=lambda a: a.path):
        dest = out_dir / art.path
        try:
            current = dest.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            drifts.append(Drift(error("output-missing", f"{shown(art.path)} is missing",
                                      hint=f"run `{regen}` and commit its output").at(shown(art.path), None, None),
                                ""))
            continue
        if current == art.content:
            if not _mode_ok(dest, art):
                drifts.append(Drift(error("output-mode", f"{shown(art.path)} should have mode {art.mode}",
                                          hint=f"chmod {art.mode[1:]} {shown(art.path)} or run `{regen}`")
                                    .at(shown(art.path), None, None), ""))
            continue
        diff = "".join(difflib.unified_diff(
            current.splitlines(keepends=True), art.content.splitlines(keepends=True),
            fromfile=f"{shown(art.path)} (committed)", tofile=f"{shown(art.path)} (generated)"))
        line = _first_difference(current, art.content)
        if old.get(art.path) == sha256(current):
            d = error("output-stale", f"{shown(art.path)} is out of date with the spec",
                      hint=f"run `{regen}` and commit the result")
        else:
            d = error("output-edited", f"{shown(art.path)} differs from what deployc generates (edited by hand?)",
                      hint=f"move the change into the spec, then run `{regen} --force`")
        drifts.append(Drift(d.at(shown(art.path), line, 1), diff))
    for path in sorted(set(old) - {a.path for a in artifacts}):
        if (out_dir / path).exists():
            drifts.append(Drift(error("output-stale", f"{shown(path)} is no longer generated",
                                      hint=f"run `{regen}` (it removes files it wrote and no longer needs)")
                                .at(shown(path), None, None), ""))
    return drifts


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), start=1):
        if x != y:
            return i
    return min(len(a.splitlines()), len(b.splitlines())) + 1
