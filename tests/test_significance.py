import math

import numpy as np
import pytest
from scipy.stats import binomtest

from fashion_mnist.significance import mcnemar_exact, wilson_interval

Z95 = 1.959963984540054


def _wilson_by_hand(correct: int, total: int) -> tuple[float, float]:
    """Wilson's score interval from its closed form."""
    p, z2 = correct / total, Z95**2
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = (Z95 / (1 + z2 / total)) * math.sqrt(
        p * (1 - p) / total + z2 / (4 * total**2)
    )
    return centre - half, centre + half


@pytest.mark.parametrize(
    ("correct", "total"), [(8343, 10000), (0, 10), (10, 10), (7, 9)]
)
def test_the_interval_is_wilsons_score_interval(correct, total):
    low, high = wilson_interval(correct, total)

    scipy_interval = binomtest(correct, total).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx(_wilson_by_hand(correct, total), abs=1e-12)
    assert (low, high) == pytest.approx(
        (scipy_interval.low, scipy_interval.high), abs=1e-12
    )
    assert 0.0 <= low <= correct / total <= high <= 1.0


def test_an_accuracy_near_0_834_on_10000_images_is_known_to_about_0_007():
    low, high = wilson_interval(8343, 10000)

    assert (round(low, 4), round(high, 4)) == (0.8269, 0.8415)


def test_mcnemar_counts_only_the_images_one_model_gets_right():
    right_a = np.array([True, True, False, False, True, True, True, True])
    right_b = np.array([True, False, True, True, True, True, True, True])

    test = mcnemar_exact(right_a, right_b)

    # 1 image only A gets right, 2 only B: p = P(X <= 1 or X >= 2 | n = 3) = 1.
    assert (test["only_a"], test["only_b"], test["p_value"]) == (1, 2, 1.0)


@pytest.mark.parametrize(
    ("only_a", "only_b", "p_value"),
    [(0, 6, 2 / 2**6), (1, 5, 2 * 7 / 2**6), (2, 10, 2 * 79 / 2**12), (0, 0, 1.0)],
)
def test_mcnemar_gives_the_exact_two_sided_binomial_p_value(only_a, only_b, p_value):
    both = 30
    right_a = np.array([True] * (both + only_a) + [False] * only_b + [False] * 5)
    right_b = np.array([True] * both + [False] * only_a + [True] * only_b + [False] * 5)

    test = mcnemar_exact(right_a, right_b)

    assert test["p_value"] == pytest.approx(p_value, rel=1e-12)
    if only_a + only_b:
        assert test["p_value"] == pytest.approx(
            binomtest(only_a, only_a + only_b).pvalue, rel=1e-12
        )
    assert (test["only_a"], test["only_b"]) == (only_a, only_b)


def test_mcnemar_refuses_predictions_of_different_images():
    with pytest.raises(ValueError, match="got 3 and 2 predictions"):
        mcnemar_exact(np.ones(3, bool), np.ones(2, bool))
