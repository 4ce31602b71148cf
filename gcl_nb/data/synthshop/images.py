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
    "shirt": [
        (
            "poly",
            [
                (0.30, 0.15),
                (0.42, 0.10),
                (0.58, 0.10),
                (0.70, 0.15),
                (0.92, 0.32),
                (0.82, 0.45),
                (0.72, 0.38),
                (0.72, 0.90),
                (0.28, 0.90),
                (0.28, 0.38),
                (0.18, 0.45),
                (0.08, 0.32),
            ],
        )
    ],
    "sweater": [
        (
            "poly",
            [
                (0.30, 0.12),
                (0.70, 0.12),
                (0.88, 0.30),
                (0.95, 0.85),
                (0.82, 0.87),
                (0.74, 0.40),
                (0.74, 0.90),
                (0.26, 0.90),
                (0.26, 0.40),
                (0.18, 0.87),
                (0.05, 0.85),
                (0.12, 0.30),
            ],
        )
    ],
    "dress": [
        (
            "poly",
            [
                (0.40, 0.08),
                (0.60, 0.08),
                (0.64, 0.30),
                (0.58, 0.45),
                (0.85, 0.92),
                (0.15, 0.92),
                (0.42, 0.45),
                (0.36, 0.30),
            ],
        )
    ],
    "skirt": [("poly", [(0.35, 0.20), (0.65, 0.20), (0.85, 0.80), (0.15, 0.80)])],
    "trousers": [
        ("poly", [(0.30, 0.08), (0.70, 0.08), (0.76, 0.92), (0.56, 0.92), (0.50, 0.35), (0.44, 0.92), (0.24, 0.92)])
    ],
    "shorts": [
        ("poly", [(0.25, 0.25), (0.75, 0.25), (0.82, 0.70), (0.56, 0.72), (0.50, 0.50), (0.44, 0.72), (0.18, 0.70)])
    ],
    "shoe": [
        ("poly", [(0.10, 0.45), (0.30, 0.45), (0.45, 0.60), (0.85, 0.65), (0.92, 0.78), (0.90, 0.82), (0.10, 0.82)])
    ],
    "boot": [("poly", [(0.25, 0.10), (0.50, 0.10), (0.52, 0.60), (0.85, 0.68), (0.90, 0.88), (0.25, 0.88)])],
    "bag": [
        ("poly", [(0.15, 0.40), (0.85, 0.40), (0.90, 0.88), (0.10, 0.88)]),
        ("arc", (0.30, 0.15, 0.70, 0.65), 180, 360, 0.07),
    ],
    "backpack": [
        ("ellipse", (0.25, 0.12, 0.75, 0.45)),
        ("rect", (0.25, 0.28, 0.75, 0.90)),
        ("rect", (0.33, 0.60, 0.67, 0.85)),
    ],
    "hat": [("ellipse", (0.08, 0.58, 0.92, 0.78)), ("ellipse", (0.28, 0.25, 0.72, 0.72))],
    "mug": [("rect", (0.22, 0.25, 0.68, 0.85)), ("arc", (0.56, 0.38, 0.88, 0.72), 270, 90, 0.07)],
    "vase": [
        (
            "poly",
            [
                (0.40, 0.10),
                (0.60, 0.10),
                (0.58, 0.25),
                (0.76, 0.50),
                (0.68, 0.88),
                (0.32, 0.88),
                (0.24, 0.50),
                (0.42, 0.25),
            ],
        )
    ],
    "lamp": [
        ("poly", [(0.35, 0.10), (0.65, 0.10), (0.80, 0.45), (0.20, 0.45)]),
        ("rect", (0.47, 0.45, 0.53, 0.82)),
        ("ellipse", (0.30, 0.80, 0.70, 0.92)),
    ],
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
                draw.polygon(
                    _transform([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], big, scale, angle, dx, dy, mirror), fill=255
                )
            else:
                t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
                pts = list(zip((x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(t), (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(t)))
                draw.polygon(_transform(pts, big, scale, angle, dx, dy, mirror), fill=255)
        else:  # arc: a thick polyline along the ellipse from start to end degrees
            (x0, y0, x1, y1), start, end, width = shape[1:]
            end = end if end > start else end + 360
            t = np.deg2rad(np.linspace(start, end, 24))
            pts = list(zip((x0 + x1) / 2 + (x1 - x0) / 2 * np.cos(t), (y0 + y1) / 2 + (y1 - y0) / 2 * np.sin(t)))
            draw.line(
                _transform(pts, big, scale, angle, dx, dy, mirror),
                fill=255,
                width=max(1, int(width * big * scale)),
                joint="curve",
            )
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
        on = ((u % 1.0 - 0.5) ** 2 + (v % 1.0 - 0.5) ** 2) < 0.22**2
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
