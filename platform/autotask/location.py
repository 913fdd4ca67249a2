"""Where data and results live: a local path or a URI that pyarrow opens (s3://, gs://, hdfs://, file://).

Credentials and endpoints come from the filesystem's usual configuration (for S3: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY or an instance profile, AWS_ENDPOINT_URL for S3-compatible stores such as MinIO), or from the
URI's query (`s3://bucket/prefix?region=eu-west-1&endpoint_override=host:9000`), which is kept when joining.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from autotask.errors import ContractError


def is_uri(target: str | Path) -> bool:
    return "://" in str(target)


@dataclass(frozen=True)
class Location:
    """A file or folder on some filesystem; str() names it the way a user wrote it (without the query)."""

    filesystem: pafs.FileSystem
    path: str  # inside the filesystem: "bucket/prefix" for S3, an absolute path locally
    scheme: str = ""  # "" for the local filesystem
    query: str = ""

    @classmethod
    def of(cls, target: str | Path | Location) -> Location:
        if isinstance(target, Location):
            return target
        text = str(target)
        if not is_uri(text) or text.startswith("file://"):
            local = text.removeprefix("file://")
            return cls(pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(local)))
        try:
            filesystem, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ContractError(f"{text}: cannot open this location ({exc})") from exc
        scheme = text.split("://", 1)[0]
        query = text.split("?", 1)[1] if "?" in text else ""
        return cls(filesystem, path.rstrip("/"), scheme, query)

    @property
    def is_local(self) -> bool:
        return not self.scheme

    @property
    def uri(self) -> str:
        """What Location.of() turns back into this location (the query included)."""
        return str(self) + (f"?{self.query}" if self.query else "")

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        return replace(self, path=self.path.rstrip("/").rsplit("/", 1)[0])

    def __str__(self) -> str:
        return self.path if self.is_local else f"{self.scheme}://{self.path}"

    def __truediv__(self, name: str) -> Location:
        return replace(self, path=f"{self.path.rstrip('/')}/{name}")

    def _type(self) -> pafs.FileType:
        try:
            return self.filesystem.get_file_info(self.path).type
        except OSError as exc:
            raise ContractError(f"{self}: cannot reach this location ({exc})") from exc

    def is_file(self) -> bool:
        return self._type() == pafs.FileType.File

    def is_dir(self) -> bool:
        return self._type() == pafs.FileType.Directory

    def exists(self) -> bool:
        return self._type() != pafs.FileType.NotFound

    def read_text(self) -> str:
        with self.filesystem.open_input_stream(self.path) as stream:
            return stream.read().decode()

    def files(self, suffix: str) -> list[Location]:
        """Files under this folder ending in `suffix`, sorted, skipping hidden files and folders (.staging etc.)."""
        infos = self.filesystem.get_file_info(pafs.FileSelector(self.path, recursive=True))
        base = self.path.rstrip("/") + "/"
        found = []
        for info in infos:
            relative = info.path[len(base) :] if info.path.startswith(base) else info.path
            hidden = any(part.startswith(".") for part in relative.split("/"))
            if info.type == pafs.FileType.File and info.path.endswith(suffix) and not hidden:
                found.append(replace(self, path=info.path))
        return sorted(found, key=lambda loc: loc.path)


def check_reachable(target: str | Path | Location) -> Location:
    """Fail now, with the location named, when a storage location cannot be opened or listed (before Ray starts)."""
    location = Location.of(target)
    location.exists()
    return location


def copy_folder(source: str | Path, destination: Location, skip: tuple[str, ...] = ()) -> list[str]:
    """Copy a local folder's files (not those under the top-level names in `skip`) to `destination`."""
    source = Path(source)
    copied = []
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = file.relative_to(source)
        if relative.parts[0] in skip or any(part.startswith(".") for part in relative.parts):
            continue
        target = destination / relative.as_posix()
        destination.filesystem.create_dir(target.parent.path, recursive=True)
        pafs.copy_files(
            str(file),
            target.path,
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=destination.filesystem,
        )
        copied.append(relative.as_posix())
    return copied
