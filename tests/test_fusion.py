"""What each field contributes: re-fused encoders share their towers and reproduce single-field models."""

import json
import shutil
import warnings

import pandas as pd
import pytest
import torch

from gcl_nb.data import load_gs
from gcl_nb.data.schema import SPLITS
from gcl_nb.evaluation import fusion
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.encoding import encode_product_fields, encode_products
from gcl_nb.evaluation.split_evaluation import evaluate
from gcl_nb.models import EncoderConfig, FieldSpec, MultiFieldEncoder, build_encoder


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return build_encoder(EncoderConfig(image_size=32)).eval()


@pytest.fixture(scope="module")
def data(synthshop_smoke):
    return load_gs(synthshop_smoke)


def test_with_rhs_weights_shares_the_towers_and_validates(encoder):
    image_alone = encoder.with_rhs_weights([1, 0])
    assert image_alone.clip is encoder.clip and image_alone.config.rhs_weights == [1.0, 0.0]
    assert encoder.config.rhs_weights == [0.5, 0.5]  # the original is untouched
    with pytest.raises(ValueError, match="rhs_weights"):
        encoder.with_rhs_weights([1.0])


def test_a_field_alone_equals_a_model_of_that_field_only(encoder, data):
    corpus = data.corpus_for("in_domain")
    ids = corpus.products.index[:8].tolist()
    only_image = MultiFieldEncoder(
        EncoderConfig(rhs=[FieldSpec("image", "image")], image_size=32),
        encoder.clip,
        encoder.tokenizer,
        encoder.transform_train,
        encoder.transform_eval,
        encoder.embed_dim,
    )
    torch.testing.assert_close(
        encode_products(encoder.with_rhs_weights([1, 0]), corpus, ids), encode_products(only_image, corpus, ids)
    )
    fused = encode_products(encoder, corpus, ids)
    assert not torch.allclose(fused, encode_products(only_image, corpus, ids))


def test_field_ablation_and_sweep_agree(encoder, data):
    ablation = fusion.field_ablation(encoder, data, EvalConfig(top_q=12))
    assert list(dict.fromkeys(ablation["fields"])) == ["image", "title", fusion.FUSED]
    table = fusion.field_table(ablation)
    assert list(table.columns) == list(SPLITS) and list(table.index) == ["image", "title", "fused"]
    sweep = fusion.fusion_sweep(encoder, data, weights=[0.0, 0.5, 1.0], config=EvalConfig(top_q=12))
    by_weight = sweep.set_index(["image_weight", "split"])["ndcg@10"]
    for weight, fields in ((1.0, "image"), (0.0, "title"), (0.5, fusion.FUSED)):
        expected = ablation[ablation["fields"] == fields].set_index("split")["ndcg@10"]
        pd.testing.assert_series_equal(by_weight.xs(weight).sort_index(), expected.sort_index(), check_names=False)
    with pytest.raises(ValueError, match="one of several document fields"):
        fusion.fusion_sweep(encoder, data, field="colour")


def test_fusing_field_embeddings_equals_encoding_fused(encoder, data):
    corpus = data.corpus_for("zero_shot")
    ids = corpus.products.index[:16].tolist()
    embs, mask = encode_product_fields(encoder, corpus, ids)
    assert embs.shape == (16, 2, encoder.embed_dim) and mask.dtype == torch.bool
    for weights in ([0.5, 0.5], [0.9, 0.1], [0.0, 1.0]):
        model = encoder.with_rhs_weights(weights)
        torch.testing.assert_close(model.fuse("rhs", embs, mask), encode_products(model, corpus, ids))


def test_ablation_encodes_each_corpus_once_and_matches_full_evaluations(encoder, data, monkeypatch):
    calls = []
    real = fusion.encode_product_fields
    monkeypatch.setattr(fusion, "encode_product_fields", lambda *a, **k: calls.append(a[1].name) or real(*a, **k))
    ablation = fusion.field_ablation(encoder, data, EvalConfig(top_q=12))
    corpora = {data.corpus_for(split).name for split in SPLITS}
    assert sorted(calls) == sorted(corpora)  # one encoding per corpus, for all three weight vectors
    for fields, weights in (("image", [1, 0]), ("title", [0, 1]), (fusion.FUSED, None)):
        model = encoder if weights is None else encoder.with_rhs_weights(weights)
        full = evaluate(model, data, EvalConfig(top_q=12)).set_index("split")
        rows = ablation[ablation["fields"] == fields].set_index("split")
        pd.testing.assert_frame_equal(rows[full.columns], full, check_exact=False, atol=1e-6)


def test_products_without_the_weighted_field_are_left_out_and_counted(encoder, synthshop_smoke, tmp_path):
    """Real releases have empty titles: weighting the title alone cannot embed those products. They are left out
    of that configuration's search (counted), while the image-only and fused configurations keep them."""
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    untitled = {}
    for half in (1, 2):
        corpus = json.loads((shop / f"corpus_{half}.json").read_text())
        for pid in list(corpus)[::5]:
            corpus[pid]["title"] = ""
        untitled[half] = set(list(corpus)[::5])
        (shop / f"corpus_{half}.json").write_text(json.dumps(corpus))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader warns with the counts of missing titles
        data = load_gs(shop)
    ablation = fusion.field_ablation(encoder, data, EvalConfig(top_q=12)).set_index(["fields", "split"])
    for split in SPLITS:
        corpus = data.corpus_for(split)
        n_untitled = len(untitled[int(corpus.half)])
        title = ablation.loc[("title", split)]
        assert title["n_docs_excluded"] == n_untitled and title["n_docs"] == len(corpus) - n_untitled
        for fields in ("image", fusion.FUSED):
            assert ablation.loc[(fields, split), "n_docs_excluded"] == 0
            assert ablation.loc[(fields, split), "n_docs"] == len(corpus)
    sweep = fusion.fusion_sweep(encoder, data, weights=[0.0, 1.0], config=EvalConfig(top_q=12))
    assert set(sweep.loc[sweep["image_weight"] == 0.0, "n_docs_excluded"]) == {n for n in map(len, untitled.values())}
    assert (sweep.loc[sweep["image_weight"] == 1.0, "n_docs_excluded"] == 0).all()
    in_domain = data.corpus_for("in_domain")
    embs, mask = encode_product_fields(encoder, in_domain, in_domain.products.index[:10])
    title_only = encoder.with_rhs_weights([0, 1])
    with pytest.raises(ValueError, match="no present field with a nonzero weight"):
        title_only.fuse("rhs", embs, mask)
    keep = title_only.embeddable("rhs", mask)
    assert keep.tolist() == mask[:, 1].tolist()
    assert title_only.fuse("rhs", embs[keep], mask[keep]).shape == (int(keep.sum()), encoder.embed_dim)
