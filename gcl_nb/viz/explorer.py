"""ipywidgets query explorer: choose split, query, model(s) and k; the side-by-side view updates.

Executed notebooks are read outside a live kernel, where widgets cannot run: the explorer's display bundle
therefore also carries a static `text/html` rendering of the default selection, which HTML exports show.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import ipywidgets as widgets

#: render(split, query_id, models, k) -> HTML string
Renderer = Callable[[str, str, Sequence[str], int], str]


class QueryExplorer:
    """Controls + output area around a `render` function.

    `queries[split]` lists (query_id, query text) pairs offered for that split; `models` are the model
    names the renderer knows. The default selection is the first split, its first query, all models, k.
    """

    def __init__(self, render: Renderer, queries: Mapping[str, Sequence[tuple[str, str]]],
                 models: Sequence[str], k: int = 10, max_k: int = 50):
        if not queries or not all(queries.values()):
            raise ValueError("QueryExplorer: every split needs at least one query; got "
                             f"{ {s: len(q) for s, q in queries.items()} }")
        if not models:
            raise ValueError("QueryExplorer: give at least one model name")
        self.render, self.queries, self.models = render, dict(queries), list(models)
        first = next(iter(self.queries))
        self.split = widgets.Dropdown(options=list(self.queries), value=first, description="split")
        self.query = widgets.Dropdown(options=self._query_options(first), description="query")
        self.model = widgets.SelectMultiple(options=self.models, value=tuple(self.models), description="models")
        self.k = widgets.IntSlider(value=k, min=1, max=max_k, description="k")
        self.output = widgets.HTML()
        self.split.observe(self._on_split, names="value")
        for control in (self.query, self.model, self.k):
            control.observe(self._refresh, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.split, self.query]),
                                    widgets.HBox([self.model, self.k]), self.output])
        self.update()

    def _query_options(self, split: str) -> list[tuple[str, str]]:
        return [(f"{text} ({qid})", qid) for qid, text in self.queries[split]]

    def _refresh(self, _change) -> None:
        self.update()

    def _on_split(self, change) -> None:
        self.query.unobserve(self._refresh, names="value")  # one render per split change, not two
        self.query.options = self._query_options(change["new"])
        self.query.value = self.queries[change["new"]][0][0]
        self.query.observe(self._refresh, names="value")
        self.update()

    def selection(self) -> tuple[str, str, tuple[str, ...], int]:
        """Current (split, query_id, models, k)."""
        return self.split.value, self.query.value, tuple(self.model.value), int(self.k.value)

    def update(self) -> str:
        """Re-render the current selection into the output area; returns the HTML."""
        self.output.value = self.static_html()
        return self.output.value

    def static_html(self) -> str:
        """The view of the current selection as plain HTML (readable without a kernel)."""
        split, qid, models, k = self.selection()
        return self.render(split, qid, models, k)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/html"] = self.static_html()
        return bundle


class LinkedMap:
    """An embedding map whose clicked point shows its nearest products as thumbnails in a linked panel
    (plotly hover cannot show images). Needs the figure from `embedding_map_figure` (row in customdata).
    Outside a live kernel the panel of the default point is the static rendering."""

    def __init__(self, figure, labels, embeddings, load_image, k: int = 8, index: int = 0):
        import plotly.graph_objects as go

        from gcl_nb.viz.embeddings import nearest_gallery

        self._gallery = lambda i: nearest_gallery(labels, embeddings, i, load_image, k)
        self.figure = go.FigureWidget(figure)
        self.panel = widgets.HTML()
        for trace in self.figure.data:
            trace.on_click(self._on_click)
        self.widget = widgets.VBox([self.figure, self.panel])
        self.select(index)

    def _on_click(self, trace, points, _state) -> None:
        if points.point_inds:
            self.select(int(trace.customdata[points.point_inds[0]][0]))

    def select(self, index: int) -> str:
        """Show the nearest products of map row `index` in the panel; returns the panel's HTML."""
        self.index = index
        self.panel.value = self._gallery(index)
        return self.panel.value

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/html"] = "<p><i>Click a point in a live notebook to update this panel.</i></p>" + self.panel.value
        return bundle
