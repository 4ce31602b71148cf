"""gcl_nb.workbench.notebooks: papermill runner and the folder it reads, offline HTML export (fast, on a toy
notebook), and the four workbench notebooks end to end in CI mode, chained through one run directory (slow; the
session's `smoke_notebooks` run, which the browser test reuses)."""

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import gcl_nb
from gcl_nb.data.schema import SPLITS, SettingError
from gcl_nb.workbench import checkout, notebooks
from gcl_nb.workbench.commands import notebooks as notebooks_command
from gcl_nb.workbench.experiment.outputs import log_run
from gcl_nb.workbench.notebooks import html_export

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
TOY_CELLS = [
    ("markdown", "# toy", []),
    ("code", "run_dir = ''\npreset = 'smoke'\nci = False\ntitle = 'bars'", ["parameters"]),
    (
        "code",
        "from gcl_nb.viz.display import use_offline_plotly\nuse_offline_plotly()\n"
        "import plotly.graph_objects as go\ngo.Figure(go.Bar(y=[1, 2]), layout_title_text=title)",
        [],
    ),
    (
        "code",
        "from gcl_nb.viz.explorer import QueryExplorer\n"
        "QueryExplorer(lambda s, q, m, k: f'<p class=static>{s} {q} {k}</p>', {'in_domain': [('q1', 'a')]},"
        " ['clip'], k=4)",
        [],
    ),
    ("code", "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='toy steps'):\n    pass", []),
]


def _write_toy(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    for kind, source, tags in TOY_CELLS:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source, metadata={"tags": tags}))
    path = folder / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def _html_without_images(path: Path) -> str:
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "", path.read_text())


def _assert_offline_html(html_path: Path) -> str:
    """The export loads plotly.js from the one file beside it (no CDN, not inlined); returns the HTML."""
    html = html_path.read_text()
    (script,) = re.findall(r'<script src="([^"]+)"', html)
    assert re.fullmatch(r"plotly-[0-9.]+\.min\.js", script) and (html_path.parent / script).stat().st_size > 3e6
    assert "* plotly.js v" not in html, f"{html_path.name}: plotly.js is loaded from {script}, not inlined"
    assert not re.search(r"<script[^>]+src=\"https?://", html), f"{html_path.name}: no CDN scripts"
    assert "widget-state+json" not in html, f"{html_path.name}: no saved widget state"
    return html


#: LaTeX that must not survive into a page as text (it would show as raw markup)
RAW_LATEX = re.compile(r"\$\$|\\(frac|sum|mathrm|mathbf|log|left|right|lVert|tfrac|operatorname)\b")
DOCS_NOTEBOOKS = ROOT / "docs" / "notebooks"


