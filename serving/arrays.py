"""Binary bodies for clients that hold arrays: NumPy's `.npy` format, in and out of /predict/batch.

`.npy` is what `numpy.save` writes and what any numpy, pandas or polars user produces in one
line; its small header carries dtype and shape, so a batch of ten thousand windows is one copy
of their bytes instead of a quarter of a million JSON numbers parsed and printed."""

import io

import numpy as np

from core.errors import InvalidInput

NPY = "application/x-npy"


def is_npy(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == NPY


def read_windows(body: bytes, window_size: int) -> np.ndarray:
    """The windows of a `.npy` body: 2-D, `window_size` columns, numbers (any width, as float64)."""
    expected = f"send numpy.save of a float64 array of shape (windows, {window_size})"
    try:
        array = np.lib.format.read_array(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever the bytes are, the answer is a 422
        raise InvalidInput(f"the body is not a .npy array ({str(exc)[:200]}); {expected}") from None
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"the .npy array holds {array.dtype}, not numbers; {expected}")
    if array.ndim != 2 or array.shape[1] != window_size:
        raise InvalidInput(f"the .npy array has shape {array.shape}; {expected}")
    return array.astype(np.float64, copy=False)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()
