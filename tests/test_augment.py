"""regjax.augment against NumPy references, optax and the Beta distribution."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

import regjax
from regjax import augment

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=10)


def _keys(n, seed=0):
    return jax.random.split(jax.random.key(seed), n)


def _recover_pairing(y_mixed):
    """From mixed one-hot labels of eye(B): (weight kept by each example, partner)."""
    y = np.asarray(y_mixed)
    batch = y.shape[0]
    own = y[np.arange(batch), np.arange(batch)]
    off = y.copy()
    off[np.arange(batch), np.arange(batch)] = -1
    partner = np.where(own >= 1 - 1e-6, np.arange(batch), np.argmax(off, axis=1))
    return own, partner


# --------------------------------------------------------------------------- mixup


@HYP
@given(alpha=st.floats(0.05, 5.0), seed=st.integers(0, 2**16))
def test_mixup_labels_sum_to_one_and_match_a_numpy_mix(alpha, seed):
    batch = 6
    x = jax.random.normal(jax.random.key(1), (batch, 3, 2))
    xm, ym = _jit_mixup(jax.random.key(seed), x, jnp.arange(batch), alpha)
    np.testing.assert_allclose(np.asarray(ym).sum(axis=1), 1.0, rtol=1e-6)
    own, partner = _recover_pairing(ym)
    assert sorted(partner.tolist()) == list(range(batch))  # a permutation of the batch
    swapped = partner != np.arange(batch)
    lam = own[swapped][0] if swapped.any() else 1.0
    np.testing.assert_allclose(own[swapped], lam, rtol=1e-6)  # one λ per batch
    x_np = np.asarray(x)
    expected = lam * x_np + (1 - lam) * x_np[partner]
    np.testing.assert_allclose(np.asarray(xm), expected, rtol=1e-5, atol=1e-6)


_jit_mixup = jax.jit(lambda k, x, y, a: augment.mixup(k, x, y, a, num_classes=6))


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_mixup_lambda_follows_beta_alpha_alpha(alpha):
    x = jnp.array([[1.0], [0.0]])
    y = jnp.eye(2)
    _, ym = jax.jit(jax.vmap(lambda k: augment.mixup(k, x, y, alpha)))(_keys(3000))
    ym = np.asarray(ym)
    lam = ym[ym[:, 0, 1] > 0, 0, 0]  # members where the two examples were swapped
    assert 1200 < lam.size < 1800  # a random permutation of 2 swaps half the time
    assert scipy.stats.kstest(lam, scipy.stats.beta(alpha, alpha).cdf).pvalue > 1e-3


def test_mixup_soft_labels_and_dtypes():
    x = jnp.ones((4, 3), jnp.bfloat16)
    y = optax.smooth_labels(jax.nn.one_hot(jnp.array([0, 1, 2, 0]), 3), 0.1)
    xm, ym = augment.mixup(jax.random.key(0), x, y, 0.4)
    assert xm.dtype == jnp.bfloat16 and ym.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(ym).sum(axis=1), 1.0, rtol=1e-6)
    _, ym_int = augment.mixup(jax.random.key(0), x, jnp.array([0, 1, 2, 0]), 0.4, num_classes=3)
    _, ym_hot = augment.mixup(jax.random.key(0), x, jax.nn.one_hot(jnp.array([0, 1, 2, 0]), 3), 0.4)
    np.testing.assert_array_equal(np.asarray(ym_int), np.asarray(ym_hot))


# --------------------------------------------------------------------------- cutmix


def _labelled_images(batch=5, size=8):
    x = jnp.broadcast_to(
        jnp.arange(batch, dtype=jnp.float32)[:, None, None, None], (batch, size, size, 2)
    )
    return x, jnp.eye(batch)


def test_cutmix_label_weight_is_the_pasted_area_and_box_is_shared():
    x, y = _labelled_images()
    outs = jax.jit(jax.vmap(lambda k: augment.cutmix(k, x, y, 1.0)))(_keys(40))
    boxes_seen = 0
    for xm, ym in zip(np.asarray(outs[0]), np.asarray(outs[1])):
        np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)
        own, partner = _recover_pairing(ym)
        masks = []
        for i in range(x.shape[0]):
            pasted = xm[i, :, :, 0] != i
            if partner[i] == i:
                assert not pasted.any()
                continue
            np.testing.assert_array_equal(xm[i][pasted[..., None].repeat(2, -1)], partner[i])
            np.testing.assert_allclose(1 - own[i], pasted.mean(), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(ym[i, partner[i]], pasted.mean(), rtol=1e-6, atol=1e-7)
            masks.append(pasted)
        for m in masks[1:]:
            np.testing.assert_array_equal(m, masks[0])  # one box per batch
        if masks and masks[0].any():
            rows, cols = np.nonzero(masks[0])
            box = masks[0][rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            assert box.all()  # a rectangle
            boxes_seen += 1
    assert boxes_seen > 20


def _numpy_cutmix_area(rng, alpha, height, width):
    """The reference code's rand_bbox (Yun et al. 2019), in NumPy: the pasted fraction."""
    lam = rng.beta(alpha, alpha)
    ratio = np.sqrt(1 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = rng.integers(height), rng.integers(width)
    y0, y1 = np.clip(cy - cut_h // 2, 0, height), np.clip(cy + cut_h // 2, 0, height)
    x0, x1 = np.clip(cx - cut_w // 2, 0, width), np.clip(cx + cut_w // 2, 0, width)
    return (y1 - y0) * (x1 - x0) / (height * width)


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_cutmix_area_distribution_matches_the_reference_code(alpha):
    x, y = _labelled_images(batch=8, size=16)
    f = jax.jit(jax.vmap(lambda k: augment.cutmix(k, x, y, alpha)[1]))
    ym = np.asarray(f(_keys(2000)))
    # the box is shared, so the area is 1 − the smallest weight an example keeps
    area = 1 - ym[:, np.arange(8), np.arange(8)].min(axis=1)
    rng = np.random.default_rng(0)
    ref = np.array([_numpy_cutmix_area(rng, alpha, 16, 16) for _ in range(4000)])
    assert abs(area.mean() - ref.mean()) < 0.03
    assert scipy.stats.ks_2samp(area, ref).pvalue > 1e-3


# --------------------------------------------------------------------------- smooth_labels


@HYP
@given(eps=st.floats(0.0, 1.0), classes=st.integers(2, 6))
def test_smooth_labels_matches_optax(eps, classes):
    y = jax.nn.one_hot(jnp.arange(4) % classes, classes)
    out = augment.smooth_labels(y, eps)
    np.testing.assert_allclose(np.asarray(out), np.asarray(optax.smooth_labels(y, eps)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out).sum(axis=-1), 1.0, rtol=1e-6)


def test_smooth_labels_eps_grid_compiles_once_and_matches_loop():
    y = jax.nn.one_hot(jnp.array([0, 2, 1]), 3)
    traces = []

    def f(eps):
        traces.append(1)
        return augment.smooth_labels(y, eps)

    grid = jnp.array([0.0, 0.1, 0.5])
    out = jax.jit(jax.vmap(f))(grid)
    assert len(traces) == 1
    for i, e in enumerate([0.0, 0.1, 0.5]):
        expected = (1 - e) * np.asarray(y) + e / 3
        np.testing.assert_allclose(np.asarray(out[i]), expected, rtol=1e-6)


# --------------------------------------------------------------------------- flip, crop, cutout


def test_random_flip_matches_numpy_and_flips_a_prob_fraction():
    x = jax.random.normal(jax.random.key(0), (2000, 2, 3, 1))
    out = np.asarray(jax.jit(lambda k: augment.random_flip(k, x, prob=0.3))(jax.random.key(1)))
    x_np = np.asarray(x)
    flipped = np.all(out == x_np[:, :, ::-1], axis=(1, 2, 3))
    kept = np.all(out == x_np, axis=(1, 2, 3))
    assert np.all(flipped ^ kept)  # each example is exactly one of the two
    sd = np.sqrt(0.3 * 0.7 / 2000)
    assert abs(flipped.mean() - 0.3) < 5 * sd
    np.testing.assert_array_equal(
        np.asarray(augment.random_flip(jax.random.key(2), x[:4], prob=1.0, axis=1)),
        x_np[:4, ::-1],
    )
    np.testing.assert_array_equal(
        np.asarray(augment.random_flip(jax.random.key(2), x[:4], prob=0.0)), x_np[:4]
    )


def _find_offsets(crops, padded):
    """For each crop, every (oh, ow) of the padded image it equals (NumPy search)."""
    _, h, w, _ = crops.shape
    found = []
    for crop, img in zip(crops, padded):
        hits = [
            (oh, ow)
            for oh in range(img.shape[0] - h + 1)
            for ow in range(img.shape[1] - w + 1)
            if np.array_equal(img[oh : oh + h, ow : ow + w], crop)
        ]
        found.append(hits)
    return found


@pytest.mark.parametrize(("pad_mode", "size"), [("constant", None), ("reflect", (3, 4))])
def test_random_crop_is_a_window_of_the_numpy_padded_image(pad_mode, size):
    x = jax.random.normal(jax.random.key(0), (300, 5, 6, 2))
    out = augment.random_crop(jax.random.key(1), x, padding=1, size=size, pad_mode=pad_mode)
    h, w = (5, 6) if size is None else size
    assert out.shape == (300, h, w, 2)
    padded = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1), (0, 0)), mode=pad_mode)
    found = _find_offsets(np.asarray(out), padded)
    assert all(len(f) == 1 for f in found)
    offsets = {f[0] for f in found}
    assert offsets == {(a, b) for a in range(7 - h + 1) for b in range(8 - w + 1)}  # all, uniformly


