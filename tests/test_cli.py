"""The `gcl-nb` entry point and the shared data schema."""
import subprocess
import sys

import pytest

from gcl_nb.workbench.cli import SUBCOMMANDS, main
from gcl_nb.data.schema import SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, DataError, check_split


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, "-m", "gcl_nb", "--help"], capture_output=True, text=True, check=True)
    for name in SUBCOMMANDS:
        assert name in out.stdout


def test_unknown_subcommand_exits_with_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_split_tables_agree_with_marqo_gs_layout():
    assert SPLITS == ("in_domain", "novel_query", "novel_document", "zero_shot")
    for split in SPLITS:
        stem = SPLIT_FILE_STEMS[split]
        query_side, product_half = int(stem[6]), int(stem[-1])
        assert SPLIT_CORPUS[split] == product_half + 1
        assert query_side == (0 if split in ("in_domain", "novel_document") else 1)


def test_check_split_names_the_valid_choices():
    assert check_split("zero_shot") == "zero_shot"
    with pytest.raises(DataError, match="in_domain, novel_query, novel_document, zero_shot"):
        check_split("indomain")
