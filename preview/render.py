"""Draw one scheme on the front of its package as SVG.

The package silhouette (one per ``PackageFormat``) carries a rectangular front panel; the scheme's layout
boxes (0-1 of that panel, origin top-left) place the logo, product name, hero visual and claims in it.
Palette roles give the fills, the heading font sets the product name, the body font the claims. Built with
``xml.etree`` so any text is escaped. Elements carry ``data-element`` / ``data-role`` attributes so the page
(and its tests) can relate what is drawn to the scheme.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from contract.preview import PreviewRequest
from contract.scheme import Scheme
from knowledge.colors import contrast_ratio
from knowledge.layouts import boxes_overlap
from knowledge.taxonomy import LayoutElement, PackageFormat, PaletteRole

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
CANVAS = (400, 500)  # viewBox width, height

Rect = tuple[float, float, float, float]

# A generic family per Google Fonts category, so text still renders sensibly before/without the web font.
_GENERIC = {"serif": "serif", "sans-serif": "sans-serif", "display": "sans-serif",
            "handwriting": "cursive", "monospace": "monospace"}
_ZH_FALLBACK = {"serif": ["Noto Serif SC", "Songti SC", "SimSun"],
                "other": ["Noto Sans SC", "PingFang SC", "Microsoft YaHei"]}
# Fixed, distinct overlay hues per element (the overlay shows the model's attention, not the design).
HEATMAP_COLORS = {LayoutElement.logo: "#e6194b", LayoutElement.product_name: "#3cb44b",
                  LayoutElement.hero: "#4363d8", LayoutElement.claims: "#f58231"}
PLACEHOLDERS = {
    "en": {"product_name": "Product Name", "brand": "BRAND", "claims": ["Key benefit", "Net content"]},
    "zh": {"product_name": "产品名称", "brand": "品牌", "claims": ["核心卖点", "净含量"]},
}


@dataclass(frozen=True)
class Silhouette:
    """How one package format is drawn: outline parts (SVG tag, attributes, fill role) and the front panel."""

    parts: tuple[tuple[str, dict[str, str], str], ...]
    panel: Rect
    panel_radius: float = 0.0


def _points(*xy: float) -> str:
    return " ".join(f"{xy[i]:g},{xy[i + 1]:g}" for i in range(0, len(xy), 2))


# Fill roles: "background" is the package body colour; "primary"/"secondary" for caps, lids and sides;
# "glass" is a fixed translucent tint (a bottle shows its contents, not the brand palette).
SILHOUETTES: dict[PackageFormat, Silhouette] = {
    PackageFormat.box: Silhouette(parts=(
        ("polygon", {"points": _points(70, 90, 110, 55, 350, 55, 310, 90)}, "secondary"),
        ("polygon", {"points": _points(310, 90, 350, 55, 350, 415, 310, 450)}, "primary"),
        ("rect", {"x": "70", "y": "90", "width": "240", "height": "360"}, "background"),
    ), panel=(70, 90, 240, 360)),
    PackageFormat.can: Silhouette(parts=(
        ("ellipse", {"cx": "200", "cy": "452", "rx": "100", "ry": "16"}, "secondary"),
        ("rect", {"x": "100", "y": "62", "width": "200", "height": "390", "rx": "14"}, "background"),
        ("ellipse", {"cx": "200", "cy": "62", "rx": "100", "ry": "16"}, "secondary"),
        ("ellipse", {"cx": "200", "cy": "62", "rx": "84", "ry": "11"}, "primary"),
    ), panel=(100, 84, 200, 350)),
    PackageFormat.bottle_label: Silhouette(parts=(
        ("rect", {"x": "168", "y": "18", "width": "64", "height": "42", "rx": "6"}, "primary"),
        ("path", {"d": "M180 60 H220 V110 C220 140 290 150 290 200 V455 Q290 480 265 480 H135 "
                       "Q110 480 110 455 V200 C110 150 180 140 180 110 Z"}, "glass"),
    ), panel=(110, 220, 180, 210)),
    PackageFormat.pouch: Silhouette(parts=(
        ("path", {"d": "M80 40 H320 L330 430 Q330 470 290 470 H110 Q70 470 70 430 Z"}, "background"),
        ("rect", {"x": "80", "y": "40", "width": "240", "height": "22"}, "secondary"),
        ("circle", {"cx": "92", "cy": "51", "r": "4"}, "primary"),
    ), panel=(92, 90, 216, 340)),
    PackageFormat.jar: Silhouette(parts=(
        ("rect", {"x": "90", "y": "120", "width": "220", "height": "340", "rx": "40"}, "glass"),
        ("rect", {"x": "105", "y": "62", "width": "190", "height": "62", "rx": "10"}, "primary"),
    ), panel=(90, 190, 220, 200)),
    PackageFormat.tube: Silhouette(parts=(
        ("rect", {"x": "160", "y": "400", "width": "80", "height": "72", "rx": "8"}, "primary"),
        ("path", {"d": "M100 52 H300 L270 400 H130 Z"}, "background"),
        ("rect", {"x": "96", "y": "28", "width": "208", "height": "26", "rx": "3"}, "secondary"),
    ), panel=(126, 70, 148, 300)),
    PackageFormat.bag: Silhouette(parts=(
        ("path", {"d": "M80 50 " + " ".join(f"L{80 + 12 * i} {50 if i % 2 == 0 else 38}" for i in range(1, 21))
                       + " C330 200 330 310 320 460 "
                       + " ".join(f"L{320 - 12 * i} {460 if i % 2 == 0 else 472}" for i in range(1, 21))
                       + " C70 310 70 200 80 50 Z"}, "background"),
    ), panel=(95, 80, 210, 350)),
    PackageFormat.carton: Silhouette(parts=(
        ("rect", {"x": "110", "y": "52", "width": "180", "height": "20"}, "secondary"),
        ("polygon", {"points": _points(110, 140, 140, 72, 260, 72, 290, 140)}, "primary"),
        ("rect", {"x": "110", "y": "140", "width": "180", "height": "320"}, "background"),
    ), panel=(110, 140, 180, 320)),
}

GLASS = "#dfe8ec"


def font_stack(family: str, category: str, locale: str = "en") -> str:
    """CSS font-family list: the chosen family first, then CJK and generic fallbacks."""
    stack = [family]
    if locale == "zh":
        stack += _ZH_FALLBACK["serif" if category == "serif" else "other"]
    quoted = ["'" + name.replace("'", "") + "'" for name in dict.fromkeys(stack)]
    return ", ".join(quoted + [_GENERIC.get(category, "sans-serif")])


def _sub(parent: ET.Element, tag: str, **attrs: object) -> ET.Element:
    clean = {k.rstrip("_").replace("_", "-"): (f"{v:g}" if isinstance(v, float) else str(v))
             for k, v in attrs.items() if v is not None}
    return ET.SubElement(parent, f"{{{SVG_NS}}}{tag}", clean)


def _em_width(text: str) -> float:
    """Rough advance width in em: CJK glyphs are square, Latin ones average a bit over half an em."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.56 for ch in text)


