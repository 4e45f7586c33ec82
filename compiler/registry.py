"""Target discovery through the ``deployc.targets`` entry-point group.

Built-in targets register exactly as a third-party plugin would (see
pyproject.toml). Names are known without importing anything; a target's
module is imported only when that target is asked for. A plugin that fails to
import, is not a Target, or reuses a name becomes a diagnostic, not a crash.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from deployc.compiler.diagnostics import Diagnostic, error
from deployc.compiler.api.target import Target

GROUP = "deployc.targets"


@dataclass
class Registry:
    points: dict[str, EntryPoint]
    problems: list[Diagnostic] = field(default_factory=list)
    _loaded: dict[str, Target[Any, Any]] = field(default_factory=dict)

    @classmethod
    def discover(cls) -> Registry:
        points: dict[str, EntryPoint] = {}
        problems: list[Diagnostic] = []
        for ep in sorted(entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
            if ep.name in points and points[ep.name].value != ep.value:
                problems.append(error(
                    "plugin-duplicate", f"target {ep.name!r} is registered twice: by {points[ep.name].value} "
                    f"and by {ep.value}", hint="uninstall one of the two plugin distributions"))
                continue
            points[ep.name] = ep
        return cls(points, problems)

    @property
    def names(self) -> list[str]:
        return sorted(self.points)

    def load(self, name: str) -> tuple[Target[Any, Any] | None, Diagnostic | None]:
        if name in self._loaded:
            return self._loaded[name], None
        ep = self.points.get(name)
        if ep is None:
            return None, None
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not take the CLI down
            return None, error("plugin-broken", f"target {name!r} ({ep.value}) failed to load: "
                               f"{type(exc).__name__}: {exc}", hint="reinstall or remove that plugin")
        if not (isinstance(cls, type) and issubclass(cls, Target)):
            return None, error("plugin-broken", f"target {name!r} ({ep.value}) is not a deployc Target class")
        if getattr(cls, "name", None) != name:
            return None, error("plugin-broken", f"entry point {name!r} loads a target named "
                               f"{getattr(cls, 'name', None)!r}", hint="the entry-point name must equal Target.name")
        target = cls()
        self._loaded[name] = target
        return target, None
