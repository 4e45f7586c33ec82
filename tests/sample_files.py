"""A syrupy extension whose snapshots are the committed sample files themselves.

`snapshot(name="phi-3-mini-t4/deploy/vllm/serve.sh", extension_class=SampleFile)` compares with, and
under `--snapshot-update` writes, samples/phi-3-mini-t4/deploy/vllm/serve.sh, byte for byte (no newline
translation). Written against syrupy 7.0.3's SingleFileSnapshotExtension.

syrupy finds unused snapshots only beside the test file that owns them (a snapshot's folder or stem must
be the test file's name, which a sample path is not), so this extension takes no part in its discovery:
tests/test_golden.py::test_no_stray_sample_outputs fails on, and under --snapshot-update deletes, any
file under samples/*/deploy/ that no build writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from syrupy.data import SnapshotCollections
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

if TYPE_CHECKING:
    from syrupy.location import PyTestLocation
    from syrupy.types import SerializableData, SerializedData, SnapshotIndex

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


class SampleFile(SingleFileSnapshotExtension):
    """The snapshot named N is the file samples/N; its one snapshot inside is named N as well."""

    _write_mode = WriteMode.TEXT
    file_extension = ""   # the name carries the file's own extension

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SAMPLES_DIR)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SAMPLES_DIR)

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return str(index)

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        if not isinstance(index, str) or not index or Path(index).is_absolute() or ".." in Path(index).parts:
            raise ValueError(f"a sample file is named by its path under samples/, not {index!r}")
        return str(SAMPLES_DIR / index)

    def discover_snapshots(self, *, test_location: PyTestLocation,
                           ignore_extensions: list[str] | None = None) -> SnapshotCollections:
        return SnapshotCollections()   # see the module docstring: test_golden owns stray detection

    def read_snapshot_data_from_location(self, *, snapshot_location: str, snapshot_name: str,
                                         session_id: str) -> SerializableData | None:
        try:
            return Path(snapshot_location).read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None

    @classmethod
    def write_snapshot(cls, *, snapshot_location: str,
                       snapshots: list[tuple[SerializedData, PyTestLocation, SnapshotIndex]],
                       name_order: dict[str, int] | None = None) -> None:
        # The base class warns when a snapshot's path does not name its test; a sample path never does.
        for data, _, _ in snapshots:
            if not isinstance(data, str):
                raise TypeError(f"a sample file is text, not {type(data).__name__}")
            path = Path(snapshot_location)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode("utf-8"))


def expected_warnings(sample: Path) -> list[str]:
    """The warning codes a sample may draw on purpose (samples/<sample>/expected-warnings.txt, one a line, for
    any of its targets): what deployc cannot know offline, or an engine default it reports, e.g. the
    config.json of a draft model no source here has."""
    path = sample / "expected-warnings.txt"
    return path.read_text(encoding="utf-8").split() if path.is_file() else []