def test_random_crop_without_padding_is_identity_and_jit_equals_eager():
    x = jax.random.normal(jax.random.key(0), (3, 4, 4, 1))
    np.testing.assert_array_equal(np.asarray(augment.random_crop(jax.random.key(1), x)), x)
    f = lambda k: augment.random_crop(k, x, padding=1)
    np.testing.assert_array_equal(
        np.asarray(f(jax.random.key(2))), np.asarray(jax.jit(f)(jax.random.key(2)))
    )


def test_cutout_cuts_clipped_squares_per_example():
    x = jnp.ones((300, 9, 9, 2))
    out = np.asarray(augment.cutout(jax.random.key(0), x, 4, value=-1.0))
    corners = set()
    for img in out:
        hole = img[..., 0] == -1
        np.testing.assert_array_equal(img[..., 1] == -1, hole)  # every channel
        assert np.all(img[~hole] == 1)
        rows, cols = np.nonzero(hole)
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        hh, ww = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert hh <= 4 and ww <= 4
        # a side shorter than 4 only where the square was clipped at a border
        assert hh == 4 or rows.min() == 0 or rows.max() == 8
        assert ww == 4 or cols.min() == 0 or cols.max() == 8
        corners.add((rows.min(), cols.min()))
    assert len(corners) > 30  # independent positions per example
    np.testing.assert_array_equal(np.asarray(augment.cutout(jax.random.key(0), x, 0)), x)


