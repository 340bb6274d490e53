"""Reading the released StackGAN pickles (CUB-200-2011, Oxford-102) without running anything they name.

A pickle is a program: ``pickle.load`` imports and calls whatever the file names, so a crafted
``filenames.pickle`` could run a command. The released files (written by Python 2) hold numpy arrays, lists of
strings and numbers only, so :func:`load_data_pickle` reads them with an unpickler that resolves exactly what those
need: numpy's array and scalar reconstruction (``ndarray``, ``dtype`` and the functions numpy's own pickles call)
and the plain builtins ``list``, ``tuple``, ``dict``, ``str``, ``bytes``, ``int``, ``float``, ``bool``
(``bytes`` and ``_codecs.encode`` only as pickles spell byte strings). Every other
global, whatever module it comes from, is refused before it is imported, with a one-line
:class:`~gan_lab.errors.DatasetError`; so is a truncated or malformed file.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from gan_lab.errors import DatasetError

_array = np.zeros(1, dtype=np.float32)
_RECONSTRUCT = _array.__reduce__()[0]  # numpy.(_)core.multiarray._reconstruct (protocols 0-4)
_FROMBUFFER = _array.__reduce_ex__(5)[0]  # numpy.(_)core.numeric._frombuffer (protocol 5)
_SCALAR = np.float32(0).__reduce__()[0]  # numpy.(_)core.multiarray.scalar (numpy scalars, e.g. np.int64)
_NUMPY = {
    "ndarray": np.ndarray,
    "dtype": np.dtype,
    "_reconstruct": _RECONSTRUCT,
    "_frombuffer": _FROMBUFFER,
    "scalar": _SCALAR,
}
_NUMPY_MODULES = {
    "numpy": ("ndarray", "dtype"),
    **{f"numpy.{core}.multiarray": ("_reconstruct", "scalar") for core in ("core", "_core")},
    **{f"numpy.{core}.numeric": ("_frombuffer",) for core in ("core", "_core")},
}
_BUILTINS = ("list", "tuple", "dict", "str", "int", "float", "bool")


def _bytes(*args: Any) -> bytes:
    """``bytes()`` / ``bytes(b"...")`` as protocol-2 pickles call it; ``bytes(<size>)`` (an allocation) refused."""
    if args and not isinstance(args[0], (bytes, bytearray, str)):
        raise pickle.UnpicklingError(f"bytes({type(args[0]).__name__}): not data")
    return bytes(*args)


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode(text, "latin1")``: how Python 3's protocol-2 pickles spell bytes (numpy's raw data)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r}: only latin1 text is data")
    return codecs.encode(text, "latin1")


# what each allowed (module, name) resolves to: objects taken from numpy and builtins here, nothing imported by name
ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, name): _NUMPY[name] for module, names in _NUMPY_MODULES.items() for name in names},
    **{("builtins", name): getattr(builtins, name) for name in _BUILTINS},
    ("builtins", "bytes"): _bytes,
    ("_codecs", "encode"): _latin1,
}


class RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


class DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`ALLOWED` (Python 2 names mapped as pickle does)."""

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names, as pickle maps them: __builtin__.unicode -> builtins.str, __builtin__.long -> builtins.int
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = ALLOWED.get((module, name))
        if found is None:
            raise RefusedGlobal(module, name)
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("a persistent id (not a plain data pickle)")


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def load_data_pickle(path: str | Path) -> Any:
    """The arrays, lists, strings and numbers pickled in ``path`` (Python 2 strings read as latin-1), or a
    one-line DatasetError: the file names anything else, or is truncated, or is not a pickle."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return DataUnpickler(io.BytesIO(data), encoding="latin1").load()
    except RefusedGlobal as err:
        raise DatasetError(
            f"refused to read {path}: it asks to import {err.module}.{err.name}, and the released StackGAN pickles "
            "hold only numpy arrays, lists, strings and numbers (nothing in it was run)"
        ) from None
    except MemoryError:
        raise DatasetError(
            f"{path} is not a pickle of the released StackGAN files (it asks for more memory than there is)"
        ) from None
    except Exception as err:  # truncated (EOFError), random bytes (UnpicklingError, ValueError, KeyError, ...)
        raise DatasetError(
            f"{path} is truncated or not a pickle of the released StackGAN files ({_one_line(err)})"
        ) from None
