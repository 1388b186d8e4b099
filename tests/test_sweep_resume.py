"""regjax.sweep.run(checkpoint_dir=...): a resumed sweep is the sweep that was asked for.

A checkpoint directory records what computed its chunks (the traced train_fn and the
arrays it captures, its metrics' names, shapes and dtypes, the grid, key, folds, chunk
layout and regjax version); any difference is refused with a message that says what
differs and how to start over, and a chunk file that does not fit is refused too.
"""

import dataclasses
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from regjax import _sweep, sweep

GRID = sweep.grid(lam=[0.5, 1.0, 2.0, 4.0])
KEY = jax.random.key(0)
DATA = jnp.arange(3.0)
REFUSED = r"regjax\.sweep\.run\(checkpoint_dir=\.\.\.\)`: .* holds the chunks of a different sweep"


def scaled(hp, key):
    return {"m": hp["lam"] * DATA}


def shifted(hp, key):
    return {"m": hp["lam"] + DATA}


def run(fn, directory, **kw):
    return sweep.run(fn, GRID, KEY, chunk_size=2, progress=False, checkpoint_dir=directory, **kw)


def lams():
    return np.asarray([0.5, 1.0, 2.0, 4.0], np.float32)[:, None]


def test_resume_reuses_chunks_of_the_same_sweep(tmp_path):
    first = run(scaled, tmp_path)
    np.testing.assert_array_equal(first.metrics["m"], lams() * np.arange(3.0, dtype=np.float32))
    (tmp_path / "chunk_000001.npz").unlink()  # as if interrupted after the first chunk
    again = run(scaled, tmp_path)
    np.testing.assert_array_equal(again.metrics["m"], first.metrics["m"])


def test_another_train_fn_is_refused(tmp_path):
    run(scaled, tmp_path)
    with pytest.raises(ValueError, match=REFUSED) as info:
        run(shifted, tmp_path)  # used to return scaled's metrics
    message = str(info.value)
    assert "train_fn's traced program" in message
    assert f"delete {tmp_path}" in message and "new checkpoint_dir" in message
    # The refusal leaves the directory as it was: the first sweep still resumes.
    np.testing.assert_array_equal(
        run(scaled, tmp_path).metrics["m"], lams() * np.arange(3.0, dtype=np.float32)
    )


def test_the_same_code_over_other_captured_arrays_is_refused(tmp_path):
    def make(data):
        return lambda hp, key: {"m": hp["lam"] * data}

    run(make(jnp.arange(3.0)), tmp_path)
    with pytest.raises(ValueError, match=REFUSED):
        run(make(jnp.arange(3.0) + 1.0), tmp_path)

    big = np.arange(1000.0, dtype=np.float32)  # large constants are elided from the program text
    run(make(jnp.asarray(big)), tmp_path / "big")
    changed = big.copy()
    changed[500] = -1.0
    with pytest.raises(ValueError, match="traced program"):
        run(make(jnp.asarray(changed)), tmp_path / "big")


def test_an_inner_jits_captured_array_counts(tmp_path):
    def make(data):
        inner = jax.jit(lambda lam: lam * data)
        return lambda hp, key: {"m": inner(hp["lam"])}

    base = np.arange(100.0, dtype=np.float32)
    run(make(jnp.asarray(base)), tmp_path)
    with pytest.raises(ValueError, match="traced program"):
        run(make(jnp.asarray(base[::-1].copy())), tmp_path)


@pytest.mark.parametrize(
    ("changed", "says"),
    [
        (
            lambda hp, key: {"renamed": hp["lam"] * DATA},
            r"stored \(m:float32\[3\]\), now \(renamed:",
        ),
        (lambda hp, key: {"m": hp["lam"] * jnp.arange(4.0)}, r"now \(m:float32\[4\]\)"),
        (
            lambda hp, key: {"m": hp["lam"] * DATA, "extra": hp["lam"]},
            r"now \(extra:float32\[\], m:float32\[3\]\)",
        ),
    ],
    ids=["renamed", "reshaped", "added"],
)
def test_changed_metrics_are_refused(tmp_path, changed, says):
    run(scaled, tmp_path)
    with pytest.raises(ValueError, match=REFUSED) as info:
        run(changed, tmp_path)  # used to return scaled's metrics, or a KeyError for "added"
    assert "the metrics train_fn returns" in str(info.value)
    assert re.search(says, str(info.value)), str(info.value)


