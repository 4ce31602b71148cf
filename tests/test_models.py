import json
import logging

import open_clip
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.evaluation.encoding import encode_products, encode_queries
from gcl_nb.models import EncoderConfig, FieldSpec, build_encoder, load_encoder, save_checkpoint
from gcl_nb.models.factory import unused_pooler_only
from gcl_nb.models.token_cache import CachedTokenizer
from gcl_nb.models.trimmed_text import can_trim, encode_text


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return build_encoder(EncoderConfig(arch="gcl-tiny", rhs_weights=[0.9, 0.1]))


def test_config_defaults_and_validation():
    config = EncoderConfig()
    assert [f.name for f in config.rhs] == ["image", "title"] and config.rhs_weights == pytest.approx([0.5, 0.5])
    assert config.arch == "gcl-rn-tiny"
    assert EncoderConfig(rhs=[FieldSpec("title")]).rhs_weights == [1.0]
    assert EncoderConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert FieldSpec.parse("image") == FieldSpec("image", "image")
    assert FieldSpec.parse("photo:image") == FieldSpec("photo", "image")
    assert FieldSpec.parse("title") == FieldSpec("title", "text")
    for bad, match in [
        (dict(rhs=[FieldSpec("title")], rhs_weights=[0.5, 0.5]), "rhs_weights"),
        (dict(lhs=[FieldSpec("image", "image")]), "LHS fields must be text"),
        (dict(text_tower="bert"), "text_tower"),
        (dict(rhs=[]), "at least one field"),
    ]:
        with pytest.raises(ValueError, match=match):
            EncoderConfig(**bad)
    with pytest.raises(ValueError, match="kind must be"):
        FieldSpec("title", "audio")
    with pytest.raises(SettingError, match="arch='ViT-Q-99': unknown architecture"):
        build_encoder(EncoderConfig(arch="ViT-Q-99"))
    with pytest.raises(SettingError, match="neither a file nor an open_clip pretrained tag of ViT-B-32"):
        build_encoder(EncoderConfig(arch="ViT-B-32", pretrained="laion2b_nonexistent"))


def images(encoder, n):
    g = torch.Generator().manual_seed(n)
    return torch.stack(
        [
            encoder.preprocess(Image.fromarray((torch.rand(40, 48, 3, generator=g) * 255).byte().numpy()))
            for _ in range(n)
        ]
    )


@torch.no_grad()
def test_fusion_renormalises_over_present_fields_whichever_is_missing(encoder):
    img, title = images(encoder, 3), encoder.tokenize(["red dress", "blue shoe", "green hat"])
    e_img = encoder.clip.encode_image(img, normalize=True)
    e_title = encoder.clip.encode_text(title, normalize=True)
    mask = torch.tensor([[True, True], [False, True], [True, False]])
    fused = encoder.encode_fields("rhs", {"image": img, "title": title}, mask)
    assert torch.allclose(fused[0], F.normalize(0.9 * e_img[0] + 0.1 * e_title[0], dim=0), atol=1e-6)
    assert torch.allclose(fused[1], e_title[1], atol=1e-6)
    assert torch.allclose(fused[2], e_img[2], atol=1e-6)
    assert torch.allclose(fused.norm(dim=1), torch.ones(3))
    with pytest.raises(ValueError, match=r"rhs rows \[1\] have no present field"):
        encoder.encode_fields(
            "rhs", {"image": img, "title": title}, torch.tensor([[True, True], [False, False], [True, True]])
        )
    with pytest.raises(ValueError, match="lacks field"):
        encoder.encode_fields("rhs", {"image": img})


class FakeCorpus:
    """The Corpus interface of gcl_nb.data: products indexed by product_id, images by id."""

    half = 1

    def __init__(self, pictures):
        self.products = pd.DataFrame({"title": ["red dress", "blue shoe", ""]}, index=["p1", "p2", "p3"])
        self.pictures = pictures

    def has_image(self, pid):
        return pid in self.pictures

    def load_image(self, pid):
        return self.pictures[pid]


