"""Timestamps and values as stored by any client, turned into UTC datetimes and floats.

Columns that hold one kind of value (the usual case) convert in one vectorised call; only
columns mixing kinds fall back to a per-element pass. What cannot be converted becomes NaT or
NaN, so validation can count and show it instead of an exception hiding all but the first.
"""

import math
from datetime import datetime

import numpy as np
import pandas as pd

_DATETIME_KINDS = {"datetime64", "datetime", "date"}
_NUMBER_KINDS = {"integer", "floating", "mixed-integer-float", "decimal"}


def to_utc(raw: pd.Series) -> pd.Series:
    """BSON dates, ISO-8601 strings (with or without a zone; none means UTC) and epoch
    milliseconds, as UTC datetimes; NaT for anything else."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw.dt.tz_localize("UTC")
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind == "empty":
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if kind in _DATETIME_KINDS:
        return pd.to_datetime(raw, utc=True, errors="coerce")
    if kind in _NUMBER_KINDS and kind != "decimal":
        return _from_epoch_ms(pd.to_numeric(raw, errors="coerce"))
    if kind == "string":
        return _from_iso(raw)
    return _mixed_to_utc(raw)


def text_to_utc(text: pd.Series) -> pd.Series:
    """Timestamps read as text (a CSV column): digits are epoch milliseconds, the rest ISO-8601."""
    if not (pd.api.types.is_object_dtype(text) or pd.api.types.is_string_dtype(text)):
        return to_utc(text)
    text = text.astype(object)
    numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
    if numbers.notna().all():
        return _from_epoch_ms(numbers.astype(np.float64))
    if numbers.isna().all():
        return _from_iso(text.where(text != "", None))
    return to_utc(text.where(numbers.isna(), numbers))


def _from_iso(raw: pd.Series) -> pd.Series:
    return pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")


def _from_epoch_ms(milliseconds: pd.Series) -> pd.Series:
    finite = milliseconds.where(np.isfinite(milliseconds))
    return pd.to_datetime(finite, unit="ms", utc=True, errors="coerce")


def _mixed_to_utc(raw: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    kinds = raw.map(_kind)
    for kind, convert in (("str", _from_iso), ("number", _from_epoch_ms), ("datetime", _datetimes)):
        mask = kinds == kind
        if mask.any():
            subset = raw[mask]
            if kind == "number":
                subset = subset.astype(np.float64)
            out[mask] = convert(subset)
    return out


def _datetimes(raw: pd.Series) -> pd.Series:
    return pd.to_datetime(raw, utc=True, errors="coerce")


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool):
        return "other"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    return "other"


def to_float(raw: pd.Series) -> pd.Series:
    """Numbers as float64; NaN for anything that is not a number as stored (strings holding
    digits included: a value stored as text is a data problem worth reporting)."""
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "empty"):
        return raw.astype(np.float64)
    return raw.map(_number_or_nan).astype(np.float64)


def _number_or_nan(value: object) -> float:
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    to_decimal = getattr(value, "to_decimal", None)  # bson Decimal128
    if to_decimal is not None:
        return float(to_decimal())
    return math.nan
