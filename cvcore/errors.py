"""Typed exceptions raised by cvcore.

Every error a user can cause (a bad model name, missing weights, an unreadable image)
has its own class so that the dashboard can show a clear message instead of a
traceback, and so that callers can catch exactly what they expect.
"""

from __future__ import annotations


class CvlensError(Exception):
    """Base class of every error cvcore raises on purpose."""


class UnknownModelError(CvlensError, ValueError):
    """A model name that is not in the catalogue."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown model {name!r}.{hint} Run `python -m cvcore models` for the full list.")


class DuplicateModelError(CvlensError, ValueError):
    """Two registrations under one name."""


class WeightsMissingError(CvlensError, FileNotFoundError):
    """Trained weights are not on this machine; the message says how to get them."""


class WeightsIntegrityError(CvlensError, ValueError):
    """A weights file whose name or hash is not what torchvision expects."""


class ImageDecodeError(CvlensError, ValueError):
    """An upload that is not an image cvlens accepts; the message is meant for the user."""


class InvalidInputError(CvlensError, ValueError):
    """An argument out of its allowed range (input size, target class, ...)."""


class AnalysisError(CvlensError, RuntimeError):
    """A model that could not be traced or measured."""


class WeightsDownloadError(CvlensError, ConnectionError):
    """A weights download that could not start or finish (offline, server unreachable)."""


class WeightsDamagedError(WeightsIntegrityError):
    """A checkpoint on this machine that cannot be the one torchvision published (cut short, altered); the message names it and how to replace it."""