@torch.no_grad()
def test_encode_queries_and_products(encoder):
    red = Image.new("RGB", (50, 40), (220, 20, 20))
    corpus = FakeCorpus({"p1": red, "p3": red})
    got = encode_products(encoder, corpus, ["p1", "p2", "p3"], batch_size=2)
    assert got.dtype == torch.float32 and got.device.type == "cpu" and got.shape == (3, 128)
    e_img = encoder.clip.encode_image(encoder.preprocess(red)[None], normalize=True)[0]
    e_title = encoder.clip.encode_text(encoder.tokenize(["red dress", "blue shoe"]), normalize=True)
    assert torch.allclose(got[0], F.normalize(0.9 * e_img + 0.1 * e_title[0], dim=0), atol=1e-5)
    assert torch.allclose(got[1], e_title[1], atol=1e-5)  # no image: title only
    assert torch.allclose(got[2], e_img, atol=1e-5)  # empty title: image only
    queries = encode_queries(encoder, ["red dress", "blue shoe", "hat"], batch_size=2, progress=False)
    assert torch.allclose(queries[:2], e_title, atol=1e-5)
    assert encode_queries(encoder, []).shape == (0, 128)
    with pytest.raises(ValueError, match="not in corpus 1"):
        encode_products(encoder, corpus, ["p9"])


def test_checkpoint_round_trip_through_open_clip(encoder, tmp_path):
    file = save_checkpoint(encoder, tmp_path / "run", extra={"train": {"steps": 3}})
    assert file == tmp_path / "run" / "checkpoint.pt"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"] == {"steps": 3}
    tokens = encoder.tokenize(["red dress"])
    with torch.no_grad():
        expected = encoder.clip.encode_text(tokens)
        plain, _, _ = open_clip.create_model_and_transforms("gcl-tiny", pretrained=str(file))
        assert torch.equal(plain.encode_text(tokens), expected)
        reloaded = load_encoder(tmp_path / "run")
        assert reloaded.config == encoder.config
        assert torch.equal(encode_queries(reloaded, ["red dress"]), encode_queries(encoder, ["red dress"]))
        via_pretrained = build_encoder(encoder.config.replace(pretrained=str(file)))
        assert torch.equal(via_pretrained.clip.encode_text(tokens), expected)


