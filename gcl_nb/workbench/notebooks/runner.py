"""Execute the four workbench notebooks with papermill, in order, into one run directory (`gcl-nb notebooks`),
each followed by its offline HTML export (gcl_nb.workbench.notebooks.html_export).

The notebooks are read from `notebook_dir` (`--notebook-dir`); by default the `notebooks/` folder of the source
checkout the package runs from (gcl_nb.workbench.checkout), else `notebooks/` in the working directory: a folder
that is not there is a SettingError naming it, raised before anything is written.

Every notebook has one cell tagged `parameters`; the runner passes `run_dir`, `preset` and `ci` to all of
them, plus any extra parameter to the notebooks that declare it (every notebook declares `data_path` and the data
options `image_root`, `on_bad_image`, `check_images`, `corpus`: see gcl_nb.data.DataOptions); every value is
checked against the notebooks' declarations first (gcl_nb.workbench.notebooks.parameters). The notebooks run in
the run directory, so a relative path in a PATH_PARAMETERS value is made absolute first: it means what it means
where the caller runs (`gcl-nb notebooks -p data_path=data/shop` reads ./data/shop). A data error or an
invalid setting in a notebook is raised as a DataError / SettingError naming the notebook, an interrupted cell
(Ctrl-C) as KeyboardInterrupt. 02 writes checkpoints
and results into `run_dir`; 03 and 04 read them.

papermill is imported by the function that uses it: it takes seconds to import and the notebooks' kernels import
this package (for gcl_nb.workbench.notebooks.helpers) without needing it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.workbench.checkout import source_checkout
from gcl_nb.workbench.notebooks.html_export import export_html
from gcl_nb.workbench.notebooks.parameters import check_parameters, declared_parameters
from gcl_nb.workbench.notebooks.value_checks import check_values

NOTEBOOKS = (
    "01_data_exploration.ipynb",
    "02_gpu_training.ipynb",
    "03_ranking_analysis.ipynb",
    "04_embedding_maps.ipynb",
)
#: answers every exercise of NOTEBOOKS through its check on the same run_dir, and asserts that all pass
SOLUTIONS = "solutions.ipynb"
#: The kernel's own log (not cell output) keeps only critical messages: ipykernel warns about TCP on every
#: start and may log "KeyboardInterrupt caught in kernel" when the client interrupts it at shutdown. A
#: failing cell still fails the run.
_KERNEL_QUIET = "--IPKernelApp.log_level=CRITICAL"
#: notebook parameters naming a file or folder: a relative one is resolved against the caller's working directory
PATH_PARAMETERS = ("data_path", "image_root", "sweep_csv")


def find_notebook_dir(notebook_dir: str | Path | None = None) -> Path:
    """The folder to read the notebooks from (absolute): `notebook_dir` when given, else the `notebooks/` folder of
    the source checkout the package runs from, else `./notebooks`. SettingError naming the folder when it is none."""
    checkout = source_checkout()
    if notebook_dir is not None:
        folder, origin = Path(notebook_dir), "the folder given"
    elif checkout is not None:
        folder, origin = checkout / "notebooks", f"the notebooks of the source checkout {checkout}"
    else:
        folder, origin = Path("notebooks"), "the default: gcl_nb runs from no source checkout, so ./notebooks"
    folder = folder.resolve()
    if not folder.is_dir():
        raise SettingError(f"no notebook folder at {folder} ({origin}): pass --notebook-dir (notebook_dir=) the "
                           f"folder holding {', '.join(NOTEBOOKS)}, the notebooks/ of a gcl_nb source checkout")
    return folder


def notebook_parameters(path: str | Path) -> set[str]:
    """Names assigned in the notebook's `parameters` cell (SettingError when it has none)."""
    return set(declared_parameters(path))


def run_notebooks(out_dir: str | Path, preset: str = "cpu", ci: bool = False,
                  params: Mapping[str, Any] | None = None, notebooks: Sequence[str] = NOTEBOOKS,
                  notebook_dir: str | Path | None = None, html: bool = True,
                  log: bool = False) -> list[Path]:
    """Execute `notebooks` (in order) from `notebook_dir` into `out_dir` with papermill, then export HTML.

    `notebook_dir` None: the source checkout's notebooks/, else ./notebooks (find_notebook_dir). Parameters given
    to every notebook: run_dir=out_dir, preset, ci; `params` go to the notebooks whose parameters cell declares
    them; a relative path of PATH_PARAMETERS is taken from the working directory. The folder, the notebooks and
    every value are checked before the first notebook runs and before anything is written: SettingError for a
    missing folder or notebook, a name no notebook declares, a value of the wrong type or outside the declared
    choices (gcl_nb.workbench.notebooks.parameters), or one that the library's check of the setting it feeds
    refuses (gcl_nb.workbench.notebooks.value_checks). Returns the executed notebook paths; each has an HTML twin
    beside it when `html`. `log` streams cell outputs and a progress bar.
    """
    import papermill  # lazy: see the module docstring

    folder = find_notebook_dir(notebook_dir)
    sources = [folder / name for name in notebooks]
    for src in sources:
        if not src.is_file():
            raise SettingError(f"notebook {src} not found; expected one of {', '.join((*NOTEBOOKS, SOLUTIONS))}")
    declared = {src.name: declared_parameters(src) for src in sources}
    out_dir = Path(out_dir).resolve()
    base = {"run_dir": str(out_dir), "preset": preset, "ci": bool(ci)}
    values = {**{k: v for k, v in base.items() if any(k in d for d in declared.values())}, **dict(params or {})}
    check_parameters(values, declared)
    check_values(values)
    values = {k: _absolute(v) if k in PATH_PARAMETERS and isinstance(v, str) else v for k, v in values.items()}
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
            if err.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel too: the run was interrupted
                raise KeyboardInterrupt from None
            reported = {"DataError": DataError, "SettingError": SettingError}.get(err.ename)
            if reported is not None:
                raise reported(f"{err.evalue} (in {target}, cell [{err.exec_count}])") from None
            raise
        if html:
            export_html(target)
        executed.append(target)
    return executed


def _absolute(path: str) -> str:
    """`path` (`~` expanded) made absolute against the working directory, as the caller's shell reads it."""
    return os.path.abspath(os.path.expanduser(path))
