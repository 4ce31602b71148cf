"""Embedding maps: 2-D projections (UMAP, or PCA for speed) of query and document embeddings, coloured by
any attribute, with one query and its ground-truth products highlighted, and the nearest items of a point."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from gcl_nb.viz.gallery import gallery_html

PROJECTIONS = ("umap", "pca")  #: the 2-d projections project_2d offers
#: categorical map colours (D3's ten) and the symbols that tell categories of the same colour apart
CATEGORY_PALETTE = tuple(px.colors.qualitative.D3)
CATEGORY_SYMBOLS = ("circle", "square", "triangle-up", "diamond", "cross", "x", "pentagon", "star")
MISSING = "n/a"  #: attribute value of points without one


def center_groups(embeddings: np.ndarray, groups: Sequence) -> np.ndarray:
    """x_i - mean(x_j : group_j = group_i), then L2-normalised: removes the constant offset between, e.g.,
    query and document embeddings (the modality gap), which would otherwise be all a 2-D map shows."""
    x = np.asarray(embeddings, dtype=np.float32).copy()
    groups = np.asarray(groups)
    if len(groups) != len(x):
        raise ValueError(f"center_groups: {len(groups)} group labels for {len(x)} embeddings")
    for g in np.unique(groups):
        x[groups == g] -= x[groups == g].mean(axis=0)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def project_2d(
    embeddings: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15, groups: Sequence | None = None
) -> np.ndarray:
    """(n, d) embeddings -> (n, 2) coordinates. UMAP uses cosine distance (embeddings are L2-normalised);
    PCA is the fast, deterministic choice for CI. `groups` (e.g. the kind column) first centres each group
    (`center_groups`)."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"project_2d: need a (n >= 3, d) array, got shape {x.shape}")
    if groups is not None:
        x = center_groups(x, groups)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "umap":
        import umap

        reducer = umap.UMAP(
            n_components=2, metric="cosine", random_state=seed, n_jobs=1, n_neighbors=min(n_neighbors, len(x) - 1)
        )
        return reducer.fit_transform(x)
    raise ValueError(f"project_2d: unknown method {method!r}; choose one of {PROJECTIONS}")


