"""regjax.early_stopping against a plain-Python reference, and under jit/scan/vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regjax
from regjax import early_stopping

SETTINGS = settings(derandomize=True, deadline=None, database=None, max_examples=60)


def reference(metrics, patience, min_delta=0.0, mode="min"):
    """The textbook rule, written as a Python loop: (stop index or None, best, best index)."""
    best, best_i, wait = (math.inf if mode == "min" else -math.inf), -1, 0
    for i, m in enumerate(metrics):
        better = m < best - min_delta if mode == "min" else m > best + min_delta
        if better:
            best, best_i, wait = m, i, 0
        else:
            wait += 1
            if wait >= patience:
                return i, best, best_i
    return None, best, best_i


def run_scan(metrics, patience, min_delta=0.0, mode="min"):
    params0 = jnp.zeros(())
    es = early_stopping.init(params0, patience=patience, min_delta=min_delta, mode=mode)

    def step(es, m):
        new = early_stopping.update(es, m, m)  # params = the metric itself, to track the snapshot
        return new, new.stopped

    es, stopped = jax.lax.scan(step, es, jnp.asarray(metrics, jnp.float32))
    return es, np.asarray(stopped)


metric_lists = st.lists(
    st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.25, 3.0]), min_size=1, max_size=25
)


@SETTINGS
@given(
    metric_lists, st.integers(0, 5), st.sampled_from([0.0, 0.3]), st.sampled_from(["min", "max"])
)
def test_matches_python_reference(metrics, patience, min_delta, mode):
    stop_at, best, best_i = reference(metrics, patience, min_delta, mode)
    es, stopped = run_scan(metrics, patience, min_delta, mode)
    first_stop = int(np.argmax(stopped)) if stopped.any() else None
    assert first_stop == stop_at
    assert int(es.best_step) == best_i
    assert float(es.best_metric) == pytest.approx(best)
    if best_i >= 0:
        assert float(es.best_params) == pytest.approx(best)  # the snapshot at the best step
    # Frozen after stopping: stopped stays True, and the step count stops moving.
    if stop_at is not None:
        assert stopped[stop_at:].all()
        assert int(es.step) == stop_at + 1


def test_patience_means_exactly_patience_non_improving_updates():
    # One improvement, then non-improving updates: stops on the 3rd with patience 3.
    _, stopped = run_scan([1.0, 2.0, 2.0, 2.0, 2.0], patience=3)
    assert stopped.tolist() == [False, False, False, True, True]


def test_nan_metric_never_improves():
    es, stopped = run_scan([1.0, float("nan"), float("nan")], patience=2)
    assert stopped.tolist() == [False, False, True]
    assert float(es.best_metric) == 1.0


def test_vmap_members_stop_on_their_own_and_one_compile():
    traces = []

    @jax.jit
    def run(patience, metrics):
        traces.append(1)
        es = early_stopping.init(jnp.zeros(()), patience=patience)
        es, _ = jax.lax.scan(lambda s, m: (early_stopping.update(s, m, m), None), es, metrics)
        return es.stopped, es.step, es.best_metric

    seqs = np.array([[3, 2, 2, 2, 2, 2], [3, 2, 1, 0, -1, -2], [3, 4, 5, 6, 7, 8]], np.float32)
    pats = jnp.array([2, 2, 1])
    stopped, steps, best = jax.vmap(run)(pats, seqs)
    for i in range(3):
        ref_stop, ref_best, _ = reference(seqs[i].tolist(), int(pats[i]))
        assert bool(stopped[i]) == (ref_stop is not None)
        assert int(steps[i]) == (len(seqs[i]) if ref_stop is None else ref_stop + 1)
        assert float(best[i]) == ref_best
    jax.vmap(run)(pats + 1, seqs)
    assert len(traces) == 1


def test_freeze_if_stopped_holds_params_in_a_training_loop():
    # Minimize (w - 3)^2 with a validation metric that worsens after step 2.
    val = jnp.array([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])

    def step(carry, v):
        w, es = carry
        proposed = w + 1.0
        w = early_stopping.freeze_if_stopped(es, w, proposed)
        es = early_stopping.update(es, v, w)
        return (w, es), w

    es0 = early_stopping.init(jnp.zeros(()), patience=2)
    (_, es), ws = jax.lax.scan(step, (jnp.zeros(()), es0), val)
    # Updates 2 and 3 do not improve, so it stops at update 3; the freeze reads the state
    # from before each update, so w still advances at step 3 and holds from step 4 on.
    assert ws.tolist() == [1.0, 2.0, 3.0, 4.0, 4.0, 4.0]
    assert float(es.best_params) == 2.0 and int(es.best_step) == 1


def test_keep_best_false_has_no_snapshot_and_needs_no_params():
    es = early_stopping.init({"w": jnp.ones(3)}, patience=1, keep_best=False)
    assert es.best_params == ()
    es = early_stopping.update(es, 1.0)
    assert int(es.best_step) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patience": -1}, r"early_stopping.init\(patience=...\)"),
        ({"patience": 1.5}, r"early_stopping.init\(patience=...\)"),
        ({"patience": 1, "min_delta": -0.1}, r"early_stopping.init\(min_delta=...\)"),
        ({"patience": 1, "mode": "best"}, r"early_stopping.init\(mode=...\)"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        early_stopping.init(jnp.zeros(2), **kwargs)


def test_missing_params_when_keeping_best():
    es = early_stopping.init(jnp.zeros(2), patience=1)
    with pytest.raises(ValueError, match=r"early_stopping.update\(params=...\)"):
        early_stopping.update(es, 1.0)


def test_traced_bad_patience_is_reported_by_checkify():
    def f(p):
        return early_stopping.init(jnp.zeros(()), patience=p).patience

    err, _ = jax.vmap(regjax.checks.checkify(f))(jnp.array([1, -2, 3]))
    assert "at mapped index 1" in err.get()


def test_float64_metrics_are_compared_in_float64_under_x64():
    # 1 - 1e-12 rounds to 1.0 in float32: there, the second update would not improve.
    metrics = [1.0, 1.0 - 1e-12, 1.0 - 2e-12, 1.0 - 2e-12]
    with jax.enable_x64(True):
        for min_delta in (0.0, 5e-13, 2e-12):
            stop, best, best_i = reference(metrics, patience=1, min_delta=min_delta)
            es = early_stopping.init(jnp.zeros((), jnp.float64), patience=1, min_delta=min_delta)
            stopped_at = None
            for i, m in enumerate(metrics):
                es = early_stopping.update(es, jnp.float64(m), jnp.float64(m))
                if stopped_at is None and bool(es.stopped):
                    stopped_at = i
            assert es.best_metric.dtype == jnp.float64 and es.min_delta.dtype == jnp.float64
            assert (stopped_at, float(es.best_metric), int(es.best_step)) == (stop, best, best_i)
            assert float(es.best_params) == best
        assert float(np.float32(metrics[1])) == 1.0  # the case float32 cannot tell apart


def test_a_metric_the_state_cannot_hold_is_refused():
    es = early_stopping.init((), patience=1, keep_best=False)  # float32 state
    with jax.enable_x64(True):
        with pytest.raises(TypeError, match=r"early_stopping.update\(metric=...\)` must be a real"):
            early_stopping.update(es, jnp.float64(0.5))
        assert early_stopping.update(es, 0.5).best_metric.dtype == jnp.float32  # a Python float
    with pytest.raises(TypeError, match="got dtype complex64"):
        early_stopping.update(es, jnp.complex64(1.0))
    half = early_stopping.update(es, jnp.float16(0.5))  # exact in float32
    assert half.best_metric.dtype == jnp.float32 and float(half.best_metric) == 0.5
