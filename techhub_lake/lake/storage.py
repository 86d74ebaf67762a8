"""Files in the lake, on local disk or S3 (MinIO) through the same pyarrow filesystem calls.

Writes are atomic: a file is written under a hidden temporary name in its final directory and
published with one move (a rename locally, a server-side copy on S3), so readers see the previous
good file or the new one, never a partial one. A temporary name starts with "." and does not end
in ".parquet", so neither Hive-style readers nor ``*.parquet`` globs ever pick it up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import posixpath
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from techhub_lake.faults import fault_point
from techhub_lake.messages import UserError

TEMPORARY_MARK = ".tmp-"


def temporary_name(name: str) -> str:
    """The hidden name a file is written under before it is published: ``.<name>.tmp-<uuid>~<host>~<pid>``.
    Readers skip it; the writer's host and pid let the next write of the table tell a killed
    write's debris from a live one (``lake.maintenance.remove_debris``)."""
    return f".{name}{TEMPORARY_MARK}{uuid.uuid4().hex}~{socket.gethostname()}~{os.getpid()}"


@dataclass(frozen=True)
class S3Access:
    """How to reach an S3-compatible endpoint; values come from the environment via Dagster resources."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True)
class FileStat:
    """A published file's size and modification time."""

    size: int
    mtime: dt.datetime


class LakeFiles:
    """The lake root as a pyarrow filesystem plus a base path inside it."""

    def __init__(self, root: str, s3: S3Access | None = None) -> None:
        self._made_dirs: set[str] = set()
        self._s3 = s3 or S3Access()
        scheme = urlparse(root.strip()).scheme.lower()
        if scheme in ("s3", "s3a"):  # judged before the slashes are trimmed: "s3://" is no local folder
            parsed = urlparse(root.strip())
            if not parsed.netloc:
                raise UserError(f"lake root {root!r} has no bucket: set TECHHUB_LAKE_ROOT to s3://bucket[/prefix]")
            self.root = f"s3://{parsed.netloc}{parsed.path}".rstrip("/")
            self.base = f"{parsed.netloc}{parsed.path}".rstrip("/")
            endpoint = self._s3.endpoint_url
            scheme = urlparse(endpoint).scheme if endpoint else "https"
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                endpoint_override=endpoint,
                scheme=scheme or "https",
                region=self._s3.region or "us-east-1",
                access_key=self._s3.access_key_id,
                secret_key=self._s3.secret_access_key,
                allow_bucket_creation=False,
            )
        elif "://" in root and not root.startswith("file://"):
            raise UserError(f"lake root {root!r}: only a local directory or s3://bucket[/prefix] is supported "
                             "(set TECHHUB_LAKE_ROOT)")
        else:
            self.root = root.rstrip("/") or "/"
            local = Path(self.root.removeprefix("file://")).expanduser().resolve()
            self.base = local.as_posix()
            self.fs = pafs.LocalFileSystem()

    @property
    def is_s3(self) -> bool:
        return isinstance(self.fs, pafs.S3FileSystem)

    def path(self, relative: str) -> str:
        """The path of ``relative`` inside the filesystem (what pyarrow calls take)."""
        return posixpath.join(self.base, relative.strip("/"))

    def uri(self, relative: str) -> str:
        """A URI a person or another tool can use: ``s3://bucket/...`` or an absolute local path."""
        return f"s3://{self.path(relative)}" if self.is_s3 else self.path(relative)

    def storage_options(self) -> dict[str, str]:
        """The same location's settings for delta-rs (deltalake), which does not use pyarrow's filesystem."""
        if not self.is_s3:
            return {}
        options = {"AWS_REGION": self._s3.region or "us-east-1", "conditional_put": "etag"}
        if self._s3.endpoint_url:
            options["AWS_ENDPOINT_URL"] = self._s3.endpoint_url
            if self._s3.endpoint_url.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        if self._s3.access_key_id:
            options["AWS_ACCESS_KEY_ID"] = self._s3.access_key_id
        if self._s3.secret_access_key:
            options["AWS_SECRET_ACCESS_KEY"] = self._s3.secret_access_key
        return options

    def object_store_options(self) -> dict[str, str]:
        """The location's settings for readers built on Rust's object_store (polars); the same
        keys as delta-rs takes, without delta-rs's own (``conditional_put``)."""
        return {k: v for k, v in self.storage_options().items() if k != "conditional_put"}

    def file_stats(self, relative_dir: str) -> dict[str, FileStat]:
        """Published files under a directory (recursively), relative to the lake root, with their
        sizes and modification times: one listing (one LIST on S3), not a request per file."""
        selector = pafs.FileSelector(self.path(relative_dir), recursive=True, allow_not_found=True)
        prefix = self.base + "/"
        return {info.path.removeprefix(prefix): FileStat(info.size, info.mtime) for info in self.fs.get_file_info(selector)
                if info.type == pafs.FileType.File and not posixpath.basename(info.path).startswith(".")}

    def exists(self, relative: str) -> bool:
        return self.fs.get_file_info(self.path(relative)).type == pafs.FileType.File

    def list_files(self, relative_dir: str) -> list[str]:
        """Published files under a directory (recursively), relative to the lake root, sorted."""
        selector = pafs.FileSelector(self.path(relative_dir), recursive=True, allow_not_found=True)
        prefix = self.base + "/"
        return sorted(
            info.path.removeprefix(prefix)
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and not posixpath.basename(info.path).startswith(".")
        )

    def delete(self, relative: str) -> bool:
        """Remove a published file (one atomic step); False if there was none."""
        if not self.exists(relative):
            return False
        self.fs.delete_file(self.path(relative))
        return True

    def delete_dir(self, relative: str) -> bool:
        """Remove a directory and everything under it (a table being rebuilt); a Delta table's log
        goes first, so an interrupted removal never leaves a log pointing at missing files."""
        if self.fs.get_file_info(self.path(relative)).type != pafs.FileType.Directory:
            return False
        log = posixpath.join(self.path(relative), "_delta_log")
        if self.fs.get_file_info(log).type == pafs.FileType.Directory:
            self.fs.delete_dir(log)
        self.fs.delete_dir(self.path(relative))
        return True

    @contextlib.contextmanager
    def atomic_writer(self, relative: str) -> Iterator[pafs.NativeFile]:
        """Yield a stream for ``relative``; the file appears under its name only if the block succeeds."""
        final = self.path(relative)
        directory, name = posixpath.split(final)
        temporary = posixpath.join(directory, temporary_name(name))
        if not self.is_s3 and directory not in self._made_dirs:
            self.fs.create_dir(directory, recursive=True)
            self._made_dirs.add(directory)
        stream = self.fs.open_output_stream(temporary)
        try:
            yield stream
            stream.close()
            fault_point("lake.publish")  # written in full, not yet under its name
            self.fs.move(temporary, final)
        except BaseException:
            with contextlib.suppress(Exception):
                stream.close()
            with contextlib.suppress(Exception):
                self.fs.delete_file(temporary)
            raise
