"""Files: atomic writes (a temporary file beside the target, then a rename), ``.npz``, strict JSON, and reading
embeddings."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from amf.errors import InputError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, suffix: str = ""):
    """Yield a temporary path in the target's folder; on success rename it onto ``path``, else delete it.

    ``suffix`` keeps writers that append an extension (``np.savez`` adds ``.npz``) from renaming the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


NPZ_LEVEL = 1
"""zlib level of `write_npz`: level 1 writes several times faster than numpy's level 6 for a slightly larger file
(measured at 10^7 edges: docs/performance.md)."""


def write_npz(path: str | os.PathLike, **arrays) -> None:
    """``np.savez_compressed(path, **arrays)`` at zlib level `NPZ_LEVEL`, atomically; `np.load` reads it back."""
    with atomic_write(path, suffix=".npz") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=NPZ_LEVEL) as archive:
            for name, value in arrays.items():
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def json_safe(obj):
    """``obj`` as strict JSON data: numpy scalars and arrays as Python numbers and lists, non-finite floats as
    None, tuples as lists, dict keys as strings."""
    if isinstance(obj, dict):
        return {str(key): json_safe(value) for key, value in obj.items()}
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [json_safe(value) for value in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def read_embeddings(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(f_images, f_texts)`` from an ``.npz`` file with those two keys (as ``amf solve`` writes; pickles
    refused), or `amf.errors.InputError` naming the problem."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"f_images", "f_texts"} - set(archive.files)
            if missing:
                raise InputError(f"embeddings file {path} lacks {', '.join(sorted(missing))} (it has "
                                 f"{', '.join(archive.files) or 'no arrays'})")
            return archive["f_images"], archive["f_texts"]
    except InputError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read embeddings file {path}: {first}") from None


OUTPUT_MARKER = ".amf-output"
"""File that marks a folder as written by amf (so a rerun may replace it)."""


def check_output_file(path: str | os.PathLike, *, inputs=()) -> Path:
    """Refuse, before any work, an output file that cannot be written: a folder, one of the ``inputs``, or a
    place whose nearest existing folder is not writable. Returns the path."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output {path} is a folder; name a file")
    if any(path.resolve() == Path(p).resolve() for p in inputs):
        raise InputError(f"output {path} is an input of this command; name another file")
    _check_writable(path.parent)
    return path


def check_output_folder(path: str | os.PathLike, *, force: bool = False) -> Path:
    """Refuse, before any work, an output folder that is a file, or an existing folder that amf did not write
    (it would be replaced; ``force`` allows it), or one under a folder that is not writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"output folder {path} is an existing file")
    if path.is_dir() and any(path.iterdir()) and not (path / OUTPUT_MARKER).exists() and not force:
        raise InputError(f"output folder {path} exists and was not written by amf; it would be replaced "
                         "(use --force, or another --out)")
    _check_writable(path.parent)
    return path


def _check_writable(folder: Path) -> None:
    existing = folder.resolve()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write under {existing}: not a writable folder")


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike):
    """Yield a temporary sibling folder; on success it replaces ``path`` whole (with `OUTPUT_MARKER` inside), on
    failure or interruption it is removed and ``path`` keeps what it had. Readers never see a half-written
    folder, and a rerun leaves nothing of the previous run's files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        (tmp / OUTPUT_MARKER).write_text("written by amf\n")
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
