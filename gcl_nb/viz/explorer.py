"""Live views for the analysis notebooks: the query explorer (any query of any split, any models, any k),
the per-query delta table whose rows open a query in the explorer, and the embedding map whose points do.

Executed notebooks are read outside a live kernel, where widgets cannot run: every view's display bundle
therefore also carries a static `text/html` rendering of its default selection, which HTML exports show.
"""

from __future__ import annotations

import html
from typing import Callable, Mapping, Sequence

import anywidget
import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
import traitlets

from gcl_nb.data.schema import protocol_order
from gcl_nb.viz.embeddings import nearest_gallery
from gcl_nb.viz.gallery import side_by_side_html, sortable_table_html

#: render(split, query_id, models, k) -> HTML string
Renderer = Callable[[str, str, Sequence[str], int], str]

#: query orders of the explorer's list: by per-query delta (when known), or every query of the split
MOST_IMPROVED, MOST_HURT, ALL_QUERIES = "most improved first", "most hurt first", "all queries"


class QueryExplorer:
    """Controls + output area around a `render` function.

    `queries[split]` lists the (query_id, query text) pairs of a split; `deltas` (optional; columns split,
    query_id, delta) orders them best or worst first. The query list shows up to `max_options` queries of
    the chosen order that contain the search text (in query text or id); `show(split, query_id)` opens any
    query. `models` are the names the renderer knows, `selected` those shown first (default all).
    """

    def __init__(
        self,
        render: Renderer,
        queries: Mapping[str, Sequence[tuple[str, str]]],
        models: Sequence[str],
        k: int = 10,
        max_k: int = 50,
        deltas: pd.DataFrame | None = None,
        selected: Sequence[str] | None = None,
        max_options: int = 200,
    ):
        if not queries or not all(queries.values()):
            raise ValueError(
                f"QueryExplorer: every split needs at least one query; got { {s: len(q) for s, q in queries.items()} }"
            )
        if not models:
            raise ValueError("QueryExplorer: give at least one model name")
        unknown = [m for m in selected or () if m not in models]
        if unknown:
            raise ValueError(f"QueryExplorer: selected models {unknown} are not among {list(models)}")
        self.render, self.max_options = render, max_options
        self.queries = {s: [(str(q), str(t)) for q, t in queries[s]] for s in protocol_order(queries)}
        self.deltas: dict[str, dict[str, float]] = {}
        if deltas is not None:
            for split, part in deltas.groupby("split", sort=False):
                self.deltas[split] = dict(zip(part["query_id"].astype(str), part["delta"].astype(float)))
        orders = [MOST_IMPROVED, MOST_HURT, ALL_QUERIES] if self.deltas else [ALL_QUERIES]
        self.split = widgets.Dropdown(options=list(self.queries), description="split")
        self.order = widgets.Dropdown(options=orders, description="list")
        self.search = widgets.Text(placeholder="search query text or id", description="search")
        self.query = widgets.Dropdown(description="query", layout=widgets.Layout(width="min(100%, 720px)"))
        self.count = widgets.HTML()
        self.model = widgets.SelectMultiple(
            options=list(models), value=tuple(selected or models), description="models", rows=min(6, len(models))
        )
        self.k = widgets.IntSlider(value=k, min=1, max=max_k, description="k")
        self.output = widgets.HTML()
        for name in ("split", "order", "search", "query", "count", "model", "k", "output"):
            getattr(self, name).add_class(f"gcl-explorer-{name}")
        self._quiet = False
        for control in (self.split, self.order, self.search):
            control.observe(self._on_list_change, names="value")
        for control in (self.query, self.model, self.k):
            control.observe(self._on_value_change, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.split, self.order, self.search]),
                widgets.HBox([self.query, self.count]),
                widgets.HBox([self.model, self.k]),
                self.output,
            ]
        )
        self.widget.add_class("gcl-explorer")
        self._refill()
        self.update()

    def listed(self, split: str | None = None) -> list[tuple[str, str]]:
        """(query_id, text) of the split's queries that match the search text, in the chosen order."""
        split = split or self.split.value
        term = self.search.value.strip().lower()
        entries = [e for e in self.queries[split] if term in e[0].lower() or term in e[1].lower()]
        deltas = self.deltas.get(split, {})
        if self.order.value == ALL_QUERIES:
            return entries
        known = [e for e in entries if e[0] in deltas]
        return sorted(known, key=lambda e: deltas[e[0]], reverse=self.order.value == MOST_IMPROVED)

    def _label(self, split: str, qid: str, text: str) -> str:
        delta = self.deltas.get(split, {}).get(qid)
        return f"{text} ({qid})" + ("" if delta is None else f"  Δ {delta:+.3f}")

    def _refill(self, keep: str | None = None) -> None:
        """Refill the query list for the current split, order and search; select `keep` (listed even beyond
        `max_options`) when it matches, else the first listed query."""
        split = self.split.value
        entries = self.listed()
        shown = entries[: self.max_options]
        if keep is not None and keep not in {q for q, _ in shown}:
            text = dict(self.queries[split]).get(keep)
            if text is not None and any(q == keep for q, _ in entries):
                shown = [(keep, text), *shown]
        quiet, self._quiet = self._quiet, True
        self.query.options = [(self._label(split, q, t), q) for q, t in shown]
        self.query.value = keep if any(q == keep for q, _ in shown) else (shown[0][0] if shown else None)
        self._quiet = quiet
        total = len(self.queries[split])
        what = f"{len(shown)} of {len(entries)} listed" if len(shown) < len(entries) else f"{len(entries)} listed"
        self.count.value = (
            f"<span>{what}; {total} queries in {html.escape(split)}"
            + (f" ({len(self.deltas.get(split, {}))} with a delta)" if self.deltas else "")
            + "</span>"
        )

    def _on_list_change(self, _change) -> None:
        if not self._quiet:
            self._refill()
            self.update()

    def _on_value_change(self, _change) -> None:
        if not self._quiet:
            self.update()

    def show(self, split: str, query_id: str) -> str:
        """Open `query_id` of `split` (clearing the search, keeping the list order); returns the HTML."""
        query_id = str(query_id)
        if split not in self.queries or query_id not in dict(self.queries[split]):
            raise ValueError(f"QueryExplorer.show: query {query_id!r} is not offered in split {split!r}")
        self._quiet = True
        self.split.value, self.search.value = split, ""
        if self.order.value != ALL_QUERIES and query_id not in self.deltas.get(split, {}):
            self.order.value = ALL_QUERIES
        self._quiet = False
        self._refill(keep=query_id)
        return self.update()

    def selection(self) -> tuple[str, str | None, tuple[str, ...], int]:
        """Current (split, query_id, models, k)."""
        return self.split.value, self.query.value, tuple(self.model.value), int(self.k.value)

    def update(self) -> str:
        """Re-render the current selection into the output area; returns the HTML."""
        self.output.value = self.static_html()
        return self.output.value

    def static_html(self) -> str:
        """The view of the current selection as plain HTML (readable without a kernel)."""
        split, qid, models, k = self.selection()
        if qid is None:
            return f"<p>No query of {html.escape(split)} contains {html.escape(self.search.value)!r}.</p>"
        if not models:
            return "<p>Choose at least one model.</p>"
        return self.render(split, qid, models, k)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/html"] = self.static_html()
        return bundle


