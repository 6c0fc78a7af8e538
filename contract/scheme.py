"""What the service answers: several distinct design schemes for one brief."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.colors import MIN_TEXT_CONTRAST  # one home (knowledge); the contract re-exports it
from knowledge.taxonomy import Harmony, LayoutElement, PackageFormat, PaletteRole, Style

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Finite(BaseModel):
    """Base of every answer model: NaN and infinities are rejected by the contract, whatever parsed them."""

    model_config = ConfigDict(allow_inf_nan=False)


class StyleScore(Finite):
    id: Style
    label: str
    score: Unit


class PaletteColor(Finite):
    hex: str = Field(pattern=r"^#[0-9a-f]{6}$")
    role: PaletteRole
    name: str


class Palette(Finite):
    id: str = Field(description="Library palette this scheme started from.")
    colors: list[PaletteColor] = Field(min_length=4, max_length=6)
    harmony: Harmony = Field(description="The colour harmony of the library palette `id`. The rationale names it "
                             "only where the scheme's colours, brand colours and colours put in included, still keep "
                             "it (a monochromatic or analogous palette whose colours now span too wide an arc of hue "
                             "is not called so).")
    text_contrast: float = Field(description="WCAG 2.1 contrast of text on background.")
    tuned_to: list[str] | None = Field(
        default=None, description="Present only where some of the palette's colours were moved (lightness and chroma "
        "first) to meet the brief's tones: the tones (and colour cues read as a palette quality, such as "
        "pastel_colours) they were tuned to. `id` is then the library palette they started from; the rationale names "
        "the roles moved.")

    @model_validator(mode="after")
    def _roles(self) -> Palette:
        roles = [c.role for c in self.colors]
        for single in (PaletteRole.background, PaletteRole.text):
            if roles.count(single) != 1:
                raise ValueError(f"palette needs exactly one {single.value} colour, has {roles.count(single)}")
        for needed in (PaletteRole.primary, PaletteRole.accent):
            if needed not in roles:
                raise ValueError(f"palette needs a {needed.value} colour")
        if self.text_contrast < MIN_TEXT_CONTRAST:
            raise ValueError(f"text/background contrast {self.text_contrast:.2f} < {MIN_TEXT_CONTRAST}")
        return self

    def color(self, role: PaletteRole) -> PaletteColor:
        return next(c for c in self.colors if c.role == role)


class FontChoice(Finite):
    family: str
    category: str
    weight: int = Field(ge=100, le=1000)


class Typography(Finite):
    pair_id: str
    heading: FontChoice
    body: FontChoice


Box = Annotated[list[Unit], Field(min_length=4, max_length=4, description="[x, y, w, h], origin top-left, 0-1")]


HeatmapEncoding = Literal["u8_base64", "grid"]
HEATMAP_LEVELS = 255  # u8_base64: a cell's value is byte / 255


class Layout(Finite):
    format: PackageFormat
    template_id: str | None = Field(default=None, description="Nearest layout template, for reference.")
    grid: Annotated[list[int], Field(min_length=2, max_length=2, description="[rows, cols]")]
    heatmap_encoding: HeatmapEncoding = Field(
        default="grid",
        description="How `heatmaps` is written. u8_base64 (the service's default answer): per element, base64 of "
                    "rows x cols bytes, row-major, value = byte / 255. grid (`?heatmaps=grid`): per element, "
                    "rows lists of cols numbers in 0-1, three decimals.",
    )
    heatmaps: dict[LayoutElement, list[list[Unit]] | str]
    boxes: dict[LayoutElement, Box]

    @model_validator(mode="after")
    def _shape(self) -> Layout:
        rows, cols = self.grid
        for element, heatmap in self.heatmaps.items():
            if self.heatmap_encoding == "u8_base64":
                if not isinstance(heatmap, str) or len(_decode_u8(heatmap, element)) != rows * cols:
                    raise ValueError(f"heatmap {element.value} is not base64 of {rows}x{cols} bytes")
            elif isinstance(heatmap, str) or len(heatmap) != rows or any(len(r) != cols for r in heatmap):
                raise ValueError(f"heatmap {element.value} is not {rows}x{cols}")
        for element, (x, y, w, h) in self.boxes.items():
            if x + w > 1.0 + 1e-6 or y + h > 1.0 + 1e-6:
                raise ValueError(f"box {element.value} leaves the panel")
        missing = set(LayoutElement) - set(self.boxes)
        if missing:
            raise ValueError(f"layout lacks boxes for {sorted(m.value for m in missing)}")
        return self

    def heatmap_grids(self) -> dict[LayoutElement, list[list[float]]]:
        """Every heatmap as rows of 0-1 values, whichever encoding arrived."""
        if self.heatmap_encoding == "grid":
            return dict(self.heatmaps)
        rows, cols = self.grid
        out = {}
        for element, encoded in self.heatmaps.items():
            cells = _decode_u8(encoded, element)
            out[element] = [[cells[r * cols + c] / HEATMAP_LEVELS for c in range(cols)] for r in range(rows)]
        return out


def _decode_u8(text: str, element: LayoutElement) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"heatmap {element.value} is not valid base64") from exc


class Scheme(Finite):
    style: StyleScore
    style_scores: list[StyleScore] = Field(min_length=1, max_length=5)
    palette: Palette
    typography: Typography
    layout: Layout
    score: float
    rationale: str
    unmet: list[str] | None = Field(
        default=None, description="Present only where this scheme misses something its brief named: the tones and "
        "colour cues (ids as in `palette.tuned_to`) whose palette or type rule it does not meet, after brand colours "
        "and every colour put in. Mostly tones no palette meets together (Morandi and neon), or a tone whose type the "
        "chosen font pair does not have; the rationale says so, and which (the colours, the type or both).")


class Timings(Finite):
    encode: float
    infer: float = Field(description="From the brief's encoding to its model outputs back: the model call, plus the "
                         "hop to the recommender and its batch wait where the model runs in another deployment.")
    model: float | None = Field(default=None, description="The model call alone (the whole coalesced batch it ran "
                                "in), where the model runs in another deployment: `infer` minus this is the hop.")
    post: float
    total: float


class Recommendation(Finite):
    model_config = ConfigDict(protected_namespaces=())  # allow_inf_nan=False comes from Finite

    request_id: str
    model_version: str
    backend: str = Field(description="Inference backend that served this answer: tensorrt | torch | onnxruntime.")
    timings_ms: Timings
    schemes: list[Scheme] = Field(min_length=1, max_length=8)
    learner_version: str | None = Field(
        default=None, description="Present only where the tenant's learned taste (feedback) re-ranked the schemes: "
                                  "the version of the learner artefact that did.")


class BriefError(BaseModel):
    field: str = Field(description="The brief's field that could not be used, e.g. reference_image.")
    message: str


class RejectedBrief(BaseModel):
    """A brief of a batch that passed the schema but could not be used (e.g. a reference image that does not
    decode): the same cause a single /v1/recommend answers with 422."""

    error: BriefError


class BatchRecommendation(Finite):
    answers: list[Recommendation | RejectedBrief] = Field(
        description="One per brief, in the order sent: the design directions, or why that brief was rejected.")
