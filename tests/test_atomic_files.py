"""gcl_nb.data.atomic_files: a write interrupted at any point leaves the previous file whole and no stray file."""

import json

import pytest
import torch

from gcl_nb.data.atomic_files import _atomic_write, atomic_torch_save, atomic_write_json


class _Interrupting:
    """Interrupts the write that reaches it: pickled by torch.save, or turned into text by json (default=str)."""

    def __reduce__(self):
        raise KeyboardInterrupt

    def __str__(self):
        raise KeyboardInterrupt


def test_writers_create_the_folder_and_replace_the_file(tmp_path):
    json_path, torch_path = tmp_path / "new" / "summary.json", tmp_path / "new" / "state.pt"
    atomic_write_json({"steps": 3, "path": tmp_path}, json_path)
    assert json.loads(json_path.read_text()) == {"steps": 3, "path": str(tmp_path)}
    atomic_write_json({"steps": 4}, json_path)
    assert json.loads(json_path.read_text()) == {"steps": 4}
    atomic_torch_save({"w": torch.arange(3)}, torch_path)
    assert torch.equal(torch.load(torch_path, weights_only=True)["w"], torch.arange(3))
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["state.pt", "summary.json"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    json_path, torch_path = tmp_path / "summary.json", tmp_path / "state.pt"
    atomic_write_json({"steps": 3}, json_path)
    atomic_torch_save({"w": torch.ones(4)}, torch_path)
    old_json, old_torch = json_path.read_bytes(), torch_path.read_bytes()

    with pytest.raises(KeyboardInterrupt):  # torch.save has written the big tensor's bytes when it reaches this
        atomic_torch_save({"w": torch.zeros(100_000), "later": _Interrupting()}, torch_path)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_json({"steps": 4, "later": _Interrupting()}, json_path)

    def half_then_crash(f):
        f.write(b'{"steps": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _atomic_write(json_path, half_then_crash)
    assert json_path.read_bytes() == old_json and torch_path.read_bytes() == old_torch
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt", "summary.json"], "no temporary file left"
