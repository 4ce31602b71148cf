"""What each notebook's `parameters` cell declares, read at run time, and the check of given values against it.

A parameter's type is its annotation when it has one that papermill reads (`steps: Optional[int] = None`: an
integer or None), else the type of its default value (a bool takes true/false, an int an integer, a float any
number, a str text, a list a list, a dict a mapping; a None default without annotation takes anything). None is
also accepted when the comment says what it means (`# ... (None: the preset's)`). A comment that starts with choices
(`preset = "cpu"  # smoke | cpu | gpu: ...`) restricts the value to them. Nothing is listed here: a parameter added
to a notebook is checked from its own declaration.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gcl_nb.data.schema import SettingError

#: `a | b | c` at the start of a parameter's comment, ended by ':', '(' or the end of the comment
_CHOICES = re.compile(r"^\s*([\w@.\-]+(?:\s*\|\s*[\w@.\-]+)+)\s*(?=:|\(|$)")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class NotebookParameter:
    """One assignment of a notebook's parameters cell: its name, default value (_NO_DEFAULT when it is an
    expression, not a literal), the choices its comment lists (empty: any value of its type), its annotation and
    whether its comment says what None means."""

    name: str
    default: Any
    choices: tuple[str, ...] = ()
    annotation: str = "None"  # as papermill reports it: "None" when the assignment has none
    none_means: bool = False  # the comment says what None means, "(None: ...)"

    def check(self, value, notebook: str) -> None:
        """SettingError naming the parameter, the notebook, the value and what it takes, unless `value` fits."""
        where = f"notebook parameter {self.name}={value!r} ({notebook} declares {self.name} = {self.default!r})"
        annotated = _annotated_kind(self.annotation)
        takes_none = self.default is None or self.none_means or bool(annotated and annotated[0])
        if value is None and takes_none:
            return
        if self.choices:
            if value not in self.choices:
                listed = self.choices + (("None",) if takes_none else ())
                raise SettingError(f"{where}: choose one of {', '.join(listed)}")
            return
        expected = annotated[1] if annotated else _kind(self.default)
        if expected is not None and not _fits(value, expected):
            raise SettingError(f"{where}: give {expected[1]}" + (" or null" if takes_none else ""))


def _kind(default) -> tuple[tuple[type, ...], str] | None:
    """(accepted types, their description) of a parameter with this default; None when any value goes."""
    if default is _NO_DEFAULT or default is None:
        return None
    if isinstance(default, bool):
        return (bool,), "true or false"
    if isinstance(default, int):
        return (int,), "an integer"
    if isinstance(default, float):
        return (int, float), "a number"
    if isinstance(default, str):
        return (str,), "a text"
    if isinstance(default, (list, tuple)):
        return (list, tuple), 'a list (JSON, e.g. ["a", "b"])'
    if isinstance(default, dict):
        return (dict,), 'a mapping (JSON, e.g. {"a": 1})'
    return None


def _annotated_kind(annotation: str) -> tuple[bool, tuple[tuple[type, ...], str] | None] | None:
    """(None allowed, kind) of an annotation such as `int`, `Optional[float]` or `list[str]`; None when there is
    no annotation or it names another type."""
    inner = re.fullmatch(r"Optional\[(.+)\]", annotation)
    base = (inner.group(1) if inner else annotation).split("[")[0]
    samples = {"bool": False, "int": 0, "float": 0.0, "str": "", "list": []}
    if base not in samples:
        return None
    return bool(inner), _kind(samples[base])


def _fits(value, kind: tuple[tuple[type, ...], str]) -> bool:
    types, _ = kind
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def declared_parameters(path: str | Path) -> dict[str, NotebookParameter]:
    """The parameters of the notebook's cell tagged `parameters`, by name (SettingError when it has none)."""
    import papermill  # lazy: see gcl_nb.workbench.notebooks.runner

    logger = logging.getLogger("papermill")
    level = logger.level
    logger.setLevel(logging.WARNING)  # inspect_notebook logs "Input Notebook: ..." at INFO
    try:
        declared = papermill.inspect_notebook(str(path))
    finally:
        logger.setLevel(level)
    if not declared:
        raise SettingError(f"{path}: no cell tagged 'parameters'; tag the cell holding the notebook's knobs")
    out = {}
    for name, info in declared.items():
        try:
            default = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            default = _NO_DEFAULT
        comment = info.get("help") or ""
        match = _CHOICES.match(comment)
        choices = tuple(c.strip() for c in match.group(1).split("|")) if match else ()
        out[name] = NotebookParameter(
            name, default, choices, info.get("inferred_type_name") or "None", "None:" in comment
        )
    return out


def check_parameters(values: Mapping[str, Any], declared: Mapping[str, Mapping[str, NotebookParameter]]) -> None:
    """SettingError for the first value of `values` that no notebook declares, or that a notebook declaring it does
    not accept. `declared`: notebook name -> its declared_parameters."""
    known = sorted(set().union(*(set(params) for params in declared.values())))
    for name, value in values.items():
        users = {notebook: params[name] for notebook, params in declared.items() if name in params}
        if not users:
            raise SettingError(
                f"notebook parameter {name!r} is not declared by any notebook; the notebooks declare {', '.join(known)}"
            )
        for notebook, parameter in users.items():
            parameter.check(value, notebook)