def map_frame(coords: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """Coordinates (columns x, y) joined row by row with a label table (kind, id, text, attributes)."""
    if len(coords) != len(labels):
        raise ValueError(f"map_frame: {len(coords)} coordinates but {len(labels)} label rows")
    frame = labels.reset_index(drop=True).copy()
    frame["x"], frame["y"] = coords[:, 0], coords[:, 1]
    return frame


def category_styles(values: Sequence) -> dict:
    """{category: (colour, marker symbol)}: every category its own look. Categories (sorted, "n/a" last)
    take the 10 colours of CATEGORY_PALETTE, then the same colours again with the next symbol of
    CATEGORY_SYMBOLS, so 15 categories are 10 circles and 5 squares of distinct colours; "n/a" (no value,
    `add_attributes`) is a grey circle, last."""
    ordered = sorted(set(values) - {MISSING}, key=str)
    n = len(CATEGORY_PALETTE)
    styles = {
        v: (CATEGORY_PALETTE[i % n], CATEGORY_SYMBOLS[i // n % len(CATEGORY_SYMBOLS)]) for i, v in enumerate(ordered)
    }
    return styles | ({MISSING: ("#bbbbbb", "circle")} if MISSING in set(values) else {})


def embedding_map_figure(
    frame: pd.DataFrame, color: str, hover: Sequence[str] = ("text",), kind: str | None = "kind", title: str = ""
) -> go.Figure:
    """Scatter of a map frame (x, y + labels), coloured by column `color`: a categorical column gives each
    value its own colour and symbol (`category_styles`, one compact legend entry per value), a numeric one
    a colour scale. Rows whose `kind` column is "query" are drawn larger with a dark outline. Each point's
    customdata[0] is its row in `frame` (for click handlers)."""
    needed = ["x", "y", color, *hover] + ([kind] if kind else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"embedding_map_figure: missing columns {missing}; got {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    is_query = (frame[kind] == "query").to_numpy() if kind else np.zeros(len(frame), dtype=bool)
    shown = [kind] if kind else []
    hovertemplate = "<br>".join(f"{c}: %{{customdata[{i + 1}]}}" for i, c in enumerate([*hover, color, *shown]))

    def trace(rows: np.ndarray, name: str, marker: dict, **options) -> go.Scatter:
        customdata = np.column_stack([rows, *(frame.loc[rows, c].astype(str) for c in [*hover, color, *shown])])
        return go.Scatter(
            x=frame.loc[rows, "x"],
            y=frame.loc[rows, "y"],
            mode="markers",
            name=name,
            customdata=customdata,
            hovertemplate=hovertemplate + "<extra></extra>",
            marker={
                "size": np.where(is_query[rows], 13, 7),
                "line": {"width": np.where(is_query[rows], 1.5, 0), "color": "#222"},
                "opacity": 0.8,
                **marker,
            },
            **options,
        )

    if pd.api.types.is_numeric_dtype(frame[color]):
        rows = np.arange(len(frame))
        traces = [
            trace(
                rows,
                color,
                {"color": frame[color], "colorscale": "Viridis", "showscale": True, "colorbar": {"title": color}},
                showlegend=False,
            )
        ]
    else:
        traces = [
            trace(np.flatnonzero(frame[color] == value), str(value), {"color": colour, "symbol": symbol})
            for value, (colour, symbol) in category_styles(frame[color]).items()
        ]
    fig = go.Figure(traces)
    note = " (large outlined markers: queries)" if is_query.any() else ""
    fig.update_layout(
        title=(title or f"embedding map coloured by {color}") + note,
        xaxis={"showticklabels": False, "title": ""},
        yaxis={"showticklabels": False, "title": ""},
        height=560,
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.02,
            "xanchor": "left",
            "x": 0,
            "font": {"size": 11},
            "itemsizing": "constant",
            "title": {"text": f"{color}: "},
        },
    )
    return fig


def highlight_query_figure(
    frame: pd.DataFrame,
    query_index: int,
    qrels: Mapping[str, int],
    id_column: str = "id",
    title: str = "",
    n_labels: int = 10,
    zoom: bool = False,
) -> go.Figure:
    """Map with every point in grey, one query (star) and its judged products coloured by grade, the best
    `n_labels` labelled with their ground-truth rank, so one sees whether nearness follows the grades.
    `zoom` limits the axes to the query and its `n_labels` best judged products (10% margin)."""
    for c in ("x", "y", id_column):
        if c not in frame.columns:
            raise ValueError(f"highlight_query_figure: missing column {c!r}; got {list(frame.columns)}")
    is_judged = frame[id_column].astype(str).isin(set(qrels)) & (frame.index != query_index)
    judged = frame[is_judged].copy()
    judged["grade"] = judged[id_column].astype(str).map(qrels).astype(float)
    judged = judged.sort_values("grade", ascending=False)
    judged["gt_rank"] = np.arange(1, len(judged) + 1)
    query = frame.loc[query_index]
    text = judged["text"].tolist() if "text" in judged.columns else judged[id_column].tolist()
    fig = go.Figure(
        [
            go.Scattergl(
                x=frame["x"],
                y=frame["y"],
                mode="markers",
                name="other items",
                marker={"color": "lightgrey", "size": 4},
                hoverinfo="skip",
            ),
            go.Scatter(
                x=judged["x"],
                y=judged["y"],
                mode="markers+text",
                name="ground truth",
                text=[str(r) if r <= n_labels else "" for r in judged["gt_rank"]],
                textposition="top center",
                customdata=np.stack([judged["grade"], text], axis=1) if len(judged) else None,
                hovertemplate="grade %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
                marker={
                    "color": judged["grade"],
                    "colorscale": "Viridis",
                    "size": 10,
                    "colorbar": {"title": "grade"},
                    "showscale": True,
                },
            ),
            go.Scatter(
                x=[query["x"]],
                y=[query["y"]],
                mode="markers",
                name="query",
                marker={"symbol": "star", "size": 18, "color": "red"},
                hovertext=[str(query.get("text", query[id_column]))],
                hoverinfo="text",
            ),
        ]
    )
    fig.update_layout(
        title=title or f"query {query.get('text', query[id_column])!s} and its ground truth",
        xaxis={"showticklabels": False},
        yaxis={"showticklabels": False},
        height=560,
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0},
    )
    if zoom:
        for axis in ("x", "y"):
            values = np.append(judged[axis].to_numpy()[:n_labels], query[axis])
            pad = 0.1 * (np.ptp(values) or 1.0)
            fig.update_layout({f"{axis}axis_range": [values.min() - pad, values.max() + pad]})
    return fig


def nearest_items(embeddings: np.ndarray, index: int, k: int = 8, candidates: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `k` rows most cosine-similar to row `index` (itself excluded), best first;
    `candidates` (boolean mask) restricts the pool, e.g. to documents."""
    x = np.asarray(embeddings, dtype=np.float32)
    if not 0 <= index < len(x):
        raise ValueError(f"nearest_items: index {index} outside 0..{len(x) - 1}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms == 0, 1.0, norms)
    sims = x @ x[index]
    sims[index] = -np.inf
    if candidates is not None:
        sims[~np.asarray(candidates, dtype=bool)] = -np.inf
    order = np.argsort(-sims, kind="stable")
    return order[np.isfinite(sims[order])][:k]


def add_attributes(labels: pd.DataFrame, attributes: pd.DataFrame) -> pd.DataFrame:
    """Join attribute columns (e.g. SynthShop category, colour) onto map labels by (kind, id); points
    without a value get "n/a" so they still plot."""
    missing = [c for c in ("kind", "id") if c not in attributes.columns]
    if missing:
        raise ValueError(f"add_attributes: attribute table lacks {missing}; has {list(attributes.columns)}")
    columns = [c for c in attributes.columns if c not in ("kind", "id")]
    table = attributes.astype({"id": str}).drop_duplicates(["kind", "id"])
    merged = labels.drop(columns=[c for c in columns if c in labels.columns]).merge(
        table, on=["kind", "id"], how="left"
    )
    merged[columns] = merged[columns].replace("", np.nan).fillna(MISSING)
    return merged


def nearest_gallery(
    labels: pd.DataFrame, embeddings: np.ndarray, index: int, load_image, k: int = 8, title: str = ""
) -> str:
    """HTML gallery of the `k` documents nearest (cosine) to point `index` of a map sample."""
    near = nearest_items(embeddings, index, k, candidates=(labels["kind"] == "document").to_numpy())
    items = labels.iloc[near].rename(columns={"id": "product_id", "text": "title"})
    caption = ("title", "grade") if "grade" in items.columns else ("title",)
    point = labels.iloc[index]
    return gallery_html(
        items, load_image, caption=caption, title=title or f"nearest products to {point['kind']} '{point['text']}'"
    )


def query_cosines(
    labels: pd.DataFrame, embeddings: np.ndarray, query_index: int, qrels: Mapping[str, int]
) -> pd.DataFrame:
    """The cosine the model ranks by (uncentred, L2-normalised embeddings) between the query at row
    `query_index` and each of its judged products present in `labels` (kind == "document"), with their grades;
    best cosine first."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    rows = np.flatnonzero((labels["kind"].to_numpy() == "document") & labels["id"].astype(str).isin(qrels).to_numpy())
    ids = labels["id"].astype(str).to_numpy()[rows]
    table = pd.DataFrame({"product_id": ids, "grade": [qrels[i] for i in ids], "cosine": x[rows] @ x[query_index]})
    return table.sort_values("cosine", ascending=False, ignore_index=True)


def cosine_grade_figure(tables: Mapping[str, pd.DataFrame], title: str = "") -> go.Figure:
    """Grade against cosine to the query, one marker series per model (`query_cosines` tables)."""
    fig = go.Figure()
    for name, table in tables.items():
        fig.add_trace(
            go.Scatter(
                x=table["cosine"],
                y=table["grade"],
                mode="markers",
                name=name,
                text=table["product_id"],
                hovertemplate="%{text}<br>cosine %{x:.3f}<br>grade %{y}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="cosine to the query (what the model ranks by)",
        yaxis_title="grade (ground truth)",
        height=400,
    )
    return fig
