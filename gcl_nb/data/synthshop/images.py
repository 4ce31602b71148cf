"""PIL drawings of SynthShop products: a category silhouette filled with the colour and pattern.

Jitter per image (all from the product's own random stream): scale, rotation, offset, mirror, background tone,
colour shade, pattern phase/period and pixel noise. Shapes are drawn at 4x and downsampled (anti-aliasing).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from gcl_nb.data.synthshop.catalog import COLOURS

# Shapes in unit coordinates (x right, y down): ("poly", points) | ("ellipse", box) | ("rect", box)
# | ("arc", box, start_deg, end_deg, width).
SILHOUETTES = {
    "shirt": [("poly", [(.30, .15), (.42, .10), (.58, .10), (.70, .15), (.92, .32), (.82, .45), (.72, .38),
                        (.72, .90), (.28, .90), (.28, .38), (.18, .45), (.08, .32)])],
    "sweater": [("poly", [(.30, .12), (.70, .12), (.88, .30), (.95, .85), (.82, .87), (.74, .40), (.74, .90),
                          (.26, .90), (.26, .40), (.18, .87), (.05, .85), (.12, .30)])],
    "dress": [("poly", [(.40, .08), (.60, .08), (.64, .30), (.58, .45), (.85, .92), (.15, .92), (.42, .45),
                        (.36, .30)])],
    "skirt": [("poly", [(.35, .20), (.65, .20), (.85, .80), (.15, .80)])],
    "trousers": [("poly", [(.30, .08), (.70, .08), (.76, .92), (.56, .92), (.50, .35), (.44, .92), (.24, .92)])],
    "shorts": [("poly", [(.25, .25), (.75, .25), (.82, .70), (.56, .72), (.50, .50), (.44, .72), (.18, .70)])],
    "shoe": [("poly", [(.10, .45), (.30, .45), (.45, .60), (.85, .65), (.92, .78), (.90, .82), (.10, .82)])],
    "boot": [("poly", [(.25, .10), (.50, .10), (.52, .60), (.85, .68), (.90, .88), (.25, .88)])],
    "bag": [("poly", [(.15, .40), (.85, .40), (.90, .88), (.10, .88)]), ("arc", (.30, .15, .70, .65), 180, 360, .07)],
    "backpack": [("ellipse", (.25, .12, .75, .45)), ("rect", (.25, .28, .75, .90)), ("rect", (.33, .60, .67, .85))],
    "hat": [("ellipse", (.08, .58, .92, .78)), ("ellipse", (.28, .25, .72, .72))],
    "mug": [("rect", (.22, .25, .68, .85)), ("arc", (.56, .38, .88, .72), 270, 90, .07)],
    "vase": [("poly", [(.40, .10), (.60, .10), (.58, .25), (.76, .50), (.68, .88), (.32, .88), (.24, .50),
                       (.42, .25)])],
    "lamp": [("poly", [(.35, .10), (.65, .10), (.80, .45), (.20, .45)]), ("rect", (.47, .45, .53, .82)),
             ("ellipse", (.30, .80, .70, .92))],
}

SUPERSAMPLE = 4


def _transform(points, size, scale, angle, dx, dy, mirror):
    """Map unit points to pixels: mirror, scale about the centre, rotate by `angle`, shift."""
    p = np.asarray(points, dtype=float) - 0.5
    if mirror:
        p[:, 0] = -p[:, 0]
    c, s = np.cos(angle), np.sin(angle)
    p = p @ np.array([[c, s], [-s, c]]) * scale
    return [(float(x), float(y)) for x, y in (p + 0.5 + (dx, dy)) * size]


def _mask(category: str, size: int, rng: np.random.Generator) -> Image.Image:
    big = size * SUPERSAMPLE
    scale, angle = rng.uniform(0.72, 0.98), np.deg2rad(rng.uniform(-12, 12))
    dx, dy, mirror = rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), bool(rng.random() < 0.5)
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    for shape in SILHOUETTES[category]:
        kind = shape[0]
        if kind == "poly":
            draw.polygon(_transform(shape[1], big, scale, angle, dx, dy, mirror), fill=255)
        elif kind in ("ellipse", "rect"):
            x0, y0, x1, y1 = shape[1]
            if kind == "rect":
                draw.polygon(_transform([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], big, scale, angle, dx, dy,
                                        mirror), fill=255)
            else:
                t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
                pts = list(zip((x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(t), (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(t)))
                draw.polygon(_transform(pts, big, scale, angle, dx, dy, mirror), fill=255)
        else:  # arc: a thick polyline along the ellipse from start to end degrees
            (x0, y0, x1, y1), start, end, width = shape[1:]
            end = end if end > start else end + 360
            t = np.deg2rad(np.linspace(start, end, 24))
            pts = list(zip((x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(t), (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(t)))
            draw.line(_transform(pts, big, scale, angle, dx, dy, mirror), fill=255,
                      width=max(1, int(width * big * scale)), joint="curve")
    return mask.resize((size, size), Image.Resampling.LANCZOS)


def _texture(colour: str, pattern: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float array: the colour (with a small shade jitter) overlaid with the pattern."""
    base = np.clip(np.array(COLOURS[colour][0], float) + rng.normal(0, 8, 3), 0, 255)
    lum = base @ (0.299, 0.587, 0.114)
    ink = np.array((25.0, 25.0, 25.0)) if lum > 140 else np.array((235.0, 235.0, 235.0))
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    period = size / rng.uniform(4.5, 6.5)
    phase = rng.uniform(0, period)
    u, v = (xx + phase) / period, (yy + phase) / period
    if pattern == "striped":
        on = (v % 1.0) < 0.4
    elif pattern == "dotted":
        on = ((u % 1.0 - 0.5) ** 2 + (v % 1.0 - 0.5) ** 2) < 0.22 ** 2
    elif pattern == "checked":
        on = ((np.floor(u) + np.floor(v)) % 2) == 0
    elif pattern == "zigzag":
        on = ((v + np.abs((u % 1.0) - 0.5)) % 1.0) < 0.35
    else:
        on = np.zeros((size, size), bool)
    alpha = 0.6 if pattern == "checked" else 0.85
    tex = np.broadcast_to(base, (size, size, 3)).copy()
    tex[on] = (1 - alpha) * base + alpha * ink
    return tex


def draw_product(category: str, colour: str, pattern: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One RGB product image of `size` x `size` pixels."""
    mask = np.asarray(_mask(category, size, rng), dtype=float)[..., None] / 255.0
    tex = _texture(colour, pattern, size, rng)
    tone = rng.uniform(205, 250)
    background = np.clip(tone + rng.normal(0, 6, 3), 0, 255)
    shade = 1.0 - 0.18 * np.linspace(0, 1, size)[None, :, None] * rng.uniform(0, 1)  # soft light gradient
    img = mask * tex * shade + (1 - mask) * background
    img = img + rng.normal(0, rng.uniform(2, 9), img.shape)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def encode_jpeg(img: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=False, subsampling=0)
    return buf.getvalue()