def test_cutout_size_grid_compiles_once_and_matches_loop():
    x = jnp.ones((3, 6, 6, 1))
    traces = []

    def f(s):
        traces.append(1)
        return augment.cutout(jax.random.key(4), x, s)

    sizes = jnp.array([0, 2, 5])
    out = jax.jit(jax.vmap(f))(sizes)
    assert len(traces) == 1
    for i, s in enumerate([0, 2, 5]):
        np.testing.assert_array_equal(np.asarray(out[i]), np.asarray(f(s)))


# --------------------------------------------------------------------------- transforms, keys


@pytest.mark.parametrize("fn", [augment.mixup, augment.cutmix])
def test_alpha_grid_vmap_compiles_once_and_equals_loop(fn):
    x, y = _labelled_images(batch=4, size=6)
    traces = []

    def f(alpha):
        traces.append(1)
        return fn(jax.random.key(7), x, y, alpha)

    grid = jnp.array([0.1, 1.0, 4.0])
    xs, ys = jax.jit(jax.vmap(f))(grid)
    assert len(traces) == 1
    for i, a in enumerate([0.1, 1.0, 4.0]):
        xe, ye = jax.jit(f)(a)
        np.testing.assert_allclose(np.asarray(xs[i]), np.asarray(xe), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(ys[i]), np.asarray(ye), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(ys[i]).sum(axis=1), 1.0, rtol=1e-6)


