"""What a notebook parameter's value means, checked before the first notebook runs: a parameter's declaration
(gcl_nb.workbench.notebooks.parameters) gives its type and choices; the library's own check of the setting it
feeds, listed here by parameter name, catches a value of the right type that cannot work (an unknown method or STW
name, zero steps) before notebook 1 has spent its minutes. Each check is the one the notebook's own call makes
later, so both say the same thing.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from gcl_nb.data.schema import SPLITS, SettingError, check_choice
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.metrics import METRIC_COLUMNS
from gcl_nb.training.config import check_option
from gcl_nb.workbench.experiment.methods import check_methods
from gcl_nb.workbench.experiment.runner import check_stw_params
from gcl_nb.workbench.notebooks.helpers import check_notebook_methods, compile_custom_stw


def _optional(check: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda value: value is None or check(value)


def _each_of(name: str, allowed) -> Callable[[Any], None]:
    def check(values) -> None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise SettingError(f"{name}={values!r}: {unknown} unknown; choose from {', '.join(allowed)}")

    return check


#: parameter name -> the check of the setting it feeds (a SettingError when the value cannot work)
VALUE_CHECKS: dict[str, Callable[[Any], object]] = {
    "methods": check_notebook_methods,  # 02: the experiment's methods
    "custom_stw": compile_custom_stw,  # 02: the student's STW expression
    "stw_params": check_stw_params,  # 02: ExperimentConfig.stw_params
    "steps": _optional(lambda v: check_option("steps", v)),  # 02: TrainConfig.steps
    "batch_size": _optional(lambda v: check_option("batch_size", v)),  # 02: TrainConfig.batch_size
    "top_q": lambda v: EvalConfig(top_q=v),  # 02: the evaluation protocol
    "top_k": lambda v: EvalConfig(top_k=v),  # 02, 03
    "baseline": lambda v: check_methods([v]),  # 03: the methods compared
    "candidate": lambda v: check_methods([v]),
    "metric": lambda v: check_choice("metric", v, METRIC_COLUMNS),  # 03: a per-query metric column
    "map_splits": _each_of("map_splits", SPLITS),  # 04
}


def check_values(values: Mapping[str, Any]) -> None:
    """Each value of `values` whose parameter VALUE_CHECKS lists through its check: SettingError naming the
    parameter and what the library says about the value."""
    for name, value in values.items():
        if name in VALUE_CHECKS:
            try:
                VALUE_CHECKS[name](value)
            except SettingError as err:
                raise SettingError(f"notebook parameter {name}: {err}") from None
