"""印模: the round red seal image (PNG), drawn with Pillow.

Outer ring, the organisation's name along the upper arc, a five-pointed star in the centre and
the seal type under it — the layout of an official seal. The Chinese font is found the same way
as for the PDF guides (``YIWANG_PDF_FONT``, then wqy-zenhei and other system fonts).
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase import pdfmetrics

from yiwang.catalog.pdf import font_name

RED = (215, 38, 30, 255)
SIZE = 480  # pixels; shown at 4 cm, this is 300 dpi


@lru_cache(maxsize=1)
def _font_source() -> tuple[str, int] | None:
    """The TrueType file the PDF guides use (same lookup), as (path, index in a .ttc)."""
    font = pdfmetrics.getFont(font_name())
    path = getattr(getattr(font, "face", None), "filename", None)
    if not isinstance(path, str):  # reportlab's built-in CID fallback: no file to give Pillow
        return None
    index = getattr(font.face, "subfontNameX", b"-0").decode().lstrip("-")
    return path, int(index) if index.isdigit() else 0


def _font(size: int):
    source = _font_source()
    if source is None:  # without a Chinese font the text would be boxes; still draw the seal
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(source[0], size, index=source[1])


def _star(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * math.sin(math.radians(18)) / math.sin(math.radians(126))
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.radians(-90 + i * 36)
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def render_seal(organization_name: str, seal_type: str, code: str = "") -> bytes:
    """The seal as a transparent PNG, ``SIZE`` pixels square."""
    scale = 2  # draw large, then shrink: smooth edges without antialiasing primitives
    size = SIZE * scale
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    centre = size / 2
    ring = 14 * scale
    outer_radius = size / 2 - 4 * scale
    draw.ellipse([centre - outer_radius, centre - outer_radius, centre + outer_radius, centre + outer_radius],
                 outline=RED, width=ring)
    draw.polygon(_star(centre, centre, size * 0.15), fill=RED)

    # The name along the upper arc, reading clockwise, over at most 240 degrees so that its ends
    # stay clear of the seal type; long names get smaller characters, none is dropped.
    name = organization_name.strip()[:40] or "—"
    text_radius = outer_radius - ring - 44 * scale
    count = len(name)
    span = min(240.0, 14.0 * count + 40) if count > 1 else 0.0
    step = text_radius * math.radians(span) / (count - 1) if count > 1 else 62 * scale
    char_size = int(min(62 * scale, step * 0.92))
    font = _font(char_size)
    for i, char in enumerate(name):
        angle = -90 - span / 2 + (span * i / (count - 1) if count > 1 else 0)
        tile = Image.new("RGBA", (char_size * 2, char_size * 2), (255, 255, 255, 0))
        ImageDraw.Draw(tile).text((char_size, char_size), char, font=font, fill=RED, anchor="mm")
        tile = tile.rotate(-(angle + 90), resample=Image.BICUBIC)
        x = centre + text_radius * math.cos(math.radians(angle))
        y = centre + text_radius * math.sin(math.radians(angle))
        image.alpha_composite(tile, (int(x - char_size), int(y - char_size)))

    type_font = _font(int(min(46, 300 / max(len(seal_type), 1)) * scale))
    draw.text((centre, centre + size * 0.27), seal_type, font=type_font, fill=RED, anchor="mm")
    if code:
        draw.text((centre, centre + size * 0.385), code[-13:], font=_font(18 * scale), fill=RED, anchor="mm")

    image = image.resize((SIZE, SIZE), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
