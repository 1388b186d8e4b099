"""SweepResult's bookkeeping against NumPy, written to kill the mutants of
regjax/_sweep_result.py that the other tests let survive (see MUTANTS.md)."""

import numpy as np
import pytest

from regjax import sweep


def _grid3():
    return sweep.grid(lam=[0.01, 0.1, 1.0])


def test_diverged_flags_against_a_numpy_loop():
    g = sweep.grid(lam=[0.01, 0.1, 1.0, 10.0])
    loss = np.array([[0.1, 0.2], [np.nan, 0.3], [0.4, 0.5], [0.6, 0.7]])
    acc = np.array([0.9, 0.8, np.inf, 0.7], np.float32)
    steps = np.array([3, 4, 5, 6])  # integers cannot be NaN: never a reason
    flag = np.array([False, False, False, True])
    ok_bool = np.array([True, True, True, True])  # a bool not named "diverged"
    metrics = {"val": {"loss": loss, "diverged": flag}, "acc": acc, "n": steps, "ok": ok_bool}
    r = sweep.SweepResult(g, metrics)
    expected = np.zeros(len(g), bool)
    for i in range(len(g)):
        expected[i] = not np.isfinite(loss[i]).all() or not np.isfinite(acc[i]) or bool(flag[i])
    np.testing.assert_array_equal(r.diverged, expected)
    assert r.diverged.dtype == np.bool_


def test_a_diverged_flag_with_a_fold_axis_flags_the_member():
    g = _grid3()
    flag = np.array([[False, False], [False, True], [False, False]])
    r = sweep.SweepResult(g, {"loss": np.ones((3, 2)), "diverged": flag})
    np.testing.assert_array_equal(r.diverged, [False, True, False])


def test_a_float_metric_named_diverged_flags_nonzero_and_non_finite_members():
    g = sweep.grid(lam=[0.01, 0.1, 1.0, 10.0])
    flag = np.array([0.0, np.nan, 0.5, -0.0])
    r = sweep.SweepResult(g, {"diverged": flag})
    expected = [not (np.isfinite(v) and v == 0) for v in flag]
    np.testing.assert_array_equal(r.diverged, expected)


def test_an_explicit_diverged_is_used_as_bools():
    g = _grid3()
    r = sweep.SweepResult(g, {"loss": np.array([0.1, np.nan, 0.3])}, diverged=[0, 0, 1])
    np.testing.assert_array_equal(r.diverged, [False, False, True])
    assert r.diverged.dtype == np.bool_


@pytest.mark.parametrize(
    "metrics",
    [
        {"loss": np.float64(0.5)},  # no member axis
        {"loss": np.zeros(4)},  # leading axis is not the 3 members
        {"a": np.zeros(3), "b": np.zeros((2, 3))},
    ],
)
def test_metrics_without_a_member_axis_are_refused(metrics):
    with pytest.raises(ValueError, match=r"SweepResult\(metrics=\.\.\.\)"):
        sweep.SweepResult(_grid3(), metrics)


def test_metrics_with_a_member_axis_are_accepted():
    r = sweep.SweepResult(_grid3(), {"a": np.zeros(3), "b": np.zeros((3, 2, 2))})
    assert r.metric("b").shape == (3, 2, 2)


def test_metric_names_lookup_and_reshape():
    g = sweep.grid(lam=[0.01, 0.1], p=[0.0, 0.5, 0.9])
    loss = np.arange(6.0)
    r = sweep.SweepResult(g, {"val": {"loss": loss}, "acc": loss + 1})
    assert sorted(r.metric_names()) == ["acc", "val/loss"]
    np.testing.assert_array_equal(r.metric("val/loss"), loss)
    np.testing.assert_array_equal(r.metric("val/loss", reshape=True), loss.reshape(2, 3))
    with pytest.raises(KeyError, match=r"no metric 'loss'"):
        r.metric("loss")
    bare = sweep.SweepResult(g, loss)
    assert bare.metric_names() == ["metric"]
    np.testing.assert_array_equal(bare.metric("metric"), loss)
    assert bare.best("metric") == {"lam": 0.01, "p": 0.0}


