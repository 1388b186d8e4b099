"""`run`: a whole grid of training runs as one compiled, vmapped program.

Members are independent: ``train_fn`` is traced once for one member, the
member axis is cut into equal chunks to bound memory and sharded across
devices, and each device runs its members in vmapped batches of a fixed
width, one batch after another. Every member's key is
``fold_in(key, member_index)``, so its randomness does not depend on the
chunk size, the number of devices or the padding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
from jax import dtypes
from jax.experimental import checkify as _checkify
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from regjax import __version__
from regjax._checks import check_key
from regjax._grid import Grid
from regjax._io import atomic_write
from regjax._progress import progress_bars
from regjax._sweep_result import SweepResult, non_finite_members
from regjax._tree import path_str

_MEMBER_AXIS = "members"


class Folds(NamedTuple):
    """K-fold cross-validation splits as boolean masks, one row per fold.

    Masks (not index lists) keep every fold the same shape, so a training
    function can be vmapped over folds; weight the loss by ``train[i]`` and
    the validation metric by ``val[i]``. :func:`kfold` makes k-fold splits;
    any other resampling (repeated random splits, a fixed hold-out) works
    too: build ``Folds(train=..., val=...)`` from your own boolean masks.

    With ``run(..., folds=folds)``, ``train_fn`` is called as
    ``train_fn(hparams, key, (train_mask, val_mask))`` with one row of each
    (traced, shape ``(n,)``); every metric then gets a fold axis after the
    member axis, which :meth:`regjax.sweep.SweepResult.one_standard_error`
    needs. A masked mean such as
    ``jnp.sum(train_mask * losses) / jnp.sum(train_mask)`` is the loss on
    that fold's training examples.

    Attributes:
      train: bool array ``(k, n)``; ``train[i, j]`` is True if example j trains fold i.
      val: bool array ``(k, n)``; ``val[i, j]`` is True if example j validates fold i.

    Examples:
      >>> import jax
      >>> import numpy as np
      >>> import regjax
      >>> folds = regjax.sweep.kfold(jax.random.key(0), n=6, k=3)
      >>> folds.train.shape, folds.train.dtype
      ((3, 6), dtype('bool'))
      >>> bool((folds.train ^ folds.val).all())  # each example trains or validates
      True

      A fixed hold-out of the last two of six examples, as one "fold":

      >>> val = np.zeros((1, 6), bool)
      >>> val[0, 4:] = True
      >>> holdout = regjax.sweep.Folds(train=~val, val=val)
      >>> holdout.indices(0)
      (array([0, 1, 2, 3]), array([4, 5]))

    References:
      Stone, M. (1974). Cross-Validatory Choice and Assessment of Statistical
      Predictions. JRSS B 36(2). https://doi.org/10.1111/j.2517-6161.1974.tb00994.x
    """

    train: np.ndarray
    val: np.ndarray

    def indices(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, validation indices) of one fold, as NumPy int arrays."""
        return np.flatnonzero(self.train[fold]), np.flatnonzero(self.val[fold])


def kfold(key: jax.Array, n: int, k: int) -> Folds:
    """Shuffled k-fold splits of ``n`` examples.

    The examples are permuted with ``key``, then cut into ``k`` folds whose
    sizes differ by at most one (the first ``n % k`` folds get one more, as
    in scikit-learn's ``KFold``). Every example validates exactly one fold.

    Args:
      key: a PRNG key.
      n: number of examples (>= k).
      k: number of folds (>= 2).

    Returns:
      :class:`Folds` with boolean ``train`` and ``val`` masks of shape ``(k, n)``.

    Examples:
      >>> import jax
      >>> import regjax
      >>> folds = regjax.sweep.kfold(jax.random.key(0), n=10, k=3)
      >>> folds.val.sum(axis=1), folds.val.sum(axis=0).max()
      (array([4, 3, 3]), np.int64(1))

    References:
      Stone, M. (1974). Cross-Validatory Choice and Assessment of Statistical
      Predictions. JRSS B 36(2). https://doi.org/10.1111/j.2517-6161.1974.tb00994.x
    """
    where = "regjax.sweep.kfold"
    check_key(key, where=where)
    for name, value, low in (("n", n, 2), ("k", k, 2)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"`{where}({name}=...)` must be an int; got {value!r}.")
        if value < low:
            raise ValueError(f"`{where}({name}=...)` must be >= {low}; got {value}.")
    if k > n:
        raise ValueError(f"`{where}(k=...)` must be <= n = {n}; got {k}.")
    perm = np.asarray(jax.random.permutation(key, n))
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    fold_of = np.empty(n, np.int64)
    fold_of[perm] = np.repeat(np.arange(k), sizes)
    val = fold_of[None, :] == np.arange(k)[:, None]
    return Folds(train=~val, val=val)


