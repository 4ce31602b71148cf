"""Visual toolkit for the notebooks: plotly figures, HTML galleries and the ipywidgets query explorer.

Figures and HTML take plain DataFrames, arrays or PIL images (no training happens here; `model_views` calls the
evaluation layer), so the notebooks stay thin and the pictures are unit-tested. Modules: `data_figures` (splits,
scores, STW weights), `training` (loss / logit-scale / lr curves), `ranking` (metric tables, per-query deltas,
side-by-side rankings, rank correlation), `embeddings` (UMAP/PCA maps), `gallery` (self-contained HTML thumbnails
and tables), `explorer` (the query explorer, the clickable delta table and the linked map, each with a static
fallback), `display` (offline plotly output, the smoke-run caveat), `model_views` (what the explorer shows per
trained model: rankings, ground truth, views and embedding samples, computed with gcl_nb.evaluation).
"""