def _fit_text(parent: ET.Element, text: str, box: Rect, size_cap: float, **attrs: object) -> ET.Element:
    """One centred line inside ``box``; squeezed to the box width (textLength) when it would overflow."""
    x, y, w, h = box
    size = max(6.0, min(size_cap, h * 0.7, w * 0.92 / max(_em_width(text), 1.0) * 1.0))
    element = _sub(parent, "text", x=round(x + w / 2, 2), y=round(y + h / 2, 2), font_size=round(size, 2),
                   text_anchor="middle", dominant_baseline="central", **attrs)
    if _em_width(text) * size > w * 0.92:
        element.set("textLength", f"{w * 0.92:.2f}")
        element.set("lengthAdjust", "spacingAndGlyphs")
    element.text = text
    return element


def render_svg(scheme: Scheme, package_format: PackageFormat | str | None = None, *, product_name: str | None = None,
               brand: str | None = None, claims: list[str] | None = None, locale: str = "en",
               heatmap: bool = False) -> str:
    """The scheme on the front of ``package_format`` (default: the scheme's layout format) as an SVG string."""
    fmt = PackageFormat(package_format or scheme.layout.format)
    shape = SILHOUETTES[fmt]
    words = PLACEHOLDERS["zh" if locale == "zh" else "en"]
    product_name = product_name or words["product_name"]
    brand = brand or words["brand"]
    claims = [c for c in (claims or words["claims"]) if c][:4]

    palette = {c.role: c.hex for c in scheme.palette.colors}
    bg, text, primary, accent = (palette[r] for r in (PaletteRole.background, PaletteRole.text,
                                                       PaletteRole.primary, PaletteRole.accent))
    secondary = palette.get(PaletteRole.secondary, primary)
    highlight = palette.get(PaletteRole.highlight, accent)
    fills = {"background": bg, "primary": primary, "secondary": secondary, "glass": GLASS}
    heading, body = scheme.typography.heading, scheme.typography.body

    width, height = CANVAS
    root = ET.Element(f"{{{SVG_NS}}}svg", {
        "viewBox": f"0 0 {width} {height}", "width": str(width), "height": str(height), "role": "img",
        "aria-label": f"{fmt.value} preview: {product_name}", "data-format": fmt.value,
        "data-palette": scheme.palette.id,
    })
    _sub(root, "title").text = f"{product_name} — {scheme.style.label} ({fmt.value})"
    defs = _sub(root, "defs")
    px, py, pw, ph = shape.panel
    clip_id = "panel-" + hashlib.sha1((fmt.value + scheme.model_dump_json()).encode()).hexdigest()[:12]
    clip = _sub(defs, "clipPath", id=clip_id)
    _sub(clip, "rect", x=px, y=py, width=pw, height=ph)

    package = _sub(root, "g", class_="package")
    for tag, attrs, role in shape.parts:
        # A palette without a secondary colour draws caps and lids in primary; the role says which was used.
        shown = "primary" if role == "secondary" and PaletteRole.secondary not in palette else role
        part = _sub(package, tag, fill=fills[role], stroke=text, stroke_opacity="0.35", stroke_width="2",
                    data_role=shown)
        for key, value in attrs.items():
            part.set(key, value)

    panel = _sub(root, "g", class_="panel", clip_path=f"url(#{clip_id})")
    _sub(panel, "rect", x=px, y=py, width=pw, height=ph, fill=bg, data_role="background", class_="panel-bg")

    boxes = {element: tuple(scheme.layout.boxes[element]) for element in LayoutElement}

    def place(element: LayoutElement) -> Rect:
        bx, by, bw, bh = boxes[element]
        return (round(px + bx * pw, 2), round(py + by * ph, 2), round(bw * pw, 2), round(bh * ph, 2))

    def box_group(element: LayoutElement) -> tuple[ET.Element, Rect]:
        rect = place(element)
        group = _sub(panel, "g", class_="box", data_element=element.value,
                     data_box=" ".join(f"{v:g}" for v in boxes[element]))
        return group, rect

    def ink_on(element: LayoutElement) -> str:
        # Text sitting on the hero (templates with hero_behind_text) takes whichever of text/background
        # reads better on the hero's primary colour; elsewhere the palette's measured text colour.
        if element != LayoutElement.hero and boxes_overlap(boxes[element], boxes[LayoutElement.hero]):
            return max((text, bg), key=lambda c: contrast_ratio(c, primary))
        return text

    # Hero first: text boxes may lie on top of it.
    group, (x, y, w, h) = box_group(LayoutElement.hero)
    _sub(group, "rect", x=x, y=y, width=w, height=h, rx=round(min(w, h) * 0.08, 2), fill=primary,
         data_role="primary", class_="hero")
    r = min(w, h) * 0.3
    _sub(group, "circle", cx=round(x + w * 0.62, 2), cy=round(y + h * 0.45, 2), r=round(r, 2), fill=highlight,
         data_role="highlight" if PaletteRole.highlight in palette else "accent")
    _sub(group, "circle", cx=round(x + w * 0.38, 2), cy=round(y + h * 0.6, 2), r=round(r * 0.6, 2),
         fill=secondary, fill_opacity="0.85",
         data_role="secondary" if PaletteRole.secondary in palette else "primary")

    group, (x, y, w, h) = box_group(LayoutElement.logo)
    _sub(group, "rect", x=x, y=y, width=w, height=h, rx=round(min(w, h) * 0.25, 2), fill="none",
         stroke=accent, stroke_width="2", data_role="accent", class_="logo-mark")
    _fit_text(group, brand, (x + 2, y + 2, w - 4, h - 4), 22, fill=ink_on(LayoutElement.logo),
              font_family=font_stack(heading.family, heading.category, locale), font_weight=heading.weight,
              class_="brand")

    group, (x, y, w, h) = box_group(LayoutElement.product_name)
    name = _fit_text(group, product_name, (x, y, w, h * 0.86), 64, fill=ink_on(LayoutElement.product_name),
                     font_family=font_stack(heading.family, heading.category, locale),
                     font_weight=heading.weight, class_="product-name", data_role="text")
    name.set("data-family", heading.family)
    _sub(group, "rect", x=round(x + w * 0.3, 2), y=round(y + h * 0.9, 2), width=round(w * 0.4, 2),
         height=round(max(h * 0.06, 1.5), 2), fill=accent, data_role="accent", class_="rule")

    group, (x, y, w, h) = box_group(LayoutElement.claims)
    line_h = h / max(len(claims), 1)
    for i, claim in enumerate(claims):
        line = _fit_text(group, claim, (x, y + i * line_h, w, line_h), 18, fill=ink_on(LayoutElement.claims),
                         font_family=font_stack(body.family, body.category, locale), font_weight=body.weight,
                         class_="claim", data_role="text")
        line.set("data-family", body.family)

    if heatmap:
        _heatmap_layer(root, scheme, shape.panel)
    return ET.tostring(root, encoding="unicode")


def _heatmap_layer(root: ET.Element, scheme: Scheme, panel: Rect) -> None:
    """The layout heatmaps as translucent cells over the panel, hidden until a viewer turns it on."""
    px, py, pw, ph = panel
    rows, cols = scheme.layout.grid
    cw, ch = pw / cols, ph / rows
    layer = _sub(root, "g", class_="heatmap", visibility="hidden", pointer_events="none")
    for element, grid in scheme.layout.heatmap_grids().items():
        group = _sub(layer, "g", data_element=element.value, fill=HEATMAP_COLORS[element])
        for r, row in enumerate(grid):
            for c, value in enumerate(row):
                if value >= 0.05:  # near-zero cells add bytes, not information
                    _sub(group, "rect", x=round(px + c * cw, 2), y=round(py + r * ch, 2), width=round(cw, 2),
                         height=round(ch, 2), fill_opacity=round(value * 0.55, 3))


def render_preview(request: PreviewRequest) -> str:
    """``render_svg`` for a ``POST /v1/preview`` body."""
    return render_svg(request.scheme, request.package_format, product_name=request.product_name,
                      brand=request.brand, claims=request.claims, locale=request.locale.value,
                      heatmap=request.heatmap)