def test_jit_equals_eager_and_raw_keys_equal_typed_keys():
    _, y = _labelled_images(batch=4, size=6)
    x = jax.random.normal(jax.random.key(9), (4, 6, 6, 2))
    calls = {
        "mixup": lambda k: augment.mixup(k, x, y, 0.5),
        "cutmix": lambda k: augment.cutmix(k, x, y, 0.5),
        "flip": lambda k: augment.random_flip(k, x),
        "crop": lambda k: augment.random_crop(k, x, padding=2),
        "cutout": lambda k: augment.cutout(k, x, 3),
    }
    for name, f in calls.items():
        jf = jax.jit(f)
        eager = jax.tree.leaves(f(jax.random.key(3)))
        jitted = jax.tree.leaves(jf(jax.random.key(3)))
        raw = jax.tree.leaves(jf(jax.random.PRNGKey(3)))
        other = jax.tree.leaves(jf(jax.random.key(4)))
        for a, b, c in zip(eager, jitted, raw):
            np.testing.assert_allclose(
                np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6, err_msg=name
            )
            np.testing.assert_array_equal(np.asarray(b), np.asarray(c), err_msg=name)
        assert any(
            not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(eager, other)
        ), name


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_call_and_argument():
    key = jax.random.key(0)
    x, y = _labelled_images(batch=4, size=6)
    for fn in (augment.mixup, augment.cutmix):
        name = fn.__name__
        for alpha in (0.0, -1.0, float("nan")):
            with pytest.raises(ValueError, match=rf"regjax\.augment\.{name}\(alpha=\.\.\.\)"):
                fn(key, x, y, alpha)
        with pytest.raises(TypeError, match=rf"regjax\.augment\.{name}\(key=\.\.\.\)"):
            fn(0, x, y, 1.0)
        with pytest.raises(ValueError, match=rf"regjax\.augment\.{name}\(num_classes=\.\.\.\)"):
            fn(key, x, jnp.arange(4), 1.0)
        with pytest.raises(ValueError, match=rf"regjax\.augment\.{name}\(y=\.\.\.\)"):
            fn(key, x, y[:3], 1.0)
        with pytest.raises(TypeError, match=rf"regjax\.augment\.{name}\(x=\.\.\.\)"):
            fn(key, x.astype(jnp.uint8), y, 1.0)
        with pytest.raises(ValueError, match=rf"regjax\.augment\.{name}\(alpha=\.\.\.\)"):
            fn(key, x, y, jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"regjax\.augment\.cutmix\(x=\.\.\.\)"):
        augment.cutmix(key, x[..., 0], y, 1.0)
    with pytest.raises(ValueError, match=r"regjax\.augment\.smooth_labels\(eps=\.\.\.\)"):
        augment.smooth_labels(y, 1.5)
    with pytest.raises(TypeError, match=r"regjax\.augment\.smooth_labels\(y=\.\.\.\)"):
        augment.smooth_labels(jnp.arange(3), 0.1)
    with pytest.raises(ValueError, match=r"regjax\.augment\.random_flip\(prob=\.\.\.\)"):
        augment.random_flip(key, x, prob=-0.1)
    with pytest.raises(ValueError, match=r"regjax\.augment\.random_flip\(axis=\.\.\.\)"):
        augment.random_flip(key, x, axis=0)
    with pytest.raises(TypeError, match=r"regjax\.augment\.random_flip\(key=\.\.\.\)"):
        augment.random_flip(jnp.zeros(2, jnp.float32), x)
    with pytest.raises(ValueError, match=r"regjax\.augment\.random_crop\(pad_mode=\.\.\.\)"):
        augment.random_crop(key, x, padding=1, pad_mode="mirror")
    with pytest.raises(ValueError, match=r"regjax\.augment\.random_crop\(size=\.\.\.\)"):
        augment.random_crop(key, x, size=7)
    with pytest.raises(ValueError, match=r"regjax\.augment\.random_crop\(padding=\.\.\.\)"):
        augment.random_crop(key, x, padding=-1)
    with pytest.raises(TypeError, match=r"regjax\.augment\.cutout\(size=\.\.\.\)"):
        augment.cutout(key, x, 2.5)
    with pytest.raises(ValueError, match=r"regjax\.augment\.cutout\(size=\.\.\.\)"):
        augment.cutout(key, x, -2)


def test_traced_bad_alpha_is_caught_under_checkify():
    x, y = _labelled_images(batch=2, size=4)
    f = regjax.checks.checkify(lambda a: augment.mixup(jax.random.key(0), x, y, a))
    err, _ = jax.vmap(f)(jnp.array([0.5, -1.0]))
    assert "at mapped index 1" in err.get()
    assert "regjax.augment.mixup(alpha=...)" in err.get()


@pytest.mark.parametrize("fn", [augment.mixup, augment.cutmix], ids=["mixup", "cutmix"])
def test_integer_labels_outside_num_classes_are_refused(fn):
    # jax.nn.one_hot maps such a label to a row of zeros, so the mixed target
    # rows did not sum to 1 (checked here against a NumPy row sum).
    name = fn.__name__
    x = jnp.ones((4, 4, 4, 1))
    for bad, shown in (([0, 1, 2, 3], "3"), ([0, -1, 2, 1], "-1")):
        with pytest.raises(
            ValueError,
            match=rf"^`regjax\.augment\.{name}\(y=\.\.\.\)` must hold labels in "
            rf"\[0, num_classes\) = \[0, 3\); got \[{shown}\]",
        ):
            fn(jax.random.key(0), x, jnp.array(bad), 1.0, num_classes=3)
    with pytest.raises(ValueError, match=rf"`regjax\.augment\.{name}\(num_classes=\.\.\.\)`"):
        fn(jax.random.key(0), x, jnp.array([0, 0, 0, 0]), 1.0, num_classes=0)
    _, y = fn(jax.random.key(0), x, jnp.array([0, 1, 2, 2]), 1.0, num_classes=3)
    np.testing.assert_allclose(np.asarray(y, np.float64).sum(axis=1), 1.0, rtol=1e-6)
    # Traced labels: the opt-in check names the bad grid member.
    f = lambda labels: fn(jax.random.key(0), x, labels, 1.0, num_classes=3)[1]
    err, _ = jax.vmap(regjax.checks.checkify(f))(jnp.array([[0, 1, 2, 2], [0, 1, 2, 7]]))
    assert "at mapped index 1" in err.get() and f"{name}(y=...)" in err.get()
