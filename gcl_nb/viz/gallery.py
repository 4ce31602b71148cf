"""Self-contained HTML thumbnail galleries: images are inlined as base64 data URIs, so exported HTML
needs no files and no network."""

from __future__ import annotations

import base64
import html
import io
from typing import Callable, Iterable, Sequence

import pandas as pd
from PIL import Image

from gcl_nb.data.schema import DataError

ImageLoader = Callable[[str], Image.Image]

_CELL_STYLE = "display:inline-block;vertical-align:top;margin:4px;width:{w}px;font:11px sans-serif"


def image_data_uri(image: Image.Image, size: int = 96) -> str:
    """Thumbnail of `image` (longest side `size` px) as a `data:image/png;base64,...` URI."""
    thumb = image.convert("RGB")
    thumb.thumbnail((size, size))
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_img(product_id: str, load_image: ImageLoader | None, size: int = 96) -> str:
    """`<img>` tag for one product, or an empty placeholder box when no loader is given or the product has no
    image (the loader raises a DataError: a product of a catalogue without image, or one skipped at load)."""
    box = f'<div style="width:{size}px;height:{size}px;background:#eee;font:10px sans-serif">{{}}</div>'
    if load_image is None:
        return box.format("")
    try:
        image = load_image(str(product_id))
    except DataError:
        return box.format("no image")
    uri = image_data_uri(image, size)
    pid = html.escape(str(product_id))
    return f'<img src="{uri}" width="{size}" alt="{pid}" title="product {pid}">'


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return html.escape(str(value))


def gallery_html(
    items: pd.DataFrame,
    load_image: ImageLoader | None,
    caption: Sequence[str] = ("title",),
    size: int = 96,
    title: str | None = None,
) -> str:
    """HTML gallery: one tile per row of `items` (needs `product_id`), thumbnail + caption columns."""
    if "product_id" not in items.columns:
        raise ValueError(f"gallery_html: items need a 'product_id' column, got {list(items.columns)}")
    missing = [c for c in caption if c not in items.columns]
    if missing:
        raise ValueError(f"gallery_html: caption columns {missing} not in items {list(items.columns)}")
    tiles = []
    for row in items.itertuples(index=False):
        rec = row._asdict()
        lines = "".join(
            f"<div><b>{html.escape(c)}</b>: {_format(rec[c])}</div>"
            if c != "title"
            else f"<div>{_format(rec[c])}</div>"
            for c in caption
        )
        tiles.append(
            f'<div style="{_CELL_STYLE.format(w=size + 8)}">'
            f"{thumbnail_img(rec['product_id'], load_image, size)}{lines}</div>"
        )
    header = f"<h4>{html.escape(title)}</h4>" if title else ""
    return f'<div class="gcl-gallery">{header}{"".join(tiles)}</div>'


def table_html(
    table: pd.DataFrame,
    load_image: ImageLoader | None,
    size: int = 64,
    title: str | None = None,
    show_ids: bool = False,
) -> str:
    """HTML table of `table` with a thumbnail column in front (rows need `product_id`; the id is the
    thumbnail's tooltip, and a column only with `show_ids`)."""
    if "product_id" not in table.columns:
        raise ValueError(f"table_html: table needs a 'product_id' column, got {list(table.columns)}")
    shown = table if show_ids else table.drop(columns="product_id")
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["image", *shown.columns])
    body = "".join(
        "<tr><td>"
        + thumbnail_img(pid, load_image, size)
        + "</td>"
        + "".join(f"<td>{_format(v)}</td>" for v in row)
        + "</tr>"
        for pid, row in zip(table["product_id"], shown.itertuples(index=False))
    )
    caption = f"<caption style='font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    return (
        f'<table class="gcl-table" style="border-collapse:collapse;font:12px sans-serif">'
        f"{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def side_by_side_html(panels: Iterable[str]) -> str:
    """Place HTML panels (tables or galleries) next to each other, wrapping on narrow screens."""
    cells = "".join(f'<div style="flex:1 1 0;min-width:260px;margin:4px;overflow-x:auto">{p}</div>' for p in panels)
    return f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{cells}</div>'


def query_results_gallery(
    pairs: pd.DataFrame, query_ids: Sequence[str], load_image: ImageLoader | None, k: int = 8, size: int = 80
) -> str:
    """One gallery per query: its top-`k` products by position, with title, position and scores."""
    parts = []
    for qid in query_ids:
        rows = pairs[pairs["query_id"] == str(qid)].sort_values("position").head(k)
        if rows.empty:
            raise ValueError(f"query_results_gallery: query_id {qid!r} has no rows")
        parts.append(
            gallery_html(
                rows,
                load_image,
                caption=("title", "position", "score_linear", "score_reciprocal"),
                size=size,
                title=f"{rows['query'].iloc[0]} (query {qid})",
            )
        )
    return "".join(parts)


_SORT_SCRIPT = """<script>(function(){var t=document.getElementById('%s');if(!t)return;
t.querySelectorAll('th').forEach(function(th,c){th.style.cursor='pointer';th.onclick=function(){
var b=t.tBodies[0],rows=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(x,y){var p=x.cells[c].dataset.v,q=y.cells[c].dataset.v,u=parseFloat(p),v=parseFloat(q);
var r=(isNaN(u)||isNaN(v))?p.localeCompare(q):u-v;return asc?r:-r;});rows.forEach(function(r){b.appendChild(r);});};});
})();</script>"""


def sortable_table_html(table: pd.DataFrame, table_id: str, max_rows: int | None = None) -> str:
    """Plain HTML table whose column headers sort the rows on click (inline script, no library);
    without JavaScript it is an ordinary table in the given order."""
    if not table_id.isidentifier():
        raise ValueError(f"sortable_table_html: table_id {table_id!r} must be an identifier")
    shown = table if max_rows is None else table.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))} &#8597;</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f'<td data-v="{html.escape(str(v))}">{_format(v)}</td>' for v in row) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    return (
        f'<table id="{table_id}" class="gcl-table" style="font:12px sans-serif"><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table>" + _SORT_SCRIPT % table_id
    )
