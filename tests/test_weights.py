import pytest
import torch

from gcl_nb.losses.weights import (
    constant,
    get_rescaling,
    get_stw,
    linear,
    reciprocal,
    rescale_mean,
    rescale_range,
)


def test_presets_follow_their_formulas():
    s = torch.tensor([100.0, 51.0, 1.0])
    assert torch.equal(constant(s), torch.ones(3))
    assert torch.allclose(linear(s), s)
    assert torch.allclose(linear(s, scale=0.5, offset=1.0), torch.tensor([51.0, 26.5, 1.5]))
    assert torch.allclose(reciprocal(s), torch.tensor([1.0, 1 / 50, 1 / 100]))
    assert torch.allclose(reciprocal(torch.tensor([10.0, 9.0]), top=10), torch.tensor([1.0, 0.5]))


def test_rescalings():
    w = torch.tensor([1.0, 3.0, 5.0])
    assert torch.allclose(rescale_range(w, w_min=0.2), torch.tensor([0.2, 0.6, 1.0]))
    assert torch.equal(rescale_range(torch.full((3,), 7.0)), torch.ones(3))
    assert torch.allclose(rescale_mean(w), torch.tensor([1 / 3, 1.0, 5 / 3]))
    assert torch.allclose(get_rescaling("mean")(w).mean(), torch.tensor(1.0))
    out = get_rescaling("range", w_min=0.5)(w)
    assert out.min() == 0.5 and out.max() == 1.0
    assert torch.equal(get_rescaling(None)(w), w)
    mask = torch.tensor([True, False, True])
    assert torch.allclose(get_rescaling("mean")(w, mask=mask), torch.tensor([1 / 3, 0.0, 5 / 3]))
    assert torch.allclose(get_rescaling("range", w_min=0.5)(w, mask=mask), torch.tensor([0.5, 0.0, 1.0]))
    assert torch.equal(get_rescaling(None)(w, mask=mask), torch.tensor([1.0, 0.0, 5.0]))


def test_get_stw_is_elementwise_and_never_rescales():
    s = torch.tensor([20.0, 40.0, 60.0])
    assert torch.equal(get_stw("linear")(s), s)  # not divided by the mean
    assert torch.equal(get_stw("linear")(s[:1]), s[:1])  # a pair's weight does not depend on the others


def test_get_stw_resolves_names_params_and_callables():
    s = torch.tensor([2.0, 4.0])
    assert torch.allclose(get_stw("linear", scale=2.0)(s), torch.tensor([4.0, 8.0]))
    assert torch.allclose(get_stw(lambda x: x**2)(s), torch.tensor([4.0, 16.0]))
    assert torch.equal(get_stw()(s), torch.ones(2))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: get_stw("cubic"), "unknown STW 'cubic'"),
        (lambda: get_rescaling("max"), "unknown STW rescaling"),
        (lambda: get_stw(abs, scale=2.0), "only apply to the named presets"),
        (lambda: get_rescaling("range", w_min=2.0), "w_min"),
        (lambda: get_stw("linear", rescale="mean"), "'linear' has no parameter rescale .*GCLLoss\\(rescale="),
        (lambda: get_stw("constant", top=5.0), "its parameters: none"),
        (lambda: get_stw("linear", offset=-10.0)(torch.tensor([1.0])), "negative weight"),
        (lambda: get_stw("reciprocal")(torch.tensor([101.0])), "exceeds top=100"),
    ],
)
def test_bad_input_gets_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
