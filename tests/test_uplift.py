"""Uplift statistics (engine.analytics.effectiveness.uplift): checked against published values, and on
planted effects and planted nulls drawn with a fixed seed."""

from __future__ import annotations

import random

import pytest

from engage.engine.analytics.effectiveness import uplift


def draw(n: int, rate: float, rng: random.Random) -> int:
    """How many of n recipients convert when each does with probability `rate`."""
    return sum(rng.random() < rate for _ in range(n))


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "difference", "low", "high"), [
    (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
    (6, 7, 2, 7, 0.5714, 0.0582, 0.8062),
    (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
])
def test_the_difference_interval_is_newcombes_hybrid_score_interval_as_published(x1, n1, x2, n2, difference, low,
                                                                                  high):
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
    d, lo, hi = uplift.newcombe(x1, n1, x2, n2)
    assert (round(d, 4), round(lo, 4), round(hi, 4)) == (difference, low, high)


def test_the_wilson_interval_matches_newcombes_single_proportion_example():
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I: 81/263, method 3
    low, high = uplift.wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_the_wilson_interval_of_no_success_starts_at_zero():
    low, high = uplift.wilson(0, 20)
    assert low == 0.0 and 0.16 < high < 0.17


def test_the_relative_uplift_interval_is_the_log_ratio_interval():
    ratio_minus_one, low, high = uplift.relative(9, 10, 3, 10)
    # risk ratio 3.0; se of its log sqrt(1/9 - 1/10 + 1/3 - 1/10) = 0.49441; 3 exp(-+1.95996 x 0.49441)
    # = 1.1384 to 7.9062 (Katz et al. 1978)
    assert (round(ratio_minus_one, 4), round(low, 4), round(high, 4)) == (2.0, 0.1384, 6.9062)


def test_the_relative_uplift_is_undefined_when_the_control_group_has_no_success():
    assert uplift.relative(5, 56, 0, 29) is None
    assert uplift.compare(5, 56, 0, 29).relative is None


def test_the_p_value_is_the_pooled_two_proportion_z_test():
    # chi-square without continuity correction for 56/70 vs 48/80: 7.0226, p = 0.00805
    assert uplift.p_value(56, 70, 48, 80) == pytest.approx(0.00805, abs=0.00005)


def test_identical_groups_have_a_p_value_of_one():
    assert uplift.p_value(0, 100, 0, 50) == 1.0
    assert uplift.p_value(30, 100, 15, 50) == pytest.approx(1.0)


def test_a_planted_effect_is_significant_and_its_interval_covers_the_true_difference():
    rng = random.Random(23)
    treated, control = draw(3000, 0.30, rng), draw(3000, 0.10, rng)
    c = uplift.compare(treated, 3000, control, 3000)
    assert c.significant
    assert c.low > 0
    assert c.low <= 0.20 <= c.high
    assert c.relative_low <= 2.0 <= c.relative_high  # 30 % / 10 % - 1
    assert c.p_value < 0.001


def test_a_planted_null_is_not_significant_and_its_interval_covers_zero():
    rng = random.Random(23)
    treated, control = draw(3000, 0.20, rng), draw(3000, 0.20, rng)
    c = uplift.compare(treated, 3000, control, 3000)
    assert not c.significant
    assert c.low < 0 < c.high
    assert c.p_value > 0.05


def test_nothing_is_compared_while_a_group_is_empty():
    assert uplift.compare(3, 10, 0, 0) is None


def test_counts_that_cannot_be_are_refused():
    with pytest.raises(ValueError, match="successes"):
        uplift.compare(11, 10, 1, 10)


def test_an_arm_that_beats_every_other_arm_is_the_winner():
    rng = random.Random(5)
    counts = {"A": (draw(3000, 0.30, rng), 3000), "B": (draw(3000, 0.20, rng), 3000),
              "C": (draw(3000, 0.10, rng), 3000)}
    found = uplift.arms(counts, control=(draw(3000, 0.05, rng), 3000))
    assert found["winner"] == "A"
    assert found["pairs"]["A-B"].significant
    assert all(c.significant for c in found["vs_control"].values())


def test_no_winner_is_named_while_the_best_arm_s_interval_against_another_covers_zero():
    rng = random.Random(5)
    counts = {"A": (draw(2000, 0.20, rng), 2000), "B": (draw(2000, 0.20, rng), 2000)}
    found = uplift.arms(counts)
    assert found["winner"] is None
    c = found["pairs"]["A-B"]
    assert found["why"].startswith("not yet: ")
    assert c.interval_words() in found["why"] and found["why"].endswith("covers zero")
    assert found["vs_control"] == {"A": None, "B": None}


def test_the_interval_is_said_in_percentage_points():
    c = uplift.compare(101, 1000, 97, 1000)
    assert c.interval_words() == f"[{100 * c.low:.1f}, {100 * c.high:.1f}] points"


def test_a_single_arm_has_no_winner_and_says_why():
    found = uplift.arms({"A": (10, 100)}, control=(5, 100))
    assert found["winner"] is None and "one arm" in found["why"]
    assert found["vs_control"]["A"].difference == pytest.approx(0.05)
