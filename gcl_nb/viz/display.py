"""Offline plotly output for notebooks: live JupyterLab gets the plotly mimetype, exported HTML gets an
inline `<div>` per figure plus one inline copy of plotly.js (no CDN, no MathJax download)."""
from __future__ import annotations

import plotly.io as pio
from plotly.io._base_renderers import NotebookRenderer

RENDERER = "gcl_offline"


class OfflineNotebookRenderer(NotebookRenderer):
    """plotly's `notebook` renderer (embeds plotly.js once, on first display) without the MathJax CDN
    script it puts in every figure."""

    def to_mimebundle(self, fig_dict):
        html = pio.to_html(fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
                           full_html=False, default_width="100%", default_height=525, validate=False)
        return {"text/html": html}


def use_offline_plotly() -> str:
    """Make figures displayed from now on render offline in both JupyterLab and exported HTML;
    returns the renderer name now the default."""
    pio.renderers[RENDERER] = OfflineNotebookRenderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"
    return pio.renderers.default
