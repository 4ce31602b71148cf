"""gcl_nb.workbench.lessons: the toy's cosine figure (one panel per training, one line per product)."""

import numpy as np
import pytest

from gcl_nb.workbench.lessons import cosine_trajectories_figure


def test_cosine_trajectories_figure_draws_each_product_of_each_training():
    histories = {"constant": np.full((5, 3), 0.7), "linear": np.linspace(0, 1, 15).reshape(5, 3)}
    fig = cosine_trajectories_figure(histories, ["score 100", "score 60", "score 20"])
    assert [a.text for a in fig.layout.annotations] == ["constant", "linear"]
    assert len(fig.data) == 6 and [t.showlegend for t in fig.data] == [True] * 3 + [False] * 3
    np.testing.assert_allclose(fig.data[4].y, histories["linear"][:, 1])
    assert list(fig.data[4].x) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match=r"a history of shape \(5, 2\), not \(steps, 3\)"):
        cosine_trajectories_figure({"x": np.zeros((5, 2))}, ["a", "b", "c"])
