"""What the service answers: several distinct design schemes for one brief."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.taxonomy import Harmony, LayoutElement, PackageFormat, PaletteRole, Style

MIN_TEXT_CONTRAST = 4.5  # WCAG 2.1 AA for body text

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
    harmony: Harmony
    text_contrast: float = Field(description="WCAG 2.1 contrast of text on background.")

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


class Layout(Finite):
    format: PackageFormat
    template_id: str | None = Field(default=None, description="Nearest layout template, for reference.")
    grid: Annotated[list[int], Field(min_length=2, max_length=2, description="[rows, cols]")]
    heatmaps: dict[LayoutElement, list[list[Unit]]]
    boxes: dict[LayoutElement, Box]

    @model_validator(mode="after")
    def _shape(self) -> Layout:
        rows, cols = self.grid
        for element, heatmap in self.heatmaps.items():
            if len(heatmap) != rows or any(len(r) != cols for r in heatmap):
                raise ValueError(f"heatmap {element.value} is not {rows}x{cols}")
        for element, (x, y, w, h) in self.boxes.items():
            if x + w > 1.0 + 1e-6 or y + h > 1.0 + 1e-6:
                raise ValueError(f"box {element.value} leaves the panel")
        missing = set(LayoutElement) - set(self.boxes)
        if missing:
            raise ValueError(f"layout lacks boxes for {sorted(m.value for m in missing)}")
        return self


class Scheme(Finite):
    style: StyleScore
    style_scores: list[StyleScore] = Field(min_length=1, max_length=5)
    palette: Palette
    typography: Typography
    layout: Layout
    score: float
    rationale: str


class Timings(Finite):
    encode: float
    infer: float
    post: float
    total: float


class Recommendation(Finite):
    model_config = ConfigDict(protected_namespaces=())  # allow_inf_nan=False comes from Finite

    request_id: str
    model_version: str
    backend: str = Field(description="Inference backend that served this answer: tensorrt | torch | onnxruntime.")
    timings_ms: Timings
    schemes: list[Scheme] = Field(min_length=1, max_length=8)
