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
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from deployc.compiler.diagnostics import Diagnostic, error, printable, warning
from deployc.compiler.api.target import Artifact

MANIFEST = "deployc-manifest.json"
JOURNAL = ".deployc-journal.json"   # present only while a build's renames are under way
TMP_PREFIX = ".deployc-tmp."        # every temp file deployc stages starts so; a later build sweeps them


def sha256(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def safe_relpath(path: str) -> bool:
    p = PurePosixPath(path)
    return bool(path) and not p.is_absolute() and ".." not in p.parts and "\\" not in path and p.name != MANIFEST


def manifest_digest(data: Mapping[str, Any]) -> str:
    """The manifest's own checksum (every field but itself): a manifest edited by hand no longer
    matches it, and deployc then deletes nothing that manifest lists."""
    body = {k: v for k, v in data.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def manifest_text(target: str, version: str, artifacts: Sequence[Artifact], facts: str | None = None) -> str:
    """facts: where the model facts came from, recorded only when that was this machine's own (the
    Hugging Face cache), so `check` elsewhere can say why its outputs differ."""
    body: dict[str, Any] = {
        "generator": "deployc",
        "target": target,
        "version": version,
        **({"facts": facts} if facts is not None else {}),
        "files": {a.path: {"sha256": sha256(a.content)[7:], "mode": a.mode}
                  for a in sorted(artifacts, key=lambda a: a.path)},
    }
    body["digest"] = manifest_digest(body)
    return json.dumps(body, indent=2, sort_keys=False) + "\n"


def manifest_facts(out_dir: Path) -> str | None:
    """The facts source a manifest records (None: none recorded, or no readable manifest)."""
    try:
        facts = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8")).get("facts")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return facts if isinstance(facts, str) else None


def read_manifest(out_dir: Path) -> dict[str, str] | None:
    """path -> "sha256:..." of what deployc last wrote, or None when there is no (valid) manifest."""
    found = _read_manifest(out_dir)
    return found[0] if found is not None else None


def _read_manifest(out_dir: Path) -> tuple[dict[str, str], bool] | None:
    """(path -> "sha256:...", trusted): trusted when the manifest matches its digest."""
    try:
        if (out_dir / MANIFEST).is_symlink():
            return None
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        table = {p: "sha256:" + v["sha256"] for p, v in files.items() if isinstance(p, str) and safe_relpath(p)}
        return table, data.get("digest") == manifest_digest(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
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
    old: dict[str, str] = field(default_factory=dict)   # the previous manifest's hashes (deletes check them)


def out_dir_problem(out_dir: Path, root: Path | None = None, chosen: bool = False) -> str | None:
    """Why deployc will not write into out_dir (or None): never through a symlink, never over a file.

    root: the output root out_dir lies in (deploy/ beside the spec, or --out); every folder from it
    down to out_dir must be real, root itself too unless the user chose it (--out may be a link)."""
    chain = [out_dir]
    if root is not None and (root == out_dir or root in out_dir.parents):
        chain = [q for q in reversed(out_dir.parents) if q == root or root in q.parents] + [out_dir]
        if chosen:
            chain = chain[1:]
    for folder in chain:
        if folder.is_symlink():
            return f"{folder} is a symbolic link; deployc writes only into real folders (pass --out to its target)"
        if folder.exists() and not folder.is_dir():
            return f"{folder} exists and is not a folder"
    return None


def _linked_parent(out_dir: Path, rel: str) -> Path | None:
    """The first symlinked folder between out_dir and out_dir/rel, if any."""
    here = out_dir
    for part in PurePosixPath(rel).parts[:-1]:
        here = here / part
        if here.is_symlink():
            return here
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


def plan_build(out_dir: Path, target: str, version: str, artifacts: Sequence[Artifact], force: bool,
               facts: str | None = None) -> WritePlan:
    wp = WritePlan(out_dir, manifest=manifest_text(target, version, artifacts, facts))
    found = _read_manifest(out_dir)
    old, trusted = found if found is not None else ({}, True)
    wp.old = old

    def shown(p: str) -> str:
        return str(out_dir / p)

    if not trusted:
        wp.diagnostics.append(warning(
            "output-manifest-edited", f"{shown(MANIFEST)} does not match its digest (edited by hand, or written by "
            "an older deployc): files it lists are not removed", hint="delete files deployc no longer generates "
            "yourself; this build writes a new manifest").at(shown(MANIFEST), None, None))
    for art in artifacts:
        dest = out_dir / art.path
        linked = _linked_parent(out_dir, art.path)
        if linked is not None:
            wp.diagnostics.append(error(
                "output-symlink", f"{linked} is a symbolic link: writing {shown(art.path)} would land outside "
                f"{out_dir}", hint="replace the link with a real folder, or move it away").at(shown(art.path), None, None))
            continue
        if dest.is_dir() and not dest.is_symlink():
            wp.diagnostics.append(error(
                "output-not-file", f"{shown(art.path)} is a folder where deployc writes a file",
                hint="move the folder away (deployc never removes folders, not even with --force)"
            ).at(shown(art.path), None, None))
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
    for path in sorted(set(old) - produced) if trusted else ():
        if _linked_parent(out_dir, path) is not None:
            continue   # never delete through a link, whatever the manifest says
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
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f"{TMP_PREFIX}{dest.name}.", suffix=".tmp")
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
    """Carry out a plan that has no errors; one target's folder changes as a unit.

    Every new file (and the new manifest, last) is first written in full to a synced temp file beside
    its destination; a failure there removes them and leaves every existing file as it was. Then a
    journal listing the renames and deletes is put in place, the renames and deletes done, and the
    journal removed. A crash after the journal is finished by the next build (recover); a rename
    that fails (OSError) leaves no temp file, a manifest that matches what is on disk, and the
    error for the CLI to report.
    """
    assert not any(d.is_error for d in wp.diagnostics)
    out = wp.out_dir
    staged: list[tuple[Path, str]] = []
    try:
        for art in wp.writes:
            staged.append((_stage(out / art.path, art.content, art.executable), art.path))
        if wp.writes or wp.deletes or _disk_hash(out / MANIFEST) != sha256(wp.manifest):
            staged.append((_stage(out / MANIFEST, wp.manifest, False), MANIFEST))
        if not staged:
            return
        journal = {"renames": [[(PurePosixPath(path).parent / tmp.name).as_posix(), path] for tmp, path in staged],
                   "deletes": {p: wp.old[p] for p in wp.deletes}}
        _write_atomic(out / JOURNAL, json.dumps(journal, indent=1) + "\n")
    except BaseException:
        for tmp, _ in staged:  # _stage removes its own temp file when it fails
            tmp.unlink(missing_ok=True)
        raise
    _commit(out, journal)


def _write_atomic(dest: Path, content: str) -> None:
    tmp = _stage(dest, content, False)
    try:
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(out: Path, journal: Mapping[str, Any]) -> None:
    """The renames and deletes of a journal, then the journal removed. A temp file already gone was
    renamed by an earlier, interrupted run. On OSError: the remaining temp files removed, the
    manifest made to match the disk, the journal removed, the error raised."""
    renames: list[list[str]] = journal["renames"]
    done: list[str] = []
    try:
        for tmp, dest in renames:
            if (out / tmp).is_file() and not (out / tmp).is_symlink():
                os.replace(out / tmp, out / dest)
            done.append(dest)
    except OSError:
        _settle(out, renames, set(done))
        raise
    for path, expected in journal["deletes"].items():
        if _linked_parent(out, path) is None and _disk_hash(out / path) == expected:
            with contextlib.suppress(OSError):
                (out / path).unlink()
    _fsync_dir(out)
    (out / JOURNAL).unlink(missing_ok=True)


def _settle(out: Path, renames: list[list[str]], done: set[str]) -> None:
    """After a failed rename: no temp file left, and a manifest listing, for each file, the entry of
    the version on disk (new where renamed, old elsewhere), so neither build nor check calls
    deployc's own files hand edits."""
    new_text = None
    for tmp, dest in renames:
        if dest not in done:
            if dest == MANIFEST:
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    new_text = (out / tmp).read_text(encoding="utf-8")
            (out / tmp).unlink(missing_ok=True)
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        if new_text is not None:
            new = json.loads(new_text)
            try:
                old_files = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
            except (OSError, ValueError, KeyError, TypeError):
                old_files = {}
            files = {p: v for p, v in old_files.items() if p not in done}
            files.update({p: v for p, v in new["files"].items() if p in done})
            body = {k: v for k, v in new.items() if k != "digest"}
            body["files"] = dict(sorted(files.items()))
            body["digest"] = manifest_digest(body)
            _write_atomic(out / MANIFEST, json.dumps(body, indent=2) + "\n")
    (out / JOURNAL).unlink(missing_ok=True)


def recover(out_dir: Path) -> list[Diagnostic]:
    """Before a build plans: finish the build a crash interrupted (its journal), then remove any temp
    file a crash left. Only renames of deployc's temp files to paths inside out_dir, never through
    a link, and deletes whose hash matches are carried out, whatever the journal says."""
    diags: list[Diagnostic] = []
    journal_path = out_dir / JOURNAL
    if journal_path.is_file() and not journal_path.is_symlink():
        journal = _valid_journal(out_dir)
        if journal is not None:
            _commit(out_dir, journal)
            diags.append(warning("output-recovered", f"finished the interrupted build of {out_dir}",
                                 hint="nothing to do: the previous build was killed while renaming its files"
                                 ).at(str(out_dir / MANIFEST), None, None))
        journal_path.unlink(missing_ok=True)
    for folder, _dirs, files in os.walk(out_dir):   # does not follow links
        for name in files:
            if name.startswith(TMP_PREFIX):
                with contextlib.suppress(OSError):
                    (Path(folder) / name).unlink()
    return diags


def _valid_journal(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / JOURNAL).read_text(encoding="utf-8"))
        renames = [[str(t), str(d)] for t, d in data["renames"]]
        deletes = {str(p): str(h) for p, h in data["deletes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    for tmp, dest in renames:
        if not (_journal_path(out, tmp) and _journal_path(out, dest, manifest_ok=True)
                and PurePosixPath(tmp).name.startswith(TMP_PREFIX)
                and PurePosixPath(tmp).parent == PurePosixPath(dest).parent):
            return None
    if not all(_journal_path(out, p) for p in deletes):
        return None
    return {"renames": renames, "deletes": deletes}


def _journal_path(out: Path, rel: str, manifest_ok: bool = False) -> bool:
    return (safe_relpath(rel) or (manifest_ok and rel == MANIFEST)) and _linked_parent(out, rel) is None


@dataclass(frozen=True)
class Drift:
    diagnostic: Diagnostic
    diff: str


def compare(out_dir: Path, target: str, version: str, artifacts: Sequence[Artifact],
            regen: str = "deployc build") -> list[Drift]:
    """What `deployc check` reports: each generated file that is missing, stale or edited by hand.

    ``regen`` is the command that rebuilds this output; hints quote it."""
    drifts: list[Drift] = []
    if (out_dir / JOURNAL).is_file():
        return [Drift(error("output-interrupted", f"a deployc build of {out_dir} was interrupted before it finished",
                            hint=f"run `{regen}`: it finishes the interrupted build first")
                      .at(str(out_dir / MANIFEST), None, None), "")]
    old = read_manifest(out_dir)

    def shown(p: str) -> str:
        return str(out_dir / p)

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
            fromfile=f"{printable(shown(art.path))} (committed)", tofile=f"{printable(shown(art.path))} (generated)"))
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