def test_checkpoint_errors(encoder, tmp_path):
    file = save_checkpoint(encoder, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="does not fit architecture 'gcl-small'"):
        load_encoder(file, config=EncoderConfig(arch="gcl-small"))
    with pytest.raises(ValueError, match="does not fit architecture 'gcl-tiny'.*image size 64"):
        load_encoder(file, config=EncoderConfig(arch="gcl-tiny", image_size=64))
    good = file.read_bytes()
    for name, content in [("truncated.pt", good[: len(good) // 2]), ("garbage.pt", b"not a checkpoint" * 100)]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            load_encoder(tmp_path / name)
    torch.save({"model": object()}, tmp_path / "pickled.pt")  # arbitrary objects are never unpickled
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_encoder(tmp_path / "pickled.pt")
    (tmp_path / "config.json").unlink()
    with pytest.raises(SettingError, match="without this project's config.json beside it; name its architecture"):
        load_encoder(file)
    assert load_encoder(file, config=encoder.config).config == encoder.config  # the config given instead
    with pytest.raises(DataError, match="no such file or folder"):
        load_encoder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no checkpoint"):
        load_encoder(tmp_path / "empty")


def test_image_less_minilm_text_tower(tmp_path):
    config = EncoderConfig(rhs=[FieldSpec("title")], text_tower="minilm")
    encoder = build_encoder(config)
    assert not any(p.requires_grad for p in encoder.clip.visual.parameters())
    titles = encoder.tokenize(["red summer dress", "leather boots"])
    q = encoder.encode_fields("lhs", {"query": encoder.tokenize(["red dress", "boots"])})
    d = encoder.encode_fields("rhs", {"title": titles})
    (q @ d.T).sum().backward()
    assert encoder.clip.text.transformer.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="no image fields"):
        encoder.preprocess(Image.new("RGB", (8, 8)))
    save_checkpoint(encoder, tmp_path)
    with torch.no_grad():
        reloaded = load_encoder(tmp_path)
        assert torch.equal(encode_queries(reloaded, ["red dress"]), encode_queries(encoder, ["red dress"]))


def test_the_minilm_tower_loads_without_its_expected_pooler_report():
    """transformers reports the checkpoint's pooler, which open_clip's mean-pooling tower leaves out, at every
    load; that report alone is dropped, any other is kept. Its weight-loading bar is off during the load only."""
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    hf_logger = logging.getLogger("transformers.modeling_utils")
    hf_logger.addHandler(handler)
    try:
        build_encoder(EncoderConfig(rhs=[FieldSpec("title")], text_tower="minilm"))
    finally:
        hf_logger.removeHandler(handler)
    assert not [r for r in records if "LOAD REPORT" in r.getMessage()]
    assert hf_logging.is_progress_bar_enabled()
    rows = "pooler.dense.bias   | \x1b[33mUNEXPECTED\x1b[0m |  | \npooler.dense.weight | UNEXPECTED |  | \n"
    report = f"BertModel LOAD REPORT from: x\nKey | Status |  | \n----+--------+--+-\n{rows}\nNotes: ..."
    assert unused_pooler_only(report)
    assert not unused_pooler_only(report.replace("Notes", "embeddings.word_embeddings.weight | MISSING |  | \nNotes"))
    assert not unused_pooler_only(report.replace("pooler.dense.bias", "encoder.layer.0.output.dense.bias"))
    assert not unused_pooler_only("BertModel LOAD REPORT from: x\n")


def test_random_init_builds_without_open_clip_warning(caplog):
    with caplog.at_level("WARNING"):
        build_encoder(EncoderConfig(image_size=32))
    assert not [r for r in caplog.records if "No pretrained weights" in r.getMessage()]


@pytest.mark.parametrize("arch", ["gcl-tiny", "gcl-rn-tiny", "gcl-small"])
def test_trimmed_text_tower_equals_open_clip_encode_text(arch):
    """Cutting the batch's shared padding columns changes no embedding, in eval and in training mode, and the
    gradients reaching the weights are the same."""
    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig(arch=arch))
    tokens = encoder.tokenize(["red dress!", "a blue cotton shoe with stripes and a long name", "x"])
    assert can_trim(encoder.clip) and (tokens[:, -8:] == 0).all()
    for train in (False, True):
        encoder.train(train)
        encoder.zero_grad()
        trimmed = encode_text(encoder.clip, tokens)
        trimmed.sum().backward()
        grads = [p.grad.clone() for p in encoder.clip.transformer.parameters()]
        encoder.zero_grad()
        full = encoder.clip.encode_text(tokens, normalize=True)
        full.sum().backward()
        assert torch.allclose(trimmed, full, atol=1e-5)
        for g, p in zip(grads, encoder.clip.transformer.parameters()):
            assert torch.allclose(g, p.grad, atol=1e-5)
    assert torch.allclose(encoder.encode_fields("lhs", {"query": tokens}), full, atol=1e-5)


def test_cached_tokenizer_gives_the_tokenizers_rows():
    calls = []
    plain = open_clip.get_tokenizer("ViT-B-32")

    def counting(texts):
        calls.append(list(texts))
        return plain(texts)

    cached = CachedTokenizer(counting, max_texts=3)
    texts = ["red dress", "blue shoe", "red dress", "green hat", "a long title with many words", "blue shoe"]
    assert torch.equal(cached(texts), plain(texts))
    assert calls == [["red dress", "blue shoe", "green hat", "a long title with many words"]]  # each text once
    assert len(cached.rows) == 3  # the cap: the fourth text is not kept ...
    assert torch.equal(
        cached(["a long title with many words", "red dress"]), plain(["a long title with many words", "red dress"])
    )
    assert calls[-1] == ["a long title with many words"]  # ... so it is tokenized again