_DELTA_TABLE_ESM = """
function fmt(v) { return typeof v === "number" ? v.toFixed(3) : String(v); }
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "gcl-delta-table";
  box.style.cssText = "max-height:" + model.get("height") + "px;overflow:auto;font:12px sans-serif";
  el.appendChild(box);
  let key = model.get("sort_by"), asc = false;
  function draw() {
    const columns = model.get("columns");
    const rows = model.get("rows").slice();
    if (key) rows.sort((a, b) => {
      const x = a[key], y = b[key];
      const r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
      return asc ? r : -r;
    });
    const table = document.createElement("table");
    table.style.borderCollapse = "collapse";
    const head = table.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c + (c === key ? (asc ? " \\u25B2" : " \\u25BC") : " \\u2195");
      th.style.cssText = "position:sticky;top:0;background:#f3f3f3;cursor:pointer;padding:2px 6px";
      th.onclick = () => { asc = (c === key) ? !asc : false; key = c; draw(); };
      head.appendChild(th);
    }
    const body = table.createTBody();
    const chosen = model.get("selected");
    for (const row of rows) {
      const tr = body.insertRow();
      tr.style.cursor = "pointer";
      tr.dataset.split = row.split; tr.dataset.query_id = row.query_id;
      if (chosen && chosen.split === row.split && chosen.query_id === row.query_id) tr.style.background = "#ffe9a8";
      for (const c of columns) {
        const td = tr.insertCell(); td.textContent = fmt(row[c]); td.style.padding = "1px 6px";
        if (c === "delta") td.style.color = row[c] > 0 ? "#137333" : (row[c] < 0 ? "#b3261e" : "");
      }
      tr.onclick = () => {
        const clicks = ((model.get("selected") || {}).clicks || 0) + 1;
        model.set("selected", { split: row.split, query_id: row.query_id, clicks: clicks });
        model.save_changes();
      };
    }
    box.replaceChildren(table);
  }
  model.on("change:rows", draw);
  model.on("change:selected", draw);
  draw();
}
export default { render };
"""