def _visible_text(html: str) -> str:
    """The page's text outside scripts, styles and tags."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _assert_math_rendered(html: str, name: str) -> None:
    if name[:2] in ("01", "02", "03", "04"):
        assert html.count("<math ") >= 3, f"{name}: formulas exported as MathML"
    raw = RAW_LATEX.search(_visible_text(html))
    assert raw is None, f"{name}: raw LaTeX {raw and raw.group(0)!r} left in the page"


def test_markdown_math_becomes_mathml_outside_code_spans():
    text = "Loss $z_{ij} = t$ and `code $x$`:\n\n$$\\mathcal{L} = \\frac{1}{N}\n\\sum_i w_i$$\n\nA \\$5 price."
    out = html_export.markdown_math_to_mathml(text)
    assert out.count("<math ") == 2 and 'display="block"' in out and "<mfrac>" in out
    assert "`code $x$`" in out, "code spans keep their dollars"
    assert "\\$5" in out and not RAW_LATEX.search(_visible_text(out))


def test_rendered_notebooks_in_docs_match_their_sources():
    """docs/notebooks holds the executed `cpu` run of every notebook (`make docs`); a notebook edited since its
    page was rendered fails here: rerun `make docs` and commit the pages. The solutions page passed every exercise's
    stated answer through its check on that run."""
    for name in (*notebooks.NOTEBOOKS, notebooks.SOLUTIONS):
        page = DOCS_NOTEBOOKS / name.replace(".ipynb", ".html")
        assert page.is_file(), f"{page} missing: run `make docs`"
        assert html_export.rendered_source_hash(page) == html_export.source_hash(NOTEBOOK_DIR / name), (
            f"{name} changed since {page} was rendered: run `make docs` and commit docs/notebooks"
        )
        html = page.read_text()
        _assert_math_rendered(html, page.name)
        assert "Smoke test, not a result" not in html, f"{page}: the published pages are a real cpu run"
        if name == notebooks.SOLUTIONS:
            assert "✗" not in html and re.search(r"(\d+) of \1 checks passed", html), f"{page}: a stated answer failed"
            continue
        (script,) = re.findall(r'<script src="([^"]+)"', html)
        assert (DOCS_NOTEBOOKS / script).is_file(), f"{page} loads {script}, which docs/notebooks lacks"


def test_source_hash_ignores_outputs_and_injected_parameters(tmp_path):
    src = _write_toy(tmp_path)
    executed = tmp_path / "executed.ipynb"
    nb = nbformat.read(src, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("title = 'x'", metadata={"tags": ["injected-parameters"]}))
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="out")]
    nbformat.write(nb, executed)
    assert html_export.source_hash(executed) == html_export.source_hash(src)
    nb.cells[0].source = "# changed"
    nbformat.write(nb, executed)
    assert html_export.source_hash(executed) != html_export.source_hash(src)


def test_runner_passes_declared_parameters_and_exports_offline_html(tmp_path, capfd):
    (tmp_path / "src").mkdir()
    src = _write_toy(tmp_path / "src")
    out = tmp_path / "run"
    (executed,) = notebooks.run_notebooks(
        out, preset="smoke", ci=True, params={"title": "hello"}, notebooks=[src.name], notebook_dir=src.parent, log=True
    )
    err = capfd.readouterr().err
    assert "Kernel is running over TCP" not in err and "[IPKernelApp]" not in err, "no kernel noise"
    nb = nbformat.read(executed, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'title = "hello"' in injected.source and "ci = True" in injected.source
    assert str(out.resolve()) in injected.source
    html = _assert_offline_html(executed.with_suffix(".html"))
    assert len(html) < 1_000_000 and "Plotly.newPlot" in html and "hello" in html
    assert str(out.resolve()) not in html and '"."' in html, "the page shows paths relative to its run folder"
    assert html_export.rendered_source_hash(executed.with_suffix(".html")) == html_export.source_hash(src)
    assert '<p class="static">in_domain q1 4</p>' in html, "static explorer view"
    assert re.search(r'<pre class="gcl-widget-text">toy\s+steps:\s+100%\s*\|█+\|\s*3/3', html), "progress as text"
    with pytest.raises(SettingError, match="notebook parameter 'nope' is not declared by any notebook"):
        notebooks.run_notebooks(out, params={"nope": 1}, notebooks=[src.name], notebook_dir=src.parent)


def test_relative_paths_mean_what_they_mean_where_the_command_runs(tmp_path, monkeypatch, capsys):
    """The notebooks run in the run directory; `-p data_path=data/shop` and `--image-root img` are read from the
    working directory of `gcl-nb notebooks`, as in the user's shell. A cell interrupted by Ctrl-C ends the command
    with one line and status 130."""
    from gcl_nb.workbench.cli import main as cli_main

    source = tmp_path / "nb"
    source.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell(
            "run_dir = ''\npreset = 'cpu'\nci = False\ndata_path = None\nimage_root = None\non_bad_image = 'error'\n"
            "check_images = 'exists'\ncorpus = 'half'",
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell(
            "from pathlib import Path\nassert (Path(data_path) / 'here.txt').is_file(), data_path\n"
            "assert (Path(image_root) / 'a.png').is_file(), image_root"
        ),
    ]
    for name in notebooks.NOTEBOOKS:
        nbformat.write(nb, source / name)
    work = tmp_path / "work"
    (work / "data" / "shop").mkdir(parents=True)
    (work / "data" / "shop" / "here.txt").write_text("x")
    (work / "img").mkdir()
    (work / "img" / "a.png").write_bytes(b"x")
    monkeypatch.chdir(work)
    args = ["notebooks", "--notebook-dir", str(source), "--out", "runs/x", "--no-html", "--image-root", "img"]
    assert cli_main([*args, "-p", "data_path=data/shop"]) == 0
    injected = next(
        c.source
        for c in nbformat.read(work / "runs" / "x" / notebooks.NOTEBOOKS[0], as_version=4).cells
        if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert f'data_path = "{work / "data" / "shop"}"' in injected and f'image_root = "{work / "img"}"' in injected
    nb.cells.append(nbformat.v4.new_code_cell("raise KeyboardInterrupt  # as Ctrl-C reaching the kernel"))
    nbformat.write(nb, source / notebooks.NOTEBOOKS[0])
    capsys.readouterr()
    assert cli_main([*args, "-p", "data_path=data/shop"]) == 130
    err = capsys.readouterr().err  # after papermill's progress bar
    assert err.endswith("\ngcl-nb notebooks: interrupted (Ctrl-C)\n") and "Traceback" not in err


def test_cli_arguments():
    import argparse

    parser = argparse.ArgumentParser()
    notebooks_command.add_cli(parser)
    args = parser.parse_args(["--ci", "--out", "runs/x", "-p", "steps=5", "-p", "data_path=/data/gs", "-p", "x=null"])
    assert args.ci and args.preset == "cpu" and args.out == "runs/x"
    assert dict(args.param) == {"steps": 5, "data_path": "/data/gs", "x": None}
    assert args.notebook_dir is None and parser.parse_args(["--notebook-dir", "nb"]).notebook_dir == "nb"
    with pytest.raises(SystemExit):
        parser.parse_args(["-p", "novalue"])


def test_notebooks_and_committed_results_come_from_the_source_checkout_the_package_runs_from(tmp_path, monkeypatch):
    assert checkout.source_checkout() == ROOT
    assert notebooks.find_notebook_dir() == NOTEBOOK_DIR
    assert notebooks.committed_result("synthshop_cpu.csv") == ROOT / "results" / "synthshop_cpu.csv"
    assert notebooks.committed_result("nothing.csv") is None

    # installed (site-packages): no checkout, no committed results, the notebooks from ./notebooks
    monkeypatch.setattr(gcl_nb, "__file__", str(tmp_path / "site-packages" / "gcl_nb" / "__init__.py"))
    monkeypatch.chdir(tmp_path)
    assert checkout.source_checkout() is None and notebooks.committed_result("synthshop_cpu.csv") is None
    default = (tmp_path / "notebooks").resolve()
    with pytest.raises(
        SettingError,
        match=re.escape(
            f"no notebook folder at {default} (the default: gcl_nb runs "
            "from no source checkout, so ./notebooks): pass --notebook-dir"
        ),
    ):
        notebooks.find_notebook_dir()
    default.mkdir()
    assert notebooks.find_notebook_dir() == default
    assert notebooks.find_notebook_dir("notebooks") == default
    with pytest.raises(
        SettingError,
        match=re.escape(
            f"no notebook folder at {tmp_path.resolve() / 'elsewhere'} (the folder given): pass --notebook-dir"
        ),
    ):
        notebooks.run_notebooks(tmp_path / "run", notebook_dir=tmp_path / "elsewhere")
    assert not (tmp_path / "run").exists()


def test_trained_runs_reads_the_latest_trained_run_per_method_from_the_run_log(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="runs.jsonl not found"):
        notebooks.trained_runs(tmp_path)
    monkeypatch.chdir(tmp_path)
    log_run(tmp_path, "gcl-linear", 5, Path("relative"), 1.0)  # `gcl-nb experiment --out` relative to the shell's
    monkeypatch.chdir(ROOT)
    assert notebooks.trained_runs(tmp_path, ["gcl-linear"], seed=5) == {"gcl-linear": tmp_path / "relative"}
    log_run(tmp_path, "bm25", 0, None, 1.0)
    log_run(tmp_path, "clip", 0, tmp_path / "old", 2.0)
    log_run(tmp_path, "gcl-linear", 1, tmp_path / "other-seed", 2.0)
    log_run(tmp_path, "clip", 0, tmp_path / "new", 2.0)
    assert notebooks.trained_runs(tmp_path, methods=None) == {"clip": tmp_path / "new"}
    with pytest.raises(ValueError, match=r"no trained run of \['gcl-linear'\] with seed 0"):
        notebooks.trained_runs(tmp_path)


def test_committed_notebooks_are_clean_and_parameterised():
    for name in (*notebooks.NOTEBOOKS, "solutions.ipynb"):
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: exactly one parameters cell"
        assert {"run_dir", "preset", "ci"} <= notebooks.notebook_parameters(NOTEBOOK_DIR / name)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name}: strip outputs"
        raw_cells = json.loads((NOTEBOOK_DIR / name).read_text())["cells"]
        assert all("id" in cell for cell in raw_cells), f"{name}: every cell needs an id (nbformat 4.5)"


def _outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _figures(outputs):
    return sum("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)


@pytest.mark.slow
def test_four_notebooks_run_end_to_end_in_ci_mode(smoke_notebooks):
    executed = smoke_notebooks
    run_dir = executed[0].parent
    assert [p.name for p in executed] == list(notebooks.NOTEBOOKS)

    # 02's products: two trained runs and the tables 03 and 04 read
    for run in notebooks.trained_runs(run_dir).values():
        assert (run / "checkpoint.pt").is_file() and run.parent == run_dir.resolve()
        assert len((run / "history.jsonl").read_text().splitlines()) > 0
    assert set(notebooks.trained_runs(run_dir, methods=None)) == {notebooks.BASELINE, notebooks.CANDIDATE}
    results, per_query = notebooks.load_results(run_dir)
    assert set(zip(results["method"], results["split"])) == {(m, s) for m in notebooks.NOTEBOOK_METHODS for s in SPLITS}
    assert results["ndcg@10"].between(0, 1).all() and (results["n_queries"] > 0).all()
    counts = per_query.groupby(["method", "split"]).size()
    n_queries = results.set_index(["method", "split"])["n_queries"]
    assert (counts.sort_index() == n_queries.sort_index()).all()
    gains = pd.read_csv(run_dir / "gains.csv")
    assert list(gains["split"]) == list(SPLITS) and gains["ndcg@10"].notna().all()

    expected_figures = {"01": 5, "02": 5, "03": 3, "04": 7}
    for path in executed:
        outputs = _outputs(path)
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert _figures(outputs) >= expected_figures[path.name[:2]], path.name
        html = _assert_offline_html(path.with_suffix(".html"))
        assert html.count("Plotly.newPlot") >= expected_figures[path.name[:2]]
        assert len(_html_without_images(path.with_suffix(".html"))) < 800_000, f"{path.name}: HTML too large"
        _assert_math_rendered(html, path.name)
        assert html_export.rendered_source_hash(path.with_suffix(".html")) == html_export.source_hash(
            NOTEBOOK_DIR / path.name
        ), f"{path.name}: the page records its source notebook's hash"
        caveats = sum("Smoke test, not a result" in o.get("data", {}).get("text/html", "") for o in outputs)
        assert caveats == (1 if path.name[:2] in ("02", "03") else 0), path.name
    assert re.search(r'gcl-widget-text">train:\s+100%', executed[1].with_suffix(".html").read_text())

    widget_view = "application/vnd.jupyter.widget-view+json"
    widgets = [o["data"] for o in _outputs(executed[2]) if widget_view in o.get("data", {})]
    delta_html, explorer_html = widgets[0]["text/html"], widgets[1]["text/html"]
    assert "in_domain: most improved" in delta_html and "zero_shot: most hurt" in delta_html
    assert "ground truth" in explorer_html and "data:image/png;base64," in explorer_html
    assert "first relevant at rank" in explorer_html and "(in_domain, query" in explorer_html
    significance = next(
        o["data"]["text/html"]
        for c in nbformat.read(executed[2], as_version=4).cells
        if "labelled_significance" in c.source
        for o in c.outputs
    )
    assert "<th>clip</th>" in significance and "<th>gcl-linear</th>" in significance and "mean_a" not in significance
    linked_html = [
        o["data"]["text/html"]
        for o in _outputs(executed[3])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert linked_html and "nearest products" in linked_html[0] and "Plotly.newPlot" in linked_html[0]
    assert "first relevant at rank" in linked_html[0], "the explorer opened on the highlighted query"


@pytest.mark.slow
def test_solutions_notebook_passes_every_check(smoke_notebooks, tmp_path):
    """notebooks/solutions.ipynb answers the exercises of notebooks 1-4 on the smoke run and asserts each check."""
    import papermill

    run_dir = smoke_notebooks[0].parent
    out = tmp_path / "solutions.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / "solutions.ipynb"),
        str(out),
        kernel_name="python3",
        parameters={"run_dir": str(run_dir), "preset": "smoke", "ci": True},
        cwd=str(tmp_path),
    )
    text = "".join(o.get("text", "") for o in _outputs(out))
    assert "✗" not in text and re.search(r"(\d+) of \1 checks passed", text), text[-2000:]
    assert text.count("✓") >= 14


def test_every_exercise_asks_first_then_checks_then_answers_in_a_collapsed_block():
    """Each exercise: its question (no answer in it), a check cell for it, then a collapsed Answer block."""
    for name in notebooks.NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        cells = nb.cells
        markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
        asked = [
            (i, n)
            for i, c in enumerate(cells)
            if c.cell_type == "markdown"
            for n in re.findall(r"\*\*Exercise (\d\.\d+)", c.source)
        ]
        assert len(asked) >= 3, f"{name}: at least three exercises"
        for i, exercise in asked:
            assert "*Expected" not in cells[i].source, f"{name} {exercise}: the question gives its answer away"
            check, answer = cells[i + 1], cells[i + 2]
            assert check.cell_type == "code" and re.search(rf"check_\w+\(\"{re.escape(exercise)}\"", check.source), (
                f"{name} {exercise}: a check cell right under the question"
            )
            assert answer.cell_type == "markdown" and answer.source.startswith("<details><summary>Answer</summary>")
            assert answer.source.rstrip().endswith("</details>"), f"{name} {exercise}: the Answer block is closed"
        assert "## Summary" in markdown and "Before this notebook" in markdown, f"{name}: framing"
        assert markdown.count("$") >= 4, f"{name}: formulas"


def test_notebook_02_reads_at_a_students_pace():
    """A short setup cell, no markdown cell much over 900 characters, the GPU note and the caveats at the end."""
    cells = nbformat.read(NOTEBOOK_DIR / "02_gpu_training.ipynb", as_version=4).cells
    setup = next(c for c in cells if c.cell_type == "code" and "training_setup(" in c.source)
    assert len(setup.source.splitlines()) <= 20
    long = [(len(c.source), c.source[:40]) for c in cells if c.cell_type == "markdown" and len(c.source) > 1000]
    assert not long, long
    headings = [c.source.splitlines()[0] for c in cells if c.cell_type == "markdown" and c.source.startswith("## ")]
    assert headings[-3:] == ["## Caveats", "## On a GPU", "## Summary"], headings
    assert "GPU" not in cells[0].source.replace("On a GPU: see the end", "")


def test_every_value_check_belongs_to_a_declared_parameter():
    """A parameter renamed in its notebook would otherwise lose its check silently."""
    from gcl_nb.workbench.notebooks.parameters import declared_parameters
    from gcl_nb.workbench.notebooks.value_checks import VALUE_CHECKS

    declared = set().union(*(declared_parameters(NOTEBOOK_DIR / name) for name in notebooks.NOTEBOOKS))
    assert set(VALUE_CHECKS) <= declared, set(VALUE_CHECKS) - declared


def test_notebook_parameters_are_checked_against_their_declarations(tmp_path):
    """Types come from annotations or defaults, choices from `# a | b` comments, None where the declaration takes
    it; nothing is listed in the runner, so a new parameter is checked from its own line."""
    from gcl_nb.workbench.notebooks.parameters import check_parameters, declared_parameters

    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell(
            'preset = "cpu"      # smoke | cpu | gpu: the budget\n'
            "method = None       # umap | pca (None: umap)\n"
            "steps: Optional[int] = None  # optimiser steps\n"
            "top_k = 1000        # documents per query\n"
            "tolerance = 0.01\n"
            'reference = "x.csv" # committed results (None: none)\n'
            'splits = ["in_domain"]\n'
            "per_name = {}\n"
            "ci = False\n"
            "anything = None\n",
            metadata={"tags": ["parameters"]},
        )
    ]
    nbformat.write(nb, tmp_path / "toy.ipynb")
    declared = {"toy.ipynb": declared_parameters(tmp_path / "toy.ipynb")}
    good = dict(
        preset="gpu",
        method=None,
        steps=5,
        top_k=10,
        tolerance=1,
        reference=None,
        splits=["zero_shot"],
        per_name={"a": {"b": 1}},
        ci=True,
        anything={"a": 1},
    )
    check_parameters(good, declared)
    check_parameters(dict(steps=None, method="pca"), declared)
    for bad, message in [
        (dict(preset="tpu"), "preset='tpu' .*: choose one of smoke, cpu, gpu$"),
        (dict(preset=None), "choose one of smoke, cpu, gpu$"),
        (dict(method="tsne"), "choose one of umap, pca, None"),
        (dict(steps="ten"), "steps='ten' .*: give an integer or null"),
        (dict(steps=2.5), "give an integer or null"),
        (dict(top_k="abc"), r"top_k='abc' \(toy.ipynb declares top_k = 1000\): give an integer$"),
        (dict(top_k=True), "give an integer"),
        (dict(top_k=None), "give an integer$"),
        (dict(tolerance="low"), "give a number"),
        (dict(reference=3), "give a text or null"),
        (dict(splits="in_domain"), "give a list"),
        (dict(per_name="a:1"), "give a mapping"),
        (dict(ci=1), "give true or false"),
        (dict(nope=1), "'nope' is not declared by any notebook; the notebooks declare anything, ci"),
    ]:
        with pytest.raises(SettingError, match=message):
            check_parameters(bad, declared)
