"""Atomic file output: a failed write never leaves a truncated file where a good one was.

Every writer of the package (figures, HTML, JSON, tables, checkpoints, CLI ``--out``) goes through
:func:`atomic_write`: the bytes go to a temporary file in the destination's own directory, are flushed and
synced, and only then replace the destination with :func:`os.replace` (atomic on POSIX and Windows within one
file system). On any exception the temporary file is removed and the old destination is left untouched.

Examples
--------
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_write(target, "w") as fh:
...     _ = fh.write("hello")
>>> target.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["OutputPathError", "atomic_write", "check_output_path"]


class OutputPathError(OSError):
    """An output path that cannot be written: a directory, a missing parent folder, no permission."""


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` after checking it can be written as a file.

    Raises
    ------
    OutputPathError
        If ``path`` is an existing directory, its parent folder does not exist or is not a folder, or the
        parent is not writable. The message names the path.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(
            f"output path {str(p)!r} is a directory; give a file name such as {str(p / 'out')!r}"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputPathError(f"cannot write {str(p)!r}: folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {str(p)!r}: {str(parent)!r} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {str(p)!r}: folder {str(parent)!r} is not writable")
    return p


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: Literal["w", "wb"] = "wb", **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; replace ``path`` with it on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file. Its folder must exist.
    mode : {"wb", "w"}
        Binary (default) or text mode.
    **open_kwargs
        Passed to :func:`open` (e.g. ``encoding="utf-8"``, ``newline=""``).

    Yields
    ------
    file object
        Write to it; it is flushed, synced and closed before the replacement.

    Raises
    ------
    OutputPathError
        If ``path`` cannot be written (see :func:`check_output_path`). On any error while writing the
        temporary file is removed and ``path`` keeps its previous content.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode: got {mode!r}; allowed are 'w' and 'wb'")
    p = check_output_path(path)
    if mode == "w" and "encoding" not in open_kwargs:
        open_kwargs["encoding"] = "utf-8"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            # mkstemp creates 0600; give the file the permissions an ordinary open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
