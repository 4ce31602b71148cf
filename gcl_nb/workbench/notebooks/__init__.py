"""The workbench notebooks: `runner` executes them with papermill and exports offline HTML (`gcl-nb notebooks`);
`helpers` are the data helpers the notebooks call (data folder, experiment tables, trained models)."""
from gcl_nb.workbench.notebooks.helpers import (BASELINE, CANDIDATE, NOTEBOOK_METHODS, committed_result, load_results,
                                                load_views, synthshop_attributes, trained_runs, workbench_data)
from gcl_nb.workbench.notebooks.runner import (NOTEBOOK_DIR, NOTEBOOKS, export_html, notebook_parameters,
                                               plotly_js_file, run_notebooks)

__all__ = [
    "BASELINE", "CANDIDATE", "NOTEBOOK_METHODS", "workbench_data", "load_results", "trained_runs", "load_views",
    "committed_result", "synthshop_attributes",
    "NOTEBOOKS", "NOTEBOOK_DIR", "run_notebooks", "notebook_parameters", "export_html", "plotly_js_file",
]