_fold_in_each = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(None, 0)))


def _keys_of_members(key: jax.Array, indices: Any) -> jax.Array:
    """The keys of the given members: ``fold_in(key, i)`` for each index i."""
    return _fold_in_each(key, jnp.asarray(indices, jnp.uint32))


# On CPU, a vmapped batch of members stops paying once its working set outgrows
# the caches: a member whose ops already move a lot of memory runs as fast alone,
# and a batch of them runs slower (measured in benchmarks/bench_sweep.py: a
# hidden-256 full-batch MLP is 1.7x slower vmapped 32 wide than one at a time).
# XLA's estimate of one member's memory traffic (loop bodies counted once) sets
# the width; below _MIN_USEFUL_WIDTH members fit, members run one after another.
_CPU_BATCH_TRAFFIC_BYTES = 2 * 2**30
_MIN_USEFUL_WIDTH = 8


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity: one per cached trace
class _Member:
    """One member's training run, traced once: a jaxpr and what it costs."""

    fn: Callable[..., Any]  # (hparams, key, *fold_masks) -> metrics
    out_shapes: Any
    traffic_bytes: float | None  # XLA's "bytes accessed" estimate, None if unknown
    program_digest: str = ""  # sha256 of the traced program and the arrays it captures
    # compiled chunk programs, keyed (n_fold_args, devices, width); they live as long
    # as this trace does, and so no longer than the user's train_fn
    programs: dict[Any, Any] = dataclasses.field(default_factory=dict, repr=False)


def _signature(grid: Grid, key: jax.Array, fold_args: tuple[Any, ...]) -> tuple[Any, ...]:
    """One member's input shapes and dtypes, hashable: the key of the trace cache."""
    hparams = {
        name: jax.ShapeDtypeStruct((), dtypes.canonicalize_dtype(grid[name].dtype))
        for name in grid.names
    }
    specs, tree = jax.tree.flatten(
        (hparams, jax.ShapeDtypeStruct(key.shape, key.dtype), *fold_args)
    )
    return (tree, *((tuple(a.shape), a.dtype) for a in specs))


# Traces are cached per train_fn without owning it: an entry is dropped when the user's
# function is, with its closure and the arrays the trace captured. (An lru_cache keyed
# on the function kept them alive for the life of the process.)
_TRACES: weakref.WeakKeyDictionary[Any, dict[Any, _Member]] = weakref.WeakKeyDictionary()
_METHOD_TRACES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_TRACES_PER_FUNCTION = 32


def _traces_of(train_fn: Callable[..., Any]) -> dict[Any, _Member] | None:
    """``train_fn``'s cache of traces, held weakly on it; None if it cannot be held so."""
    try:
        if inspect.ismethod(train_fn):
            # `obj.method` is a new object at every access: key on the object and function
            per_self = _METHOD_TRACES.setdefault(train_fn.__self__, weakref.WeakKeyDictionary())
            return per_self.setdefault(train_fn.__func__, {})
        return _TRACES.setdefault(train_fn, {})
    except TypeError:  # unhashable or not weakly referenceable: trace on every run
        return None


def _trace_member(train_fn: Callable[..., Any], folds_given: bool, signature: Any) -> _Member:
    """Traces ``train_fn`` for one member; cached so a second `run` traces nothing."""
    cache = _traces_of(train_fn)
    if cache is not None and (folds_given, signature) in cache:
        return cache[folds_given, signature]
    member = _trace_member_uncached(train_fn, folds_given, signature)
    if cache is not None:
        if len(cache) >= _TRACES_PER_FUNCTION:
            del cache[next(iter(cache))]
        cache[folds_given, signature] = member
    return member


def _as_bytes(a: Any) -> bytes:
    dtype = getattr(a, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        a = jax.random.key_data(a)
    a = np.ascontiguousarray(np.asarray(a))
    return f"{a.shape}{a.dtype}".encode() + a.tobytes()


def _hash_consts(jaxpr: Any, h: Any) -> None:
    """Hashes the constants a jaxpr captures, nested jaxprs' (an inner jit's) included."""
    for value in getattr(jaxpr, "consts", ()):
        h.update(_as_bytes(value))
    inner = getattr(jaxpr, "jaxpr", jaxpr)
    for eqn in getattr(inner, "eqns", ()):
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr | jax.extend.core.Jaxpr):
                    _hash_consts(sub, h)


