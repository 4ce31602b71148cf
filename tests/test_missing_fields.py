"""Products with a missing field: field dropout in training, a field removed from a share of products at evaluation."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import torch

from gcl_nb.data import load_gs
from gcl_nb.data.field_drop import drop_fields
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.fusion import missing_field_ablation
from gcl_nb.models import EncoderConfig, build_encoder
from gcl_nb.training import train
from gcl_nb.training.field_dropout import FieldDropout
from gcl_nb.workbench.cli import main as cli_main
from gcl_nb.workbench.commands.common import field_shares
from gcl_nb.workbench.presets import train_config


def test_field_dropout_drops_a_seeded_share_and_never_the_last_field():
    dropout = FieldDropout({"title": 0.3}, rhs=["image", "title"], rhs_weights=[0.5, 0.5], seed=0)
    mask = torch.ones(10_000, 2, dtype=torch.bool)
    mask[:100, 0] = False  # no image: the title must stay
    out = dropout.apply(mask, step=7)
    assert out[:100, 1].all() and out[:, 0].equal(mask[:, 0])
    assert abs((~out[:, 1]).float().mean().item() - 0.3) < 0.02
    assert out.equal(dropout.apply(mask, step=7)) and not out.equal(dropout.apply(mask, step=8))
    assert mask.all(dim=1)[100:].all()  # the input is not changed
    halves = [
        dropout.apply(mask[rows], step=7, first_row=rows.start, batch_rows=len(mask))
        for rows in (slice(0, 5_000), slice(5_000, 10_000))
    ]
    assert torch.cat(halves).equal(out), "two processes' halves of a batch drop what one process drops"


def test_field_dropout_options_are_checked():
    assert field_shares("title:0.3, image:0.1") == {"title": 0.3, "image": 0.1}
    for bad in ("title", "title:x", ":0.3"):
        with pytest.raises(argparse.ArgumentTypeError, match="NAME:SHARE"):
            field_shares(bad)
    with pytest.raises(ValueError, match="'brand' is not a document field"):
        FieldDropout({"brand": 0.3}, ["image", "title"], [0.5, 0.5], 0)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        FieldDropout({"title": 1.0}, ["image", "title"], [0.5, 0.5], 0)


def test_training_with_field_dropout_masks_rows_it_fuses(synthshop_smoke, tmp_path, monkeypatch):
    from gcl_nb.training import loop

    masks = []
    original = loop.train_step

    def spy(model, loss_fn, optimizer, batch, *args):
        masks.append(batch["field_mask"].clone())
        return original(model, loss_fn, optimizer, batch, *args)

    monkeypatch.setattr(loop, "train_step", spy)
    run = train(
        train_config(
            "smoke",
            data=str(synthshop_smoke),
            out=str(tmp_path / "run"),
            progress=False,
            steps=4,
            field_dropout={"title": 0.5},
        )
    )
    titles = torch.cat(masks)[:, 1]
    assert 0.2 < (~titles).float().mean() < 0.8
    assert json.loads((run / "config.json").read_text())["train"]["field_dropout"] == {"title": 0.5}
    with pytest.raises(ValueError, match="'brand' is not a document field"):
        train(train_config("smoke", data=str(synthshop_smoke), out=str(tmp_path / "bad"), field_dropout={"brand": 0.1}))


def test_drop_fields_removes_a_seeded_share_of_each_half(synthshop_smoke):
    data = load_gs(synthshop_smoke)
    incomplete = drop_fields(data, {"title": 0.3}, seed=1)
    for half, corpus in data.corpora.items():
        titles = incomplete.corpora[half].products["title"]
        assert (titles == "").sum() == round(0.3 * len(titles))
        assert titles[titles != ""].equals(corpus.products["title"][titles != ""])
    assert incomplete.tables is data.tables and (data.corpora[1].products["title"] != "").all()
    again = drop_fields(data, {"title": 0.3}, seed=1).corpora[1].products["title"]
    assert again.equals(incomplete.corpora[1].products["title"])
    no_image = drop_fields(data, {"image": 0.5}, seed=0).corpora[2]
    assert len(no_image.without_image) == round(0.5 * len(no_image))
    with pytest.raises(ValueError, match="'brand': not a document field"):
        drop_fields(data, {"brand": 0.3})


def test_a_product_keeps_its_last_field(synthshop_smoke):
    data = load_gs(synthshop_smoke)
    without_images = drop_fields(data, {"image": 1.0}, fields=["image", "title"])
    both = drop_fields(without_images, {"title": 0.5}, fields=["image", "title"])
    assert (both.corpora[1].products["title"] != "").all()


def test_missing_field_ablation_and_evaluate_option(synthshop_smoke, tmp_path):
    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig(image_size=32)).eval()
    table = missing_field_ablation(
        encoder, load_gs(synthshop_smoke), {"title": 0.3}, config=EvalConfig(["zero_shot"], top_q=20)
    )
    assert list(table["fields"]) == ["image", "title", "fused", "title_missing_0.3"]
    run = train(train_config("smoke", data=str(synthshop_smoke), out=str(tmp_path / "run"), progress=False, steps=1))
    out = tmp_path / "eval.csv"
    assert (
        cli_main(
            [
                "evaluate",
                "--model",
                str(run),
                "--data",
                str(synthshop_smoke),
                "--splits",
                "zero_shot",
                "--top-q",
                "20",
                "--drop-field",
                "title:0.3",
                "--drop-seed",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = pd.read_csv(out).iloc[0]
    assert row["drop_field"] == "title:0.3" and row["drop_seed"] == 2 and np.isfinite(row["ndcg@10"])
    unknown = tmp_path / "unknown.csv"
    assert (
        cli_main(
            [
                "evaluate",
                "--model",
                str(run),
                "--data",
                str(synthshop_smoke),
                "--splits",
                "zero_shot",
                "--drop-field",
                "colour:0.3",
                "--out",
                str(unknown),
            ]
        )
        == 2
    ), "one line, exit 2"
    assert not unknown.exists(), "nothing written"


def test_a_gallery_shows_a_product_without_image_as_an_empty_box(synthshop_smoke):
    from gcl_nb.viz.gallery import thumbnail_img

    corpus = drop_fields(load_gs(synthshop_smoke), {"image": 1.0}).corpora[1]
    assert "no image" in thumbnail_img(corpus.products.index[0], corpus.load_image)


def test_a_field_alone_ranks_products_without_it_last(synthshop_smoke):
    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig(image_size=32)).eval()
    without_titles = drop_fields(load_gs(synthshop_smoke), {"title": 0.5})
    table = missing_field_ablation(encoder, without_titles, {}, config=EvalConfig(["in_domain"], top_q=20))
    assert list(table["fields"]) == ["image", "title", "fused"] and table["ndcg@10"].notna().all()


def test_the_measurement_script_writes_the_targets_table(synthshop_smoke, tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "missing_fields.py"
    spec = importlib.util.spec_from_file_location("missing_fields", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    results = tmp_path / "mf"
    assert (
        script.main(
            [
                "--data",
                str(synthshop_smoke),
                "--preset",
                "smoke",
                "--seeds",
                "0",
                "--methods",
                "random-init",
                "--top-q",
                "10",
                "--out",
                str(tmp_path / "out"),
                "--results",
                str(results),
            ]
        )
        == 0
    )
    table = pd.read_csv(f"{results}.csv")
    assert list(table.columns) == ["method", "seed", "split", "eval_fields", "ndcg@10", "err"]
    assert set(table["eval_fields"]) == {"all", "image", "title", "title_missing_0.3"} and len(table) == 16
    text = Path(f"{results}.md").read_text()
    assert "--methods random-init" in text and "| `random-init` | title_missing_0.3 |" in text