def test_best_skips_diverged_and_non_finite_members():
    g = sweep.grid(lam=[0.01, 0.1, 1.0, 10.0])
    loss = np.array([0.05, np.nan, 0.2, 0.3])
    r = sweep.SweepResult(g, {"loss": loss}, diverged=[True, False, False, False])
    # a NumPy loop over the members that are neither diverged nor NaN
    usable = [i for i in range(4) if i != 0 and np.isfinite(loss[i])]
    assert r.best_index("loss") == min(usable, key=lambda i: loss[i])
    assert r.best_index("loss", mode="max") == max(usable, key=lambda i: loss[i])
    assert r.best("loss", mode="max") == g.member(3)


def test_no_usable_member_is_an_error():
    r = sweep.SweepResult(_grid3(), {"loss": np.array([np.nan, 1.0, np.inf])}, diverged=[0, 1, 0])
    with pytest.raises(ValueError, match=r"every member diverged or has a non-finite 'loss'"):
        r.best("loss")


def test_best_averages_every_non_member_axis():
    g = _grid3()
    rng = np.random.default_rng(0)
    values = rng.uniform(size=(3, 2, 4)).astype(np.float32)
    r = sweep.SweepResult(g, {"m": values})
    mean = values.astype(np.float64).reshape(3, -1).mean(axis=1)
    assert r.best_index("m") == int(np.argmin(mean))
    assert r.best_index("m", mode="max") == int(np.argmax(mean))
    # with more than one non-member axis there is no fold axis, so no standard error
    with pytest.raises(ValueError, match=r"'m' has no fold axis"):
        r.one_standard_error("m")


def test_a_single_fold_has_no_standard_error():
    r = sweep.SweepResult(_grid3(), {"m": np.array([[0.3], [0.1], [0.2]])})
    assert r.best("m") == {"lam": 0.1}
    with pytest.raises(ValueError, match=r"'m' has no fold axis"):
        r.one_standard_error("m")


def test_one_standard_error_tolerance_is_std_ddof1_over_sqrt_k():
    # members just inside and just outside mean_best + se, with se from NumPy
    g = sweep.grid(lam=[0.01, 0.1, 1.0, 10.0])
    best = np.array([0.0, 0.1, 0.2])
    se = best.std(ddof=1) / np.sqrt(3)
    inside = best.mean() + 0.99 * se
    outside = best.mean() + 1.01 * se
    folds = np.array(
        [
            [1.0, 1.0, 1.0],
            best,
            np.full(3, inside),
            np.full(3, outside),
        ]
    )
    r = sweep.SweepResult(g, {"loss": folds})
    assert r.one_standard_error("loss") == {"lam": 1.0}
    assert r.one_standard_error("loss", simpler="smaller") == {"lam": 0.1}
    r_max = sweep.SweepResult(g, {"acc": -folds})
    assert r_max.one_standard_error("acc", mode="max") == {"lam": 1.0}


def test_one_standard_error_excludes_diverged_members():
    g = sweep.grid(lam=[0.01, 0.1, 1.0])
    folds = np.array([[0.2, 0.4], [0.2, 0.4], [0.2, 0.4]])
    r = sweep.SweepResult(g, {"loss": folds}, diverged=[False, False, True])
    assert r.one_standard_error("loss") == {"lam": 0.1}


def test_one_standard_error_errors_name_the_method_and_argument():
    g2 = sweep.grid(lam=[0.01, 0.1], p=[0.0, 0.5])
    r2 = sweep.SweepResult(g2, {"loss": np.ones((4, 3))})
    with pytest.raises(ValueError, match=r"^`SweepResult\.one_standard_error\(by=\.\.\.\)` is req"):
        r2.one_standard_error("loss")
    with pytest.raises(
        ValueError, match=r"^`SweepResult\.one_standard_error\(by=\.\.\.\)` must be"
    ):
        r2.one_standard_error("loss", by="rate")
    with pytest.raises(ValueError, match=r"^`SweepResult\.one_standard_error\(simpler=\.\.\.\)`"):
        r2.one_standard_error("loss", by="lam", simpler="bigger")
    with pytest.raises(ValueError, match=r"^`SweepResult\.one_standard_error\(mode=\.\.\.\)`"):
        r2.one_standard_error("loss", by="lam", mode="best")
    assert r2.one_standard_error("loss", by="p") == {"lam": 0.01, "p": 0.5}


def test_best_index_mode_error_names_the_method():
    r = sweep.SweepResult(_grid3(), {"loss": np.ones(3)})
    with pytest.raises(ValueError, match=r"^`SweepResult\.best_index\(mode=\.\.\.\)`"):
        r.best_index("loss", mode="maximum")


