"""Errors the model raises, so callers can map them to a clear message (a 422, a failed flow)."""


class ForecastInputError(ValueError):
    """The values, windows or hyper-parameters given to the model cannot be used as they are."""


class ModelFormatError(ValueError):
    """A saved model is malformed, of an unknown format version, or holds non-finite numbers."""