def _program_digest(closed: Any, lowered: Any, out_shapes: Any) -> str:
    """A digest of one member's program: what a checkpoint was computed by.

    The StableHLO text (or the jaxpr, if it could not be lowered) covers the
    operations, shapes, dtypes and the JAX version's lowering; large constants are
    elided from the text and hashed as bytes instead.
    """
    h = hashlib.sha256()
    text = None
    if lowered is not None:
        try:
            module = lowered.compiler_ir("stablehlo")
            text = module.operation.get_asm(enable_debug_info=False, large_elements_limit=16)
        except Exception:  # the text is a fingerprint; the jaxpr below serves as well
            text = None
    h.update((str(closed.jaxpr) if text is None else text).encode())
    h.update(str(jax.tree.structure(out_shapes)).encode())
    _hash_consts(closed, h)
    return h.hexdigest()


def _trace_member_uncached(
    train_fn: Callable[..., Any], folds_given: bool, signature: Any
) -> _Member:
    tree, *leaf_specs = signature
    avals = jax.tree.unflatten(tree, [jax.ShapeDtypeStruct(s, d) for s, d in leaf_specs])
    if folds_given:

        def per_member(hparams: Any, key: Any, train_masks: Any, val_masks: Any) -> Any:
            fold_keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(
                jnp.arange(train_masks.shape[0], dtype=jnp.uint32)
            )
            return jax.vmap(train_fn, in_axes=(None, 0, 0))(
                hparams, fold_keys, (train_masks, val_masks)
            )

    else:
        per_member = train_fn
    closed, out_shapes = jax.make_jaxpr(per_member, return_shape=True)(*avals)
    _check_outputs(out_shapes)
    flat_fn = jax.extend.core.jaxpr_as_fun(closed)
    out_tree = jax.tree.structure(out_shapes)

    def member(*args: Any) -> Any:
        return jax.tree.unflatten(out_tree, flat_fn(*jax.tree.leaves(args)))

    try:
        lowered = jax.jit(member).lower(*avals)
    except Exception:  # lowering here serves the estimate and the digest, both optional
        lowered = None
    try:
        cost = lowered.cost_analysis() if lowered is not None else None
        traffic = float(cost["bytes accessed"]) if cost and "bytes accessed" in cost else None
    except Exception:  # a cost estimate is optional; without one, members are vmapped
        traffic = None
    return _Member(member, out_shapes, traffic, _program_digest(closed, lowered, out_shapes))


