"""Reading and atomically writing files at local paths or pyarrow-filesystem URIs (s3://, gs://, file://)."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs


def is_uri(location: str) -> bool:
    return "://" in location


def absolute(location: str) -> str:
    """A local path made absolute (so Ray workers in other folders find it); URIs unchanged."""
    return location if is_uri(location) else os.path.abspath(os.path.expanduser(location))


def resolve(location: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for a local path or a URI."""
    if is_uri(location):
        return pafs.FileSystem.from_uri(location)
    return pafs.LocalFileSystem(), absolute(location)


def join(location: str, *parts: str) -> str:
    if is_uri(location):
        return "/".join([location.rstrip("/"), *parts])
    return str(Path(os.path.expanduser(location)).joinpath(*parts))


def exists(location: str) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def is_file(location: str) -> bool:
    fs, path = resolve(location)
    return fs.get_file_info(path).type == pafs.FileType.File


def list_files(location: str) -> list[str]:
    """Base names of the files directly inside a folder; [] when it does not exist."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=False))
    return sorted(info.base_name for info in infos if info.type == pafs.FileType.File)


def delete(location: str) -> None:
    """Removes a file; nothing happens when it is not there."""
    fs, path = resolve(location)
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)


def read_bytes(location: str) -> bytes:
    fs, path = resolve(location)
    with fs.open_input_stream(path) as stream:
        return stream.read()


def read_text(location: str) -> str:
    return read_bytes(location).decode("utf-8")


def load_npy(location: str) -> np.ndarray:
    """Loads a .npy array without unpickling (object arrays are refused)."""
    return np.load(io.BytesIO(read_bytes(location)), allow_pickle=False)


_TEMPORARY = re.compile(r"^\..+\.tmp-[0-9a-f]{32}$")  # what temporary_sibling names


def temporary_sibling(location: str) -> str:
    """A hidden, unique name beside `location` to write to before renaming (`DIR/.NAME.tmp-HEX`): readers that
    list `*.mp4` or `*.json` never see it, and remove_leftover_temporaries can tell it from every other file."""
    parent, _, name = location.rstrip("/").rpartition("/")
    return f"{parent}/.{name}.tmp-{uuid.uuid4().hex}"


def remove_leftover_temporaries(folder: str, modified_before: float) -> list[str]:
    """Deletes the temporary files under `folder` (any depth) last modified before `modified_before` (epoch
    seconds): what writers killed mid-write (a SIGKILLed Ray worker) left. Newer ones may belong to a writer that
    is still running and are kept. Returns the deleted locations."""
    fs, path = resolve(folder)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    removed = []
    for info in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
        if (
            info.type == pafs.FileType.File
            and _TEMPORARY.match(info.base_name)
            and info.mtime is not None
            and info.mtime.timestamp() < modified_before
        ):
            fs.delete_file(info.path)
            removed.append(info.path if not is_uri(folder) else join(folder, info.path[len(path) :].lstrip("/")))
    return sorted(removed)


def write_file_atomic(path: str | Path, write: Callable[[Path], None]) -> None:
    """A local file written by `write` (given a temporary name beside `path`, e.g. torch.save's), then renamed to
    `path`, so readers never see a partial file."""
    temporary = Path(temporary_sibling(str(path)))
    write(temporary)
    os.replace(temporary, path)


def write_bytes_atomic(location: str, data: bytes) -> None:
    """Writes to a temporary name beside the target (a local path or URI), then renames, so readers never see a
    partial file."""
    if not is_uri(location):
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(location, lambda temporary: temporary.write_bytes(data))
        return
    fs, path = resolve(location)
    parent = path.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    temporary = temporary_sibling(path)
    with fs.open_output_stream(temporary) as stream:
        stream.write(data)
    fs.move(temporary, path)


class StorageError(OSError):
    """A place a job writes to (named by its config key) cannot be written; retrying the same write will not help."""


def check_writable(location: str, key: str) -> None:
    """Creates the folder and writes and deletes a probe file in it, so that a job whose output place cannot be
    written fails before it writes there, naming the config key, the place and the operation."""
    fs, path = resolve(location)
    probe = f"{path.rstrip('/')}/.lavimo-write-probe-{uuid.uuid4().hex}"
    operation = "create the folder"
    try:
        fs.create_dir(path, recursive=True)
        operation = "write a file in it"
        with fs.open_output_stream(probe) as stream:
            stream.write(b"probe")
        operation = "delete a file in it"
        fs.delete_file(probe)
    except OSError as error:
        raise StorageError(f"{key} {location}: cannot {operation} ({error})") from None
