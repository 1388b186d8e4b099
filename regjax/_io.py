"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import IO, Any


def _create_beside(path: str) -> tuple[int, str]:
    """Creates a new, uniquely named file beside ``path``; returns (fd, its path).

    Created with mode 0666 so the kernel applies the process's umask, as for any other
    new file. (``tempfile.mkstemp`` creates 0600; reading the umask to chmod afterwards
    means setting it, which races with other threads creating files.)
    """
    directory, name = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".tmp-{secrets.token_hex(8)}-{name}")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[IO[Any]], None], *, text: bool = False
) -> None:
    """Writes through ``write(file)`` into a temporary file beside ``path``, then renames."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "w" if text else "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