@pytest.mark.parametrize("mode", ["min", "max"])
def test_one_standard_error_with_zero_spread_keeps_ties_with_the_best(mode):
    # the best member's folds agree, so se = 0 and only its ties are within
    g = sweep.grid(lam=[0.01, 0.1, 1.0, 10.0])
    folds = np.array([[0.3, 0.3], [0.5, 0.5], [0.3, 0.3], [0.1, 0.9]])
    if mode == "max":
        folds = 1.0 - folds
    r = sweep.SweepResult(g, {"m": folds})
    mean = folds.mean(axis=1)
    best = float(mean.min() if mode == "min" else mean.max())
    ties = [i for i in range(len(g)) if mean[i] == best]
    lam = np.asarray(g["lam"], np.float64)
    assert r.one_standard_error("m", mode=mode) == g.member(max(ties, key=lambda i: lam[i]))
    assert r.one_standard_error("m", mode=mode, simpler="smaller") == g.member(
        min(ties, key=lambda i: lam[i])
    )


def test_one_standard_error_with_no_usable_member_names_the_metric():
    r = sweep.SweepResult(_grid3(), {"loss": np.ones((3, 2))}, diverged=[1, 1, 1])
    with pytest.raises(ValueError, match=r"non-finite 'loss'"):
        r.one_standard_error("loss")


@pytest.mark.parametrize("mode", ["min", "max"])
def test_one_standard_error_breaks_ties_in_by_with_the_mean(mode):
    # two members share the simplest lam and are both within one se: the one
    # closer to the best wins, whichever of them comes first in the grid
    g = sweep.grid(lam=[0.1, 1.0], p=[0.0, 0.5, 0.9])
    means = np.array([0.10, 0.11, 0.12, 0.13, 0.12, 0.11])
    folds = np.stack([means - 0.05, means + 0.05], axis=1)
    if mode == "max":
        folds = -folds
    r = sweep.SweepResult(g, {"m": folds})
    mean = folds.mean(axis=1)
    se = folds.std(axis=1, ddof=1) / np.sqrt(2)
    b = int(np.argmin(mean) if mode == "min" else np.argmax(mean))
    ok = [i for i in range(len(g)) if abs(mean[i] - mean[b]) <= se[b]]
    lam = np.asarray(g["lam"], np.float64)
    top = max(lam[i] for i in ok)
    closest = min((i for i in ok if lam[i] == top), key=lambda i: abs(mean[i] - mean[b]))
    assert closest == 5  # the data are built so that the tie-break matters
    assert r.one_standard_error("m", mode=mode, by="lam") == g.member(closest)


def test_one_standard_error_orders_the_whole_int32_range():
    # -(-2**31) wraps in int32; the rule must compare the values themselves
    g = sweep.grid(k=[-(2**31), 0, 5])
    r = sweep.SweepResult(g, {"m": np.full((3, 2), 0.5)})
    assert r.one_standard_error("m", by="k", simpler="larger") == {"k": 5}
    assert r.one_standard_error("m", by="k", simpler="smaller") == {"k": -(2**31)}


def test_fold_means_of_a_float32_metric_are_taken_in_float64():
    # in float32, 1e8 + 1 rounds to 1e8, so the first member's mean would be 0;
    # math.fsum gives the exact sums
    import math

    g = sweep.grid(lam=[0.1, 1.0])
    folds = np.array([[1e8, 1.0, -1e8], [0.1, 0.1, 0.1]], np.float32)
    r = sweep.SweepResult(g, {"m": folds})
    exact = [math.fsum(float(x) for x in row) / 3 for row in folds]
    assert r.best_index("m") == int(np.argmin(exact)) == 1
    assert r.best_index("m", mode="max") == int(np.argmax(exact)) == 0


def test_a_non_numeric_metric_is_kept_and_never_a_reason_to_diverge():
    g = _grid3()
    names = np.array(["a", "b", "c"])
    r = sweep.SweepResult(g, {"name": names, "loss": np.array([0.3, np.nan, 0.1])})
    np.testing.assert_array_equal(r.diverged, [False, True, False])
    np.testing.assert_array_equal(r.metric("name"), names)
    assert r.best("loss") == {"lam": 1.0}