def _vmap_width(
    requested: int | None, member: _Member, platform: str, n_members: int, per_device: int
) -> int:
    """Members vmapped together on one device; 1 means one after another.

    A requested width is kept whatever the chunk size and the devices (capped only by
    the grid size), so results do not change with them. The automatic one on CPU
    avoids a batch of 1 unless it chose 1 for every chunk layout: XLA compiles a
    batch of 1 to different kernels (matrix-vector), whose rounding differs most.
    """
    if requested is None:
        if platform != "cpu" or member.traffic_bytes is None:
            return per_device
        fits = int(_CPU_BATCH_TRAFFIC_BYTES // max(member.traffic_bytes, 1.0))
        if fits < _MIN_USEFUL_WIDTH or n_members == 1:
            return 1
        width = max(2, min(fits, per_device))
        batches = -(-per_device // width)
        return max(2, -(-per_device // batches))  # equal batches, so little padding
    return min(requested, n_members)


def _program(member: _Member, n_fold_args: int, devices: tuple[Any, ...], width: int) -> Any:
    """The jitted program over one chunk; cached on the trace so a second `run` reuses it."""
    key = (n_fold_args, devices, width)
    if key not in member.programs:
        member.programs[key] = _build_program(member, n_fold_args, devices, width)
    return member.programs[key]


def _build_program(member: _Member, n_fold_args: int, devices: tuple[Any, ...], width: int) -> Any:

    def local(hparams: Any, keys: Any, *fold_args: Any) -> Any:
        def one(args: Any) -> Any:
            return member.fn(*args, *fold_args)

        if width == 1 and keys.shape[0] == 1:  # one member: exactly its own program
            return jax.tree.map(
                lambda a: a[None], one(jax.tree.map(lambda a: a[0], (hparams, keys)))
            )
        if width == 1:
            return jax.lax.map(one, (hparams, keys))
        if width >= keys.shape[0]:
            return jax.vmap(one)((hparams, keys))
        return jax.lax.map(one, (hparams, keys), batch_size=width)

    if len(devices) <= 1:
        return jax.jit(local)
    # shard_map, not sharded jit: each device runs its own members' batches one after
    # another, which the partitioner cannot infer for a loop over the member axis.
    mesh = Mesh(np.asarray(devices), (_MEMBER_AXIS,))
    members, replicated = PartitionSpec(_MEMBER_AXIS), PartitionSpec()
    in_specs = (members, members, *([replicated] * n_fold_args))
    # check_vma=False: the traced member binds its constants without varying-axis types.
    sharded = jax.shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=members, check_vma=False)
    return jax.jit(
        sharded,
        in_shardings=tuple(NamedSharding(mesh, spec) for spec in in_specs),
        out_shardings=NamedSharding(mesh, members),
    )


def _explain_trace_error(e: Exception) -> Exception:
    if isinstance(e, jax.errors.ConcretizationTypeError | jax.errors.TracerBoolConversionError):
        return TypeError(
            "`regjax.sweep.run(train_fn=...)`: train_fn used the Python value of a "
            "hyperparameter (an `if`, `int(...)`, `range(...)` or a shape on it), but every "
            "hyperparameter is a traced array there, one per grid member. Use array ops "
            "(`jnp.where`, `lax.cond`) instead, or make the value a Python constant outside "
            f"the grid.\nOriginal error: {e}"
        )
    return e


def _check_outputs(out_shapes: Any) -> None:
    bad = [
        jax.tree_util.keystr(path)
        for path, leaf in jax.tree_util.tree_flatten_with_path(out_shapes)[0]
        if not isinstance(leaf, jax.ShapeDtypeStruct)
    ]
    if bad:
        raise TypeError(
            "`regjax.sweep.run(train_fn=...)` must return a pytree of arrays (metrics); "
            f"these leaves are not arrays: {', '.join(bad)}."
        )


_MANIFEST_FORMAT = 2

# What each manifest entry records, as the refusal to resume names it.
_MANIFEST_WHAT = {
    "format": "the checkpoint format",
    "regjax_version": "the regjax version",
    "train_fn": (
        "train_fn's traced program (its code, the arrays it captures, the JAX version or "
        "the platform)"
    ),
    "metrics": "the metrics train_fn returns (their names, shapes or dtypes)",
    "grid": "the grid",
    "key": "the key",
    "folds": "the folds (train or validation masks)",
    "chunk_size": "the chunk size (from chunk_size, vmap_size and the number of devices)",
    "vmap_size": "vmap_size",
}


def _manifest(
    member: _Member, grid: Grid, key: jax.Array, folds: Folds | None, chunk: int, width: int
) -> dict[str, Any]:
    """What a checkpoint's chunks were computed from; a resume must match it exactly."""
    grid_hash = hashlib.sha256()
    for name in grid.names:
        grid_hash.update(name.encode() + b"\0" + _as_bytes(grid[name]))
    folds_hash = None
    if folds is not None:
        h = hashlib.sha256(_as_bytes(np.asarray(folds.train, bool)))
        h.update(_as_bytes(np.asarray(folds.val, bool)))
        folds_hash = h.hexdigest()
    manifest = {
        "format": _MANIFEST_FORMAT,
        "regjax_version": __version__,
        "train_fn": member.program_digest,
        "metrics": [
            [path_str(path), list(leaf.shape), str(leaf.dtype)]
            for path, leaf in jax.tree_util.tree_flatten_with_path(member.out_shapes)[0]
        ],
        "grid": {
            "names": list(grid.names),
            "shape": list(grid.shape),
            "sha256": grid_hash.hexdigest(),
        },
        "key": hashlib.sha256(str(key.dtype).encode() + _as_bytes(key)).hexdigest(),
        "folds": folds_hash,
        "chunk_size": chunk,
        "vmap_size": width,
    }
    return json.loads(json.dumps(manifest))  # as it reads back from the file


class _ChunkStore:
    """Finished chunks on disk, so an interrupted sweep resumes where it stopped."""

    where = "regjax.sweep.run(checkpoint_dir=...)"

    def __init__(self, directory: str):
        self.directory = directory
        self.manifest_path = os.path.join(directory, "manifest.json")
        self.found: dict[str, Any] | None = None
        self.expected: list[tuple[str, tuple[int, ...], np.dtype]] = []
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise ValueError(
                f"`{self.where}` must be a directory; {directory} is a file. Pass a "
                "directory path (it is created if missing)."
            )
        if os.path.isfile(self.manifest_path):
            try:
                with open(self.manifest_path) as f:
                    found = json.load(f)
            except (OSError, ValueError) as e:
                raise ValueError(
                    f"`{self.where}`: {self.manifest_path} cannot be read ({e}). "
                    + self._start_over()
                ) from e
            self.found = found if isinstance(found, dict) else {}
        elif os.path.isdir(directory) and any(
            name.startswith("chunk_") for name in os.listdir(directory)
        ):
            raise ValueError(
                f"`{self.where}`: {directory} holds chunk files but no manifest.json, so "
                "what computed them is unknown. " + self._start_over()
            )

    def _start_over(self) -> str:
        return (
            f"To start over, delete {self.directory} (or pass a new checkpoint_dir); "
            "to resume, rerun exactly the call that wrote it."
        )

    def stored_width(self) -> int | None:
        """The vmap width the finished chunks were computed at, if this is a resume."""
        if self.found is None or self.found.get("format") != _MANIFEST_FORMAT:
            return None
        width = self.found.get("vmap_size")
        return width if isinstance(width, int) and not isinstance(width, bool) else None

    def open(self, manifest: dict[str, Any]) -> None:
        """Checks that the directory holds this sweep's chunks, or claims it for them."""
        chunk = manifest["chunk_size"]
        self.expected = [
            (name, (chunk, *shape), np.dtype(dtype)) for name, shape, dtype in manifest["metrics"]
        ]
        if self.found is None:
            os.makedirs(self.directory, exist_ok=True)
            atomic_write(self.manifest_path, lambda f: json.dump(manifest, f, indent=1), text=True)
            return
        if self.found.get("format") != _MANIFEST_FORMAT:
            raise ValueError(
                f"`{self.where}`: {self.directory} holds the chunks of a different sweep, "
                "written by an older regjax whose checkpoints record too little to be "
                "checked. " + self._start_over()
            )
        differ = []
        for field, what in _MANIFEST_WHAT.items():
            stored, now = self.found.get(field), manifest[field]
            if stored == now:
                continue
            if field == "metrics":
                differ.append(f"{what}: stored ({_describe(stored)}), now ({_describe(now)})")
            elif field in ("regjax_version", "chunk_size", "vmap_size"):
                differ.append(f"{what}: stored {stored}, now {now}")
            else:
                differ.append(what)
        if differ:
            raise ValueError(
                f"`{self.where}`: {self.directory} holds the chunks of a different sweep. "
                "What differs: " + "; ".join(differ) + ". " + self._start_over()
            )

    def _path(self, index: int) -> str:
        return os.path.join(self.directory, f"chunk_{index:06d}.npz")

    def load(self, index: int) -> list[np.ndarray] | None:
        path = self._path(index)
        if not os.path.exists(path):
            return None
        names = [f"leaf_{i}" for i in range(len(self.expected))]
        try:
            with np.load(path) as data:
                files = sorted(data.files)
                leaves = [data[name] for name in names] if files == sorted(names) else None
        except Exception as e:  # a truncated or foreign file: say which, and what to do
            problem = f"it cannot be read ({type(e).__name__}: {e})"
        else:
            if leaves is None:
                problem = f"it holds {len(files)} arrays where this sweep has {len(names)}"
            else:
                problem = ""
                for leaf, (name, shape, dtype) in zip(leaves, self.expected, strict=True):
                    if leaf.shape != shape or leaf.dtype != dtype:
                        problem = (
                            f"metric {name or 'metric'!r} there has shape {leaf.shape} and "
                            f"dtype {leaf.dtype}, where this sweep computes {shape} and {dtype}"
                        )
                        break
        if problem:
            raise ValueError(
                f"`{self.where}`: {path} is not a chunk of this sweep: {problem}. "
                + self._start_over()
            )
        return leaves

    def save(self, index: int, leaves: Sequence[np.ndarray]) -> None:
        arrays = {f"leaf_{i}": np.asarray(a) for i, a in enumerate(leaves)}
        atomic_write(self._path(index), lambda f: np.savez(f, **arrays))


def _describe(metrics: Any) -> str:
    """``name:float32[3], ...``: a manifest's metrics, as a refusal shows them."""
    try:
        return ", ".join(
            f"{name or 'metric'}:{dtype}[{','.join(str(d) for d in shape)}]"
            for name, shape, dtype in metrics
        )
    except (TypeError, ValueError):
        return repr(metrics)


def _is_checkified(out_shapes: Any) -> bool:
    """True if train_fn returns ``(error, metrics)``, as a checkified function does."""
    return (
        isinstance(out_shapes, tuple)
        and len(out_shapes) == 2
        and isinstance(out_shapes[0], _checkify.Error)
    )


def _raise_failed_checks(out_tree: Any, leaves: list[np.ndarray], start: int, grid: Grid) -> None:
    """Raises naming every member of a finished chunk whose checkify check failed."""
    if not leaves:  # nothing returned, nothing checked
        return
    count = min(len(leaves[0]), len(grid) - start)  # the chunk's members, padding dropped
    error, _ = jax.tree.unflatten(out_tree, [a[:count] for a in leaves])
    if error.get_exception() is None:
        return
    failed = []
    for i in range(count):
        message = jax.tree.map(lambda a, i=i: a[i], error).get()
        if message is not None:
            failed.append(f"member {start + i} {grid.member(start + i)}: {message}")
    shown = 10
    more = f"\n  ... and {len(failed) - shown} more" if len(failed) > shown else ""
    raise ValueError(
        "`regjax.sweep.run(train_fn=...)`: a check inside train_fn failed for "
        f"{len(failed)} grid member(s) (of members {start} to {start + count - 1}; the "
        "sweep stops at the first chunk with a failure):\n  "
        + "\n  ".join(failed[:shown])
        + more
        + "\nFix or remove these grid values."
    )


def run(
    train_fn: Callable[..., Any],
    grid: Grid,
    key: jax.Array,
    *,
    folds: Folds | None = None,
    chunk_size: int | None = None,
    devices: Sequence[Any] | None = None,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    vmap_size: int | None = None,
) -> SweepResult:
    """Trains every member of a grid in one compiled, vmapped program.

    ``train_fn(hparams, key) -> metrics`` is the user's whole training run for
    one member: ``hparams`` is a dict ``name -> scalar array`` (traced: use
    array ops on it, never a Python ``if``), ``key`` that member's PRNG key,
    and ``metrics`` any pytree of arrays. ``run`` vmaps it over the members,
    compiles once for the whole grid, and reuses the compiled program on a
    second call with the same ``train_fn`` and grid shapes.

    With ``folds`` (from :func:`kfold`) the signature is
    ``train_fn(hparams, key, (train_mask, val_mask))``; it is vmapped over
    folds inside each member, so folds × members compile once, and every
    metric gets a fold axis after the member axis.

    Memory and devices: ``chunk_size`` members run at a time, chunk after
    chunk. The members of a chunk are sharded across ``devices`` (default:
    all local devices) along one mesh axis with ``jax.sharding``, and each
    device runs its share ``vmap_size`` members at a time (vmapped), one
    batch after another inside the same compiled program. A chunk is padded
    up to whole batches on every device (and the last chunk up to the chunk
    size, so every chunk has one shape and one compile); padded members
    repeat the last member and are dropped from the result. The same code
    spans several hosts: call ``jax.distributed.initialize()`` on each host
    first and pass ``devices=jax.devices()``.

    The default ``vmap_size`` is chosen for speed. On CPU it comes from XLA's
    estimate of one member's memory traffic: light members are vmapped many
    at a time, which amortizes per-op overhead (2x faster than a loop for a
    small MLP), while members that each move a lot of memory run one after
    another, as fast as a Python loop over them and with no padding, where a
    wide vmap would thrash the caches. On GPU and TPU it is the whole chunk.

    Reproducibility: XLA's kernels may round differently for different batch
    widths, in the last bits. With ``vmap_size`` given, every member is
    computed in a batch of exactly that width, so results are bit-identical
    whatever the chunk size and the number of devices. The default width
    follows the chunk size and the device count, and so may the last bits:
    to compare runs bit for bit, give both the same ``vmap_size``.

    Resuming: with ``checkpoint_dir``, each finished chunk is written
    atomically. Rerunning the same call after an interruption (Ctrl-C, a
    killed process) loads the finished chunks and computes only the rest; the
    result is identical to an uninterrupted run. The directory's
    ``manifest.json`` records what computed its chunks: a digest of the traced
    ``train_fn`` (its operations and the arrays it captures), its metrics'
    names, shapes and dtypes, the grid, key, folds, chunk size, vmap width and
    the regjax version. A rerun that differs in any of them is refused with a
    ``ValueError`` saying what differs; a chunk file whose arrays do not fit
    is refused too. Without ``vmap_size``, a resume uses the width recorded
    in the manifest.

    Checks: a traced hyperparameter cannot fail regjax's argument checks at
    trace time. Pass ``regjax.checks.checkify(train_fn)`` (or any function
    returning ``(checkify error, metrics)``) and ``run`` raises a
    ``ValueError`` after the first chunk with a failed check, naming each bad
    member's index and grid values; if every check passes, the result holds
    the metrics alone.

    Divergence: a member whose metrics are NaN or inf is marked in
    ``result.diverged``; the other members are unaffected (vmapped members
    never mix). To freeze a member's training at its last finite state, use
    :func:`regjax.sweep.freeze_if_diverged` in the training loop.

    Args:
      train_fn: pure function ``(hparams, key) -> metrics`` (or
        ``(hparams, key, fold)`` with ``folds``).
      grid: the :class:`Grid` from :func:`grid`.
      key: a PRNG key; member i gets ``jax.random.fold_in(key, i)``.
      folds: optional :class:`Folds` for cross-validation.
      chunk_size: members per chunk (>= 1); default all at once.
      devices: devices to shard members across; default ``jax.local_devices()``.
      progress: show a progress bar (tqdm) on a terminal.
      checkpoint_dir: directory for finished chunks, to resume from; delete it
        (or pass a new one) to start over.
      vmap_size: members vmapped together on one device (>= 1; 1 runs them
        one after another); default chosen per platform and model, as above.

    Returns:
      A :class:`SweepResult`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.linspace(-1, 1, 32)[:, None]
      >>> y = 2.0 * x[:, 0]
      >>> def train_fn(hp, key):
      ...     w = jnp.zeros(1)
      ...     def step(w, _):
      ...         g = jax.grad(lambda w: jnp.mean((x @ w - y) ** 2)
      ...                      + hp["lam"] * regjax.penalties.l2(w))(w)
      ...         return w - 0.5 * g, None
      ...     w, _ = jax.lax.scan(step, w, None, length=100)
      ...     return {"w": w[0]}
      >>> result = regjax.sweep.run(train_fn, regjax.sweep.grid(lam=[0.0, 0.1, 1.0]),
      ...                           jax.random.key(0), progress=False)
      >>> result.metrics["w"].round(3)  # ridge: w = 2·mean(x²) / (mean(x²) + lam)
      array([2.   , 1.56 , 0.524], dtype=float32)

    References:
      Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter
      Optimization. JMLR 13. https://jmlr.org/papers/v13/bergstra12a.html
    """
    where = "regjax.sweep.run"
    if not callable(train_fn):
        raise TypeError(f"`{where}(train_fn=...)` must be callable; got {type(train_fn).__name__}.")
    if not isinstance(grid, Grid):
        raise TypeError(
            f"`{where}(grid=...)` must be a `regjax.sweep.grid(...)`; got {type(grid).__name__}."
        )
    check_key(key, where=where)
    if folds is not None and not isinstance(folds, Folds):
        raise TypeError(f"`{where}(folds=...)` must come from `regjax.sweep.kfold`.")
    devices = tuple(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError(f"`{where}(devices=...)` is empty; pass at least one device.")
    n_dev = len(devices)
    n = len(grid)
    if chunk_size is None:
        chunk = n
    else:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
            raise TypeError(f"`{where}(chunk_size=...)` must be an int; got {chunk_size!r}.")
        if chunk_size < 1:
            raise ValueError(f"`{where}(chunk_size=...)` must be >= 1; got {chunk_size}.")
        chunk = min(int(chunk_size), n)
    if vmap_size is not None:
        if isinstance(vmap_size, bool) or not isinstance(vmap_size, int | np.integer):
            raise TypeError(f"`{where}(vmap_size=...)` must be an int; got {vmap_size!r}.")
        if vmap_size < 1:
            raise ValueError(f"`{where}(vmap_size=...)` must be >= 1; got {vmap_size}.")
        vmap_size = int(vmap_size)

    for name in grid.names:
        values = np.asarray(grid[name])
        fed = dtypes.canonicalize_dtype(values.dtype)
        if fed != values.dtype and not np.array_equal(
            values.astype(fed).astype(values.dtype), values
        ):
            raise ValueError(
                f"`{where}(grid=...)`: axis {name!r} holds {values.dtype} values that {fed} "
                "cannot hold exactly: the grid was built with `jax_enable_x64` on, and it is "
                "off now. Run the sweep with x64 on too, or build the grid without it."
            )
    fold_args: tuple[Any, ...] = ()
    if folds is not None:
        fold_args = (jnp.asarray(folds.train), jnp.asarray(folds.val))

    def member_inputs(idx: np.ndarray) -> tuple[Any, ...]:
        hparams = {name: jnp.asarray(grid[name][idx]) for name in grid.names}
        return (hparams, _keys_of_members(key, idx))

    try:
        member = _trace_member(train_fn, folds is not None, _signature(grid, key, fold_args))
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError) as e:
        raise _explain_trace_error(e) from e
    except TypeError as e:
        if "is not a valid JAX type" in str(e):
            raise TypeError(
                f"`{where}(train_fn=...)` must return a pytree of arrays (metrics); {e}"
            ) from e
        raise
    store = None
    if checkpoint_dir is not None:
        store = _ChunkStore(os.fspath(checkpoint_dir))
        if vmap_size is None:
            # The finished chunks' width, not a fresh (optional, platform-dependent)
            # estimate that could differ and so change the last bits of the rest.
            vmap_size = store.stored_width()
    # Each device gets `per_device` members per chunk, a multiple of the vmap width;
    # the last chunk is padded to the same size, so every chunk has one compile.
    per_device = -(-chunk // n_dev)
    width = _vmap_width(vmap_size, member, devices[0].platform, n, per_device)
    per_device = -(-per_device // width) * width
    chunk = per_device * n_dev
    n_chunks = -(-n // chunk)
    program = _program(member, len(fold_args), devices, width)

    def chunk_inputs(index: int) -> tuple[Any, ...]:
        # Padding repeats the last member (same hparams, same key); it is dropped below.
        idx = np.minimum(np.arange(index * chunk, (index + 1) * chunk), n - 1)
        return (*member_inputs(idx), *fold_args)

    out_tree = jax.tree.structure(member.out_shapes)
    checked = _is_checkified(member.out_shapes)
    if store is not None:
        store.open(_manifest(member, grid, key, folds, chunk, width))

    collected: list[list[np.ndarray]] = []
    with progress_bars(enabled=progress, n_chunks=n_chunks, n_members=n) as bars:
        for index in range(n_chunks):
            leaves = store.load(index) if store is not None else None
            if leaves is None:
                out = program(*chunk_inputs(index))
                leaves = [np.asarray(a) for a in jax.tree.leaves(out)]
                if store is not None:
                    store.save(index, leaves)
            if checked:
                _raise_failed_checks(out_tree, leaves, index * chunk, grid)
            collected.append(leaves)
            bars.chunk_done()

    stacked = [np.concatenate(parts)[:n] for parts in zip(*collected, strict=True)]
    metrics = jax.tree.unflatten(out_tree, stacked)
    if checked:  # every check passed: the metrics are what train_fn returned beside them
        metrics = metrics[1]
    return SweepResult(grid, metrics, diverged=non_finite_members(metrics, n))


def freeze_if_diverged(
    current: Any, proposed: Any, loss: jax.Array, diverged: jax.Array
) -> tuple[Any, jax.Array]:
    """Keeps a training state at its last finite value once the loss is not finite.

    Use it in the scanned training loop of a ``train_fn``: a member whose
    loss turns NaN or inf, or whose step would produce a NaN or inf in the
    state, stops moving: its state stays at the last finite state (a step
    that would leave it non-finite is not taken), and its ``diverged`` flag
    stays True. Members never mix
    under vmap, so the others are bit-identical to a run without it. Return
    the flag among the metrics as ``"diverged"`` and ``SweepResult`` uses it.

    Args:
      current: the state (params, optimizer state, …) before this step.
      proposed: the state after this step.
      loss: this step's loss, a scalar.
      diverged: the flag so far (start with ``jnp.array(False)``).

    Returns:
      ``(state, diverged)``: ``current`` if diverged now or before (``loss`` or a
      floating leaf of ``proposed`` not finite), else ``proposed``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> state, bad = regjax.sweep.freeze_if_diverged(
      ...     jnp.ones(2), jnp.full(2, jnp.nan), jnp.asarray(jnp.nan), jnp.asarray(False))
      >>> state, bad
      (Array([1., 1.], dtype=float32), Array(True, dtype=bool))

    References:
      Goodfellow, I., Bengio, Y. and Courville, A. (2016). Deep Learning, §8.2
      (ill-conditioning and exploding gradients). https://www.deeplearningbook.org
    """
    diverged = jnp.logical_or(diverged, ~jnp.isfinite(loss))
    for leaf in jax.tree.leaves(proposed):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
            diverged = jnp.logical_or(diverged, ~jnp.all(jnp.isfinite(leaf)))
    state = jax.tree.map(lambda c, p: jnp.where(diverged, c, p), current, proposed)
    return state, diverged
