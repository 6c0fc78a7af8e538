"""Package-front previews of a design scheme as SVG (the one place a scheme is drawn)."""

from preview.render import CANVAS, SILHOUETTES, font_stack, render_preview, render_svg

__all__ = ["CANVAS", "SILHOUETTES", "font_stack", "render_preview", "render_svg"]