class DeltaTable(anywidget.AnyWidget):
    """Every row of a per-query delta table (`ranking.per_query_deltas`), scrollable, sorted by any column
    on a header click; clicking a row sets `selected` ({split, query_id}) and calls `on_select(split,
    query_id)`, e.g. `QueryExplorer.show`. The static rendering (exports) shows the best and worst
    `n_static` queries of each split."""

    _esm = _DELTA_TABLE_ESM
    rows = traitlets.List().tag(sync=True)
    columns = traitlets.List().tag(sync=True)
    sort_by = traitlets.Unicode("delta").tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)
    selected = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        deltas: pd.DataFrame,
        on_select: Callable[[str, str], object] | None = None,
        n_static: int = 10,
        digits: int = 4,
    ):
        missing = [c for c in ("split", "query_id", "delta") if c not in deltas.columns]
        if missing:
            raise ValueError(f"DeltaTable: missing columns {missing}; got {list(deltas.columns)}")
        table = deltas.round(digits).astype({"query_id": str})
        super().__init__(rows=table.to_dict("records"), columns=[str(c) for c in table.columns])
        self.table, self.on_select, self.n_static = table, on_select, n_static
        self.add_class("gcl-delta")
        self.observe(self._on_selected, names="selected")

    def _on_selected(self, change) -> None:
        if self.on_select is not None and change["new"]:
            self.on_select(change["new"]["split"], change["new"]["query_id"])

    def static_html(self) -> str:
        """Per split (protocol order), side by side: the most improved and the most hurt queries, up to
        `n_static` each and never the same query twice, each list headed "N of M"."""
        parts = []
        for split in protocol_order(self.table["split"]):
            part = self.table[self.table["split"] == split].sort_values("delta", ascending=False, kind="stable")
            n_best = min(self.n_static, (len(part) + 1) // 2)
            n_worst = min(self.n_static, len(part) - n_best)
            lists = (("most improved", part.head(n_best)), ("most hurt", part.tail(n_worst).iloc[::-1]))
            parts.append(
                side_by_side_html(
                    f"<h5>{html.escape(split)}: {name} {len(rows)} of {len(part)}</h5>"
                    + sortable_table_html(rows.drop(columns="split"), f"deltas_{split}_{name.split()[1]}")
                    for name, rows in lists
                )
            )
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        data, metadata = super()._repr_mimebundle_(include=include, exclude=exclude)
        data["text/html"] = (
            "<p><i>Best and worst queries per split; the live notebook lists every query "
            "(sortable; a click opens it in the explorer).</i></p>" + self.static_html()
        )
        return data, metadata


class LinkedMap:
    """An embedding map whose clicked point shows its nearest products as thumbnails in a linked panel
    (plotly hover cannot show images). Needs the figure from `embedding_map_figure` (row in customdata).
    With an `explorer`, clicking a query, or a judged product (its best-graded query; labels need
    `split` and `query_id`), also opens that query in the explorer. Outside a live kernel the map and the
    panel of the default point are the static rendering."""

    def __init__(
        self, figure, labels, embeddings, load_image, k: int = 8, index: int = 0, explorer: QueryExplorer | None = None
    ):
        self._gallery = lambda i: nearest_gallery(labels, embeddings, i, load_image, k)
        self.labels, self.explorer = labels, explorer
        self.static_figure = figure
        self.figure = go.FigureWidget(figure)
        self.panel = widgets.HTML()
        self.panel.add_class("gcl-map-panel")
        for trace in self.figure.data:
            trace.on_click(self._on_click)
        self.widget = widgets.VBox([self.figure, self.panel] + ([explorer.widget] if explorer else []))
        self.select(index)

    def _on_click(self, trace, points, _state) -> None:
        if points.point_inds:
            self.select(int(trace.customdata[points.point_inds[0]][0]))

    def select(self, index: int) -> str:
        """Show the nearest products of map row `index` in the panel (and its query in the explorer);
        returns the panel's HTML."""
        self.index = index
        self.panel.value = self._gallery(index)
        point = self.labels.iloc[index]
        if self.explorer is not None and point.get("query_id", "") and "split" in point:
            self.explorer.show(point["split"], point["query_id"])
        return self.panel.value

    def _repr_mimebundle_(self, include=None, exclude=None):
        import plotly.io as pio

        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        figure = pio.to_html(self.static_figure, include_plotlyjs=False, full_html=False)
        bundle["text/html"] = (
            figure
            + "<p><i>Click a point in a live notebook to update this panel.</i></p>"
            + self.panel.value
            + (self.explorer.static_html() if self.explorer else "")
        )
        return bundle
