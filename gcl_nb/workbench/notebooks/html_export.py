"""Offline HTML of an executed notebook (`export_html`, called by gcl_nb.workbench.notebooks.runner after each
notebook runs): the page loads plotly.js from one file written once into its folder (`plotly_js_file`; the notebooks
display figures through `gcl_nb.viz.display.use_offline_plotly`), drops the CDN scripts nbconvert would add
(require.js, MathJax, the widget manager), shows each widget by its static `text/html` (progress bars as text), and
turns the markdown cells' LaTeX (`$...$`, `$$...$$`) into MathML (`markdown_math_to_mathml`), which browsers render
natively: no math renderer to download. Each page records the hash of its source notebook (`source_hash`, read back
by `rendered_source_hash`), so a rendered copy (docs/notebooks) can be checked against the notebook it claims to show.

nbconvert, jinja2 and latex2mathml are imported by the functions that use them: they take seconds to import and
the notebooks' kernels import this package (for gcl_nb.workbench.notebooks.helpers) without needing them.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Mapping

import plotly
from plotly.offline import get_plotlyjs_version

_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}<meta name="gcl-nb-source" content="{{ resources.source_hash }}">
<script src="{{ resources.plotly_js }}"></script>{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
#: Output mimetypes in order of preference for HTML: static renderings first, live widgets last.
_HTML_PRIORITY = ("text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/latex",
                  "application/vnd.jupyter.widget-view+json", "text/plain")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: display math ($$...$$, may span lines), then inline math ($...$ on one line, not an escaped \$)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$\n]+?)(?<!\\)\$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)


def markdown_math_to_mathml(text: str) -> str:
    """Markdown with LaTeX math -> the same markdown with each formula as MathML (code spans untouched)."""
    from latex2mathml.converter import convert  # lazy: only the HTML export needs it

    def display(match):
        return "\n\n" + convert(match.group(1).strip(), display="block") + "\n\n"

    def inline(match):
        return convert(match.group(1).strip())

    parts, last = [], 0
    for code in _CODE_SPAN.finditer(text):
        parts.append(_INLINE_MATH.sub(inline, _DISPLAY_MATH.sub(display, text[last:code.start()])))
        parts.append(code.group(0))
        last = code.end()
    parts.append(_INLINE_MATH.sub(inline, _DISPLAY_MATH.sub(display, text[last:])))
    return "".join(parts)


def source_hash(notebook: str | Path) -> str:
    """sha256 of a notebook's cell types and sources (not its outputs, ids or metadata); the parameters cell
    papermill injects into an executed copy is left out, so an executed notebook hashes as its source."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    content = [(c["cell_type"], "".join(c["source"])) for c in cells
               if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def rendered_source_hash(html_path: str | Path) -> str | None:
    """The source hash an exported page records (None when it records none)."""
    tag = re.search(r'<meta\b[^>]*\bname="gcl-nb-source"[^>]*>', Path(html_path).read_text(encoding="utf-8"))
    content = re.search(r'\bcontent="([0-9a-f]*)"', tag.group(0)) if tag else None
    return content.group(1) if content else None



def plotly_js_file(folder: str | Path) -> str:
    """Write plotly.js (the version plotly.py ships) into `folder` once, as `plotly-<version>.min.js`;
    returns that file name (exported HTML loads it by this relative path)."""
    name = f"plotly-{get_plotlyjs_version()}.min.js"
    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = Path(folder) / name
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)
    return name


def _widget_text(model_id: str, states: Mapping[str, dict]) -> str:
    """Static HTML of a widget from its saved state: containers join their children, HTML and labels
    show their value, progress bars a text bar (e.g. tqdm's label, bar and counts on one line)."""
    model = states.get(model_id)
    if model is None:
        return ""
    state, name = model.get("state", {}), model.get("model_name", "")
    if name in ("HBoxModel", "VBoxModel", "BoxModel"):
        parts = [_widget_text(child.removeprefix("IPY_MODEL_"), states) for child in state.get("children", [])]
        return (" " if name == "HBoxModel" else "<br>").join(p for p in parts if p)
    if name in ("HTMLModel", "LabelModel", "HTMLMathModel"):
        return state.get("value", "")
    if name in ("FloatProgressModel", "IntProgressModel"):
        low, high, value = state.get("min", 0), state.get("max", 100), state.get("value", 0)
        filled = round(20 * (value - low) / (high - low)) if high > low else 20
        return "|" + "█" * filled + "&nbsp;" * (20 - filled) + "|"
    return ""


def _static_widget_outputs(nb) -> None:
    """Give every widget output without a static rendering one made from the widget state the executed
    notebook saved (progress bars become text); drop the ones that render to nothing, and the saved state
    (megabytes for a plotly FigureWidget, useless without a widget manager)."""
    states = nb.metadata.pop("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if _WIDGET_VIEW in data and "text/html" not in data:
                text = _widget_text(data[_WIDGET_VIEW]["model_id"], states)
                if not text:
                    continue
                data["text/html"] = f'<pre class="gcl-widget-text">{text}</pre>'
            kept.append(output)
        cell.outputs = kept


def export_html(notebook: str | Path, html_path: str | Path | None = None) -> Path:
    """Executed notebook -> HTML that works offline: figures draw with the one plotly.js file beside it
    (`plotly_js_file`), no CDN scripts, widgets shown by their static rendering. Paths inside the folder the
    notebook ran in are shown relative to it ("." for the folder), so a published page names no machine's
    folders. Returns the HTML path."""
    import jinja2  # lazy with nbconvert: see the module docstring
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    notebook = Path(notebook)
    html_path = Path(html_path) if html_path else notebook.with_suffix(".html")
    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"gcl_offline.html.j2": _OFFLINE_TEMPLATE})],
                            template_file="gcl_offline.html.j2",
                            config=Config({"NbConvertBase": {"display_data_priority": list(_HTML_PRIORITY)}}))
    nb = nbformat.read(notebook, as_version=4)
    _static_widget_outputs(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
    body, _ = exporter.from_notebook_node(nb, resources={"plotly_js": plotly_js_file(html_path.parent),
                                                         "source_hash": source_hash(notebook)})
    run_folder = str(notebook.resolve().parent)
    body = body.replace(run_folder + "/", "").replace(run_folder, ".")
    html_path.write_text(body, encoding="utf-8")
    return html_path
