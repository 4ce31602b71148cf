"""Execute the four workbench notebooks with papermill, in order, into one run directory, and export each
to an HTML file that works offline (`gcl-nb notebooks`).

Every notebook has one cell tagged `parameters`; the runner passes `run_dir`, `preset` and `ci` to all of
them, plus any extra parameter to the notebooks that declare it (every notebook declares `data_path` and the data
options `image_root`, `on_bad_image`, `check_images`, `corpus`: see gcl_nb.data.DataOptions); every value is
checked against the notebooks' declarations first (gcl_nb.workbench.notebooks.parameters). A data error or an
invalid setting in a notebook is raised as a DataError / SettingError naming the notebook. 02 writes checkpoints
and results into `run_dir`; 03 and 04 read them. HTML export writes plotly.js once into the output folder and every page
loads it from there (the notebooks display figures through `gcl_nb.viz.display.use_offline_plotly`), drops
the CDN scripts nbconvert would add (require.js, MathJax, the widget manager), shows each widget by its
static `text/html` (progress bars as text), and turns the markdown cells' LaTeX (`$...$`, `$$...$$`) into MathML,
which browsers render natively: no math renderer to download. Each page records the hash of its source notebook
(`source_hash`), so a rendered copy can be checked against the notebook it claims to show.

papermill and nbconvert are imported by the functions that use them: they take seconds to import and the
notebooks' kernels import this package (for gcl_nb.workbench.notebooks.helpers) without needing them.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import plotly
from plotly.offline import get_plotlyjs_version

from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.workbench.notebooks.parameters import check_parameters, declared_parameters

NOTEBOOKS = (
    "01_data_exploration.ipynb",
    "02_gpu_training.ipynb",
    "03_ranking_analysis.ipynb",
    "04_embedding_maps.ipynb",
)
NOTEBOOK_DIR = Path(__file__).resolve().parents[3] / "notebooks"

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
#: The kernel's own log (not cell output) keeps only critical messages: ipykernel warns about TCP on every
#: start and may log "KeyboardInterrupt caught in kernel" when the client interrupts it at shutdown. A
#: failing cell still fails the run.
_KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"
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


def notebook_parameters(path: str | Path) -> set[str]:
    """Names assigned in the notebook's `parameters` cell (SettingError when it has none)."""
    return set(declared_parameters(path))


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
    (`plotly_js_file`), no CDN scripts, widgets shown by their static rendering. Returns the HTML path."""
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
    html_path.write_text(body, encoding="utf-8")
    return html_path


def run_notebooks(out_dir: str | Path, preset: str = "cpu", ci: bool = False,
                  params: Mapping[str, Any] | None = None, notebooks: Sequence[str] = NOTEBOOKS,
                  notebook_dir: str | Path = NOTEBOOK_DIR, html: bool = True,
                  log: bool = False) -> list[Path]:
    """Execute `notebooks` (in order) from `notebook_dir` into `out_dir` with papermill, then export HTML.

    Parameters given to every notebook: run_dir=out_dir, preset, ci; `params` go to the notebooks whose
    parameters cell declares them. Every value is checked against the declarations (gcl_nb.workbench.notebooks.
    parameters) before the first notebook runs: SettingError for a name no notebook declares or a value of the
    wrong type or outside the declared choices. Returns the executed notebook paths; each has an HTML twin
    beside it when `html`. `log` streams cell outputs and a progress bar.
    """
    import papermill  # lazy: see the module docstring

    sources = [Path(notebook_dir) / name for name in notebooks]
    for src in sources:
        if not src.is_file():
            raise SettingError(f"notebook {src} not found; expected one of {', '.join(NOTEBOOKS)}")
    declared = {src.name: declared_parameters(src) for src in sources}
    out_dir = Path(out_dir).resolve()
    base = {"run_dir": str(out_dir), "preset": preset, "ci": bool(ci)}
    values = {**{k: v for k, v in base.items() if any(k in d for d in declared.values())}, **dict(params or {})}
    check_parameters(values, declared)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = []
    for src in sources:
        chosen = {k: v for k, v in values.items() if k in declared[src.name]}
        target = out_dir / src.name
        try:
            papermill.execute_notebook(str(src), str(target), parameters=chosen, kernel_name="python3",
                                       cwd=str(out_dir), progress_bar=log, log_output=log,
                                       extra_arguments=[_KERNEL_QUIET])
        except papermill.PapermillExecutionError as err:
            reported = {"DataError": DataError, "SettingError": SettingError}.get(err.ename)
            if reported is not None:
                raise reported(f"{err.evalue} (in {target}, cell [{err.exec_count}])") from None
            raise
        if html:
            export_html(target)
        executed.append(target)
    return executed
