"""The workbench notebooks: `runner` executes them with papermill (`gcl-nb notebooks`; the notebooks folder:
`find_notebook_dir`), `html_export` turns each executed notebook into an offline HTML page; `helpers` are the data
helpers the notebooks call (data folder, experiment tables, trained models, committed results)."""
from gcl_nb.workbench.notebooks.helpers import (BASELINE, CANDIDATE, NOTEBOOK_METHODS, committed_result, load_results,
                                                load_views, synthshop_attributes, trained_runs, training_setup,
                                                workbench_data)
from gcl_nb.workbench.notebooks.html_export import export_html, plotly_js_file
from gcl_nb.workbench.notebooks.runner import NOTEBOOKS, SOLUTIONS, find_notebook_dir, notebook_parameters, run_notebooks

__all__ = [
    "BASELINE", "CANDIDATE", "NOTEBOOK_METHODS", "workbench_data", "load_results", "trained_runs", "load_views",
    "committed_result", "synthshop_attributes", "training_setup",
    "NOTEBOOKS", "SOLUTIONS", "find_notebook_dir", "run_notebooks", "notebook_parameters", "export_html", "plotly_js_file",
]