def test_other_folds_train_masks_are_refused(tmp_path):
    folds = sweep.kfold(jax.random.key(1), 6, 3)

    def fit(hp, key, fold):
        train, _ = fold
        return {"m": hp["lam"] * jnp.sum(train.astype(jnp.float32) * jnp.arange(6.0))}

    run(fit, tmp_path, folds=folds)
    # same validation masks, another training set: the chunks on disk are not this sweep's
    other = sweep.Folds(train=folds.train & (np.arange(6) != 0), val=folds.val)
    with pytest.raises(ValueError, match=REFUSED) as info:
        run(fit, tmp_path, folds=other)
    assert "the folds" in str(info.value)
    expected = lams() * (other.train * np.arange(6.0)).sum(axis=1)[None, :]
    np.testing.assert_allclose(
        sweep.run(fit, GRID, KEY, folds=other, progress=False).metrics["m"], expected
    )


def test_other_regjax_version_key_and_grid_are_refused(tmp_path, monkeypatch):
    run(scaled, tmp_path)
    with pytest.raises(ValueError, match="the key"):
        sweep.run(
            scaled, GRID, jax.random.key(1), chunk_size=2, progress=False, checkpoint_dir=tmp_path
        )
    with pytest.raises(ValueError, match="the grid"):
        sweep.run(
            scaled,
            sweep.grid(lam=[0.5, 1.0, 2.0, 8.0]),
            KEY,
            chunk_size=2,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    monkeypatch.setattr(_sweep, "__version__", "99.0")
    with pytest.raises(ValueError, match=r"the regjax version: stored .*, now 99\.0"):
        run(scaled, tmp_path)


def test_an_old_manifest_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"fingerprint": "abc"}))
    with pytest.raises(ValueError, match="older regjax"):
        run(scaled, tmp_path)


def test_chunks_without_a_manifest_are_refused(tmp_path):
    run(scaled, tmp_path)
    (tmp_path / "manifest.json").unlink()
    with pytest.raises(ValueError, match=r"no manifest\.json"):
        run(scaled, tmp_path)


def test_a_chunk_of_the_wrong_shape_or_dtype_is_refused(tmp_path):
    run(scaled, tmp_path)
    chunk = tmp_path / "chunk_000001.npz"
    np.savez(chunk, leaf_0=np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"chunk_000001.npz is not a chunk of this sweep") as info:
        run(scaled, tmp_path)
    assert "(2, 4)" in str(info.value) and "(2, 3)" in str(info.value)
    np.savez(chunk, leaf_0=np.zeros((2, 3), np.float64))
    with pytest.raises(ValueError, match="float64"):
        run(scaled, tmp_path)
    np.savez(chunk, leaf_0=np.zeros((2, 3), np.float32), leaf_1=np.zeros(2))
    with pytest.raises(ValueError, match="2 arrays where this sweep has 1"):
        run(scaled, tmp_path)
    chunk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cannot be read"):
        run(scaled, tmp_path)


def test_the_stored_width_is_reused_not_re_estimated(tmp_path, monkeypatch):
    """The width comes from the manifest, not from XLA's optional estimate made again."""
    original = _sweep._trace_member

    def with_estimate(traffic):
        def trace(*args):
            member = original(*args)
            return dataclasses.replace(member, traffic_bytes=traffic, programs={})

        return trace

    widths = []
    build = _sweep._build_program

    def spy(member, n_fold_args, devices, width):
        widths.append(width)
        return build(member, n_fold_args, devices, width)

    monkeypatch.setattr(_sweep, "_build_program", spy)
    # A heavy member by XLA's estimate: one after another.
    monkeypatch.setattr(_sweep, "_trace_member", with_estimate(2.0**40))
    run(scaled, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["vmap_size"] == 1
    (tmp_path / "chunk_000001.npz").unlink()
    # Now the estimate is unavailable, and the default width would be the chunk (2).
    monkeypatch.setattr(_sweep, "_trace_member", with_estimate(None))
    assert sweep.run(scaled, GRID, KEY, chunk_size=2, progress=False).grid is GRID
    assert widths == [1, 2]
    resumed = run(scaled, tmp_path)
    assert widths == [1, 2, 1]
    np.testing.assert_array_equal(resumed.metrics["m"], lams() * np.arange(3.0, dtype=np.float32))
    with pytest.raises(ValueError, match=r"vmap_size: stored 1, now 2"):
        run(scaled, tmp_path, vmap_size=2)


def test_a_file_as_checkpoint_dir_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match=r"checkpoint_dir=\.\.\.\)` must be a directory"):
        run(scaled, tmp_path / "f")
