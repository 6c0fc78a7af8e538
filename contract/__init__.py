"""The public brief/scheme contract (pydantic v2), shared by the HTTP API, handles and the model."""

from contract.brief import Brief, Feedback, FeedbackAction, HexColor
from contract.scheme import (
    FontChoice,
    Layout,
    Palette,
    PaletteColor,
    Recommendation,
    Scheme,
    StyleScore,
    Timings,
    Typography,
)

__all__ = [
    "Brief",
    "Feedback",
    "FeedbackAction",
    "FontChoice",
    "HexColor",
    "Layout",
    "Palette",
    "PaletteColor",
    "Recommendation",
    "Scheme",
    "StyleScore",
    "Timings",
    "Typography",
]
