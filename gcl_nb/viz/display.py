"""Offline plotly output for notebooks: live JupyterLab gets the plotly mimetype, exported HTML a `<div>`
per figure that draws with the one copy of plotly.js the export puts beside the HTML files
(`gcl_nb.workbench.notebooks.export_html`): no CDN, no MathJax download, no 4.8 MB of plotly.js per notebook."""

from __future__ import annotations

import plotly.io as pio
from plotly.io._base_renderers import MimetypeRenderer

RENDERER = "gcl_offline"


class OfflineHtmlRenderer(MimetypeRenderer):
    """A figure as a `text/html` div that expects `window.Plotly` to be loaded by the page."""

    def to_mimebundle(self, fig_dict):
        html = pio.to_html(
            fig_dict,
            include_plotlyjs=False,
            include_mathjax=False,
            full_html=False,
            default_width="100%",
            default_height=525,
            validate=False,
        )
        return {"text/html": html}


def use_offline_plotly() -> str:
    """Make figures displayed from now on render offline in both JupyterLab and exported HTML;
    returns the renderer name now the default."""
    pio.renderers[RENDERER] = OfflineHtmlRenderer()
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"
    return pio.renderers.default


def caveat(title: str, text: str, css_class: str = "gcl-caveat"):
    """A visible red-bordered note (IPython HTML): bold `title`, then `text` (HTML)."""
    from IPython.display import HTML

    return HTML(
        f'<div class="{css_class}" style="border-left:6px solid #d93025;background:#fdecea;'
        f'padding:8px 12px;margin:6px 0;font:14px sans-serif"><b>{title}</b> {text}</div>'
    )


def smoke_caveat(preset: str, ci: bool = False):
    """A visible warning (IPython HTML) when the notebooks run on the `smoke` preset or in CI mode, whose
    few-step models are near random: their numbers test that the code runs, they are not results.
    None (nothing displayed) otherwise."""
    if preset != "smoke" and not ci:
        return None
    why = "CI mode" if ci else "the smoke preset"
    return caveat(
        "Smoke test, not a result.",
        f"This run uses {why}: tiny data and a few training steps, so the models are close to random. "
        "Gains, deltas and p-values below only show that the pipeline runs; for findings run the "
        "<code>cpu</code> (or <code>gpu</code>) preset.",
        css_class="gcl-smoke-caveat",
    )
