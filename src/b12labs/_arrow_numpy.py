"""Arrow arrays to numpy and back through their buffers, without importing pandas.

pyarrow imports pandas, when it is installed, on its first conversion between Python or
numpy objects and Arrow (``pa.array``, ``pa.scalar``, ``Array.to_numpy``, a Python scalar
given to a compute function): 0.13 s of start-up that ``b12labs score`` never needs. The
batch core's Arrow path converts through these functions instead (a test runs the command
line and checks that pandas stays unimported).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["arrow_of", "bools", "floats", "integers", "scalar", "strings", "with_nulls"]


def _validity(array: pa.Array) -> npt.NDArray[np.bool_] | None:
    """Which rows hold a value, or None when all do."""
    if array.null_count == 0:
        return None
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    start = array.offset
    return np.unpackbits(bits, bitorder="little")[start : start + len(array)].astype(bool)


def _single(array: Any) -> pa.Array:
    """A ChunkedArray as one Array (an Array as it is)."""
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def bools(array: Any, fill: bool = False) -> npt.NDArray[np.bool_]:
    """A boolean Arrow array as a new numpy array, ``fill`` where null."""
    array = _single(array)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=bool)
    bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    start = array.offset
    out = np.unpackbits(bits, bitorder="little")[start : start + n].astype(bool)
    valid = _validity(array)
    if valid is not None:
        out[~valid] = fill
    return out


def _values(array: Any, dtype: Any, fill: Any) -> npt.NDArray[Any]:
    array = _single(array)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=dtype)
    start = array.offset
    data = np.frombuffer(array.buffers()[1], dtype=dtype)[start : start + n]
    valid = _validity(array)
    if valid is None:
        return data  # a read-only view of the Arrow memory
    out = data.copy()
    out[~valid] = fill
    return out


def floats(array: Any) -> npt.NDArray[np.float64]:
    """A float64 Arrow array as numpy (NaN where null; a read-only view when no null)."""
    return _values(array, np.float64, np.nan)


def integers(array: Any, fill: int = -1) -> npt.NDArray[Any]:
    """An integer Arrow array as numpy of its own width (``fill`` where null)."""
    array = _single(array)
    return _values(array, array.type.to_pandas_dtype(), fill)


def arrow_of(values: npt.NDArray[Any], mask: npt.NDArray[np.bool_] | None = None) -> pa.Array:
    """A numpy array of booleans or numbers as an Arrow array (null where ``mask``)."""
    n = len(values)
    if values.dtype == np.bool_:
        kind: pa.DataType = pa.bool_()
        data = pa.py_buffer(np.packbits(values, bitorder="little"))
    else:
        kind = pa.from_numpy_dtype(values.dtype)
        data = pa.py_buffer(np.ascontiguousarray(values))
    validity = None
    if mask is not None and mask.any():
        validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    return pa.Array.from_buffers(kind, n, [validity, data])


def with_nulls(array: pa.Array, mask: npt.NDArray[np.bool_]) -> pa.Array:
    """``array`` (a flat array: numbers, text) with rows in ``mask`` null too; the values
    and offsets are shared, only a validity bitmap is new."""
    valid = ~mask
    present = _validity(array)
    if present is not None:
        valid &= present
    start = array.offset  # the bitmap is read from the array's first row, as its buffers
    bits = np.concatenate([np.zeros(start, dtype=bool), valid]) if start else valid
    validity = pa.py_buffer(np.packbits(bits, bitorder="little"))
    return pa.Array.from_buffers(
        array.type, len(array), [validity, *array.buffers()[1:]], offset=start
    )


def strings(texts: Sequence[str | None]) -> pa.Array:
    """Python texts (None: null) as an Arrow string array."""
    encoded = [b"" if text is None else text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    kind = pa.string() if offsets[-1] < 2**31 else pa.large_string()
    if kind == pa.string():
        offsets = offsets.astype(np.int32)
    missing = np.fromiter((text is None for text in texts), dtype=bool, count=len(encoded))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    data = pa.py_buffer(b"".join(encoded))
    return pa.Array.from_buffers(kind, len(encoded), [validity, pa.py_buffer(offsets), data])


@functools.lru_cache(maxsize=None, typed=True)  # typed: False, 0 and 0.0 are three scalars
def scalar(value: bool | int | float | str, kind: pa.DataType | None = None) -> pa.Scalar:
    """An Arrow scalar of ``value`` (of type ``kind``: bool, int64, float64 or string by
    default), for compute functions (a Python value there goes through ``pa.scalar``)."""
    if isinstance(value, str):
        return strings([value])[0]
    if isinstance(value, bool):
        return arrow_of(np.array([value]))[0]
    dtype = np.float64 if isinstance(value, float) else np.int64
    if kind is not None:
        dtype = kind.to_pandas_dtype()
    return arrow_of(np.array([value], dtype=dtype))[0]
