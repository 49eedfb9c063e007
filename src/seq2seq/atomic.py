"""Crash-safe file writes: a temporary file in the same folder, flushed, then renamed.

A run folder must hold complete files at every instant, whatever kills the
process: each file is written under a temporary name that starts with
`TEMP_PREFIX` in the destination's own folder (so the rename never crosses file
systems), flushed to disk with `fsync`, and renamed over the destination, which
POSIX makes atomic. A crash leaves at most a stray temporary file, never a
truncated destination; `remove_temporary_files` clears the strays.

Example:

>>> from seq2seq.atomic import atomic_path, write_text
>>> write_text("notes.txt", "hello\\n")  # doctest: +SKIP
>>> with atomic_path("model.keras") as temporary:  # doctest: +SKIP
...     model.save(temporary)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def _file_mode() -> int:
    """The mode `open` gives a new file under the process's umask (`mkstemp` gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        if directory:  # Some file systems do not open folders; the rename still happened.
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renames it over `path` when the block succeeds.

    The temporary name ends with `path`'s own name, so writers that look at the
    suffix (`model.save` wants `.keras`, `savefig` reads `.png`) behave as for
    `path`. If the block raises, the temporary file is removed and `path` is left
    as it was.

    Args:
        path: The destination file. Its folder must exist.

    Yields:
        The temporary file's path (an empty file already exists there).

    Raises:
        OSError: The folder is not writable or the disk is full; `path` is unchanged.
    """
    path = Path(path)
    descriptor, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=f"-{path.name}", dir=path.parent)
    os.close(descriptor)
    temporary = Path(name)
    os.chmod(temporary, FILE_MODE)
    try:
        yield temporary
        _fsync_path(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_path(path.parent, directory=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` atomically (see `atomic_path`); returns `path`."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes `text` as UTF-8 to `path` atomically (see `atomic_path`); returns `path`."""
    return write_bytes(path, text.encode("utf-8"))


def remove_temporary_files(folder: str | os.PathLike) -> list[Path]:
    """Deletes the temporary files a killed writer left in `folder`; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = sorted(folder.glob(f"{TEMP_PREFIX}*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
