"""What a sweep returns: the grid, the metrics with a leading member axis, and
the choices made from them (best, one standard error), tables, plots, files."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Literal

import jax
import numpy as np

from regjax._grid import Grid
from regjax._io import atomic_write
from regjax._tree import path_str

_FORMAT = "regjax.sweep.SweepResult/1"


def non_finite_members(metrics: Any, n: int) -> np.ndarray:
    """True for members with a non-finite floating metric, or a nonzero "diverged" flag."""
    bad = np.zeros(n, bool)
    for path, leaf in jax.tree_util.tree_flatten_with_path(metrics)[0]:
        leaf = np.asarray(leaf).reshape(n, -1)
        if np.issubdtype(leaf.dtype, np.inexact):
            bad |= ~np.isfinite(leaf).all(axis=1)
        if path_str(path).split("/")[-1] == "diverged":
            # a flag cast to int or float (a fold mean, say) still flags its member
            bad |= (leaf != 0).any(axis=1)
    return bad


class SweepResult:
    """The metrics of every grid member, and the choices made from them.

    :func:`regjax.sweep.run` returns one; it can also be built from a grid
    and metrics computed elsewhere (as below), or read back with
    :meth:`~regjax.sweep.SweepResult.load`. Every metric has a leading member
    axis, in the grid's flat order (member ``i`` is ``grid.member(i)``);
    after a run with ``folds`` it has a fold axis next. The methods never
    rerun anything:

    - choices: :meth:`~regjax.sweep.SweepResult.best` and
      :meth:`~regjax.sweep.SweepResult.best_index` (mean over folds, diverged
      members excluded), :meth:`~regjax.sweep.SweepResult.one_standard_error`
      (the most regularized member within one standard error of the best;
      needs a fold axis);
    - access: :meth:`~regjax.sweep.SweepResult.metric`,
      :meth:`~regjax.sweep.SweepResult.metric_names`,
      :meth:`~regjax.sweep.SweepResult.hparams` (the exact grid values,
      float64/int64), :meth:`~regjax.sweep.SweepResult.reshaped_metrics`
      (the member axis reshaped to the grid's shape);
    - views and files: :meth:`~regjax.sweep.SweepResult.table`,
      :meth:`~regjax.sweep.SweepResult.to_dataframe` (pandas),
      :meth:`~regjax.sweep.SweepResult.plot` (matplotlib: a curve for a 1-D
      grid, a heatmap for a 2-D one), :meth:`~regjax.sweep.SweepResult.save`
      and :meth:`~regjax.sweep.SweepResult.load` (an ``.npz`` file and a
      ``.json`` beside it).

    Attributes:
      grid: the :class:`regjax.sweep.Grid` that was run (flat hyperparameters,
        one row per member).
      metrics: the pytree ``train_fn`` returned, as NumPy arrays with a
        leading member axis (then a fold axis, if run with folds).
      diverged: bool array, one per member: True where a metric was NaN or inf
        (or ``train_fn`` returned a nonzero ``"diverged"`` metric, of any dtype).

    Metric names are key paths joined by ``/`` (``"val/loss"`` for
    ``{"val": {"loss": ...}}``); a bare array metric is named ``"metric"``.

    Examples:
      >>> import numpy as np
      >>> import regjax
      >>> g = regjax.sweep.grid(lam=[0.01, 0.1, 1.0])
      >>> r = regjax.sweep.SweepResult(g, {"val_loss": np.array([0.5, 0.3, 0.9])})
      >>> r.best("val_loss")
      {'lam': 0.1}

      With a fold axis, the one-standard-error rule can prefer a stronger
      penalty (larger ``lam``) whose mean is within the best member's
      standard error over folds:

      >>> err = np.array([[0.28, 0.34], [0.32, 0.34], [0.50, 0.52]])  # (members, folds)
      >>> r = regjax.sweep.SweepResult(g, {"val": {"err": err}})
      >>> r.metric_names(), r.metric("val/err").shape
      (['val/err'], (3, 2))
      >>> r.best("val/err"), r.one_standard_error("val/err")
      ({'lam': 0.01}, {'lam': 0.1})
      >>> print(r.table())
       lam  val/err (mean)  diverged
      0.01            0.31
       0.1            0.33
         1            0.51

      A member with a non-finite metric is marked diverged and never chosen:

      >>> r = regjax.sweep.SweepResult(g, {"loss": np.array([0.5, np.nan, 0.9])})
      >>> r.diverged, r.best("loss")
      (array([False,  True, False]), {'lam': 0.01})

    References:
      Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of
      Statistical Learning, 2nd ed., §7.10. https://hastie.su.domains/ElemStatLearn/
    """

    def __init__(self, grid: Grid, metrics: Any, diverged: Any = None):
        self.grid = grid
        self.metrics = jax.tree.map(np.asarray, metrics)
        n = len(grid)
        for path, leaf in jax.tree_util.tree_flatten_with_path(self.metrics)[0]:
            if leaf.ndim == 0 or leaf.shape[0] != n:
                raise ValueError(
                    f"`regjax.sweep.SweepResult(metrics=...)`: metric {path_str(path)!r} has "
                    f"shape {leaf.shape}; its leading axis must be the {n} members."
                )
        names = self.metric_names()
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"`regjax.sweep.SweepResult(metrics=...)`: the names {repeated} each belong to "
                "more than one metric (a key holding '/' collides with a nested one); rename "
                "one of them."
            )
        if diverged is None:
            self.diverged = non_finite_members(self.metrics, n)
        else:
            self.diverged = np.asarray(diverged).astype(bool)
            if self.diverged.shape != (n,):
                raise ValueError(
                    "`regjax.sweep.SweepResult(diverged=...)` must hold one flag per member, "
                    f"shape ({n},); got shape {self.diverged.shape}."
                )

    # -- access ---------------------------------------------------------------------------
    def metric_names(self) -> list[str]:
        """Names of every metric leaf."""
        return [
            path_str(p) or "metric"
            for p, _ in jax.tree_util.tree_flatten_with_path(self.metrics)[0]
        ]

    def metric(self, name: str, *, reshape: bool = False) -> np.ndarray:
        """One metric, shape ``(members, ...)``, or ``grid.shape + (...)`` with ``reshape``."""
        found = {
            (path_str(p) or "metric"): leaf
            for p, leaf in jax.tree_util.tree_flatten_with_path(self.metrics)[0]
        }
        if name not in found:
            raise KeyError(
                f"`SweepResult.metric(name=...)`: no metric {name!r}; the metrics are "
                f"{sorted(found)}."
            )
        return self.grid.reshape(found[name]) if reshape else found[name]

    def hparams(self, *, reshape: bool = False) -> dict[str, np.ndarray]:
        """The hyperparameters, one value per member (or shaped like the grid).

        These are the values the grid was built from (float64/int64), as
        :meth:`best` returns them, not their float32 images that ``train_fn``
        saw: ``hparams()["lam"] == 0.01`` holds where the grid says 0.01.
        """
        exact = self.grid._exact_axes
        if exact is None:
            values = {k: np.asarray(self.grid[k]) for k in self.grid.names}
        else:
            mesh = np.meshgrid(*(exact[k] for k in self.grid.names), indexing="ij")
            values = {k: m.reshape(-1) for k, m in zip(self.grid.names, mesh, strict=True)}
        return self.grid.reshape(values) if reshape else values

    def reshaped_metrics(self) -> Any:
        """The metrics with the member axis reshaped to the grid's shape."""
        return self.grid.reshape(self.metrics)

    # -- choices -----------------------------------------------------------------------------
    def _per_member(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        values = np.asarray(self.metric(metric), np.float64)
        if values.ndim == 1:
            return values, None
        flat = values.reshape(values.shape[0], -1)
        if values.ndim == 2 and flat.shape[1] > 1:
            se = flat.std(axis=1, ddof=1) / np.sqrt(flat.shape[1])
        else:
            se = None
        return flat.mean(axis=1), se

    def _usable(self, mean: np.ndarray, metric: str) -> np.ndarray:
        usable = ~self.diverged & np.isfinite(mean)
        if not usable.any():
            raise ValueError(
                f"`SweepResult`: every member diverged or has a non-finite {metric!r}; "
                "there is no best member."
            )
        return usable

    def best_index(self, metric: str, mode: Literal["min", "max"] = "min") -> int:
        """The flat index of the best member (mean over folds); diverged members excluded."""
        _check_mode(mode, "best_index")
        mean, _ = self._per_member(metric)
        usable = self._usable(mean, metric)
        scores = np.where(usable, mean if mode == "min" else -mean, np.inf)
        return int(np.argmin(scores))

    def best(self, metric: str, mode: Literal["min", "max"] = "min") -> dict[str, float]:
        """The best member's hyperparameters, as a dict ``name -> scalar``.

        Args:
          metric: the metric's name (see :meth:`metric_names`); a metric with
            a fold axis is averaged over folds.
          mode: ``"min"`` for losses and errors, ``"max"`` for accuracies.

        Returns:
          ``{name: value}`` of the best non-diverged member.
        """
        _check_mode(mode, "best")
        return self.grid.member(self.best_index(metric, mode))

    def one_standard_error(
        self,
        metric: str,
        *,
        mode: Literal["min", "max"] = "min",
        by: str | None = None,
        simpler: Literal["larger", "smaller"] = "larger",
    ) -> dict[str, float]:
        """The simplest member within one standard error of the best (Hastie et al.).

        The metric must have a fold axis (``run(..., folds=kfold(...))``): the
        mean over folds picks the best member, and its standard error over
        folds, ``std(ddof=1)/√k``, sets the tolerance. Among the members whose
        mean is within that tolerance of the best, the rule returns the most
        regularized one: the largest value of hyperparameter ``by`` (or the
        smallest, with ``simpler="smaller"``), ties broken by the mean.

        Args:
          metric: the metric's name; shape ``(members, folds)``.
          mode: ``"min"`` or ``"max"``.
          by: the hyperparameter that measures simplicity; default: the grid's
            only axis (required for grids with more than one axis).
          simpler: whether larger or smaller ``by`` means simpler.

        Returns:
          ``{name: value}`` of the chosen member.
        """
        where = "SweepResult.one_standard_error"
        _check_mode(mode, "one_standard_error")
        if by is None:
            if len(self.grid.names) != 1:
                raise ValueError(
                    f"`{where}(by=...)` is required for a grid with several axes "
                    f"{self.grid.names}: name the hyperparameter that measures regularization."
                )
            by = self.grid.names[0]
        if by not in self.grid.names:
            raise ValueError(f"`{where}(by=...)` must be one of {self.grid.names}; got {by!r}.")
        if simpler not in ("larger", "smaller"):
            raise ValueError(f'`{where}(simpler=...)` must be "larger" or "smaller".')
        mean, se = self._per_member(metric)
        if se is None:
            raise ValueError(
                f"`{where}(metric=...)`: {metric!r} has no fold axis, so it has no standard "
                "error. Run the sweep with `folds=regjax.sweep.kfold(...)`."
            )
        usable = self._usable(mean, metric)
        best = self.best_index(metric, mode)
        if mode == "min":
            within = usable & (mean <= mean[best] + se[best])
        else:
            within = usable & (mean >= mean[best] - se[best])
        complexity = np.asarray(self.grid[by], np.float64)
        complexity = -complexity if simpler == "larger" else complexity
        score = mean if mode == "min" else -mean
        candidates = np.flatnonzero(within)
        order = np.lexsort((score[candidates], complexity[candidates]))
        return self.grid.member(int(candidates[order[0]]))

    # -- views -------------------------------------------------------------------------------
    def _scalar_columns(self) -> dict[str, np.ndarray]:
        columns = {}
        for name in self.metric_names():
            if name.split("/")[-1] == "diverged":
                continue  # shown as the table's own `diverged` column
            values = self.metric(name)
            numeric = values.dtype == np.bool_ or np.issubdtype(values.dtype, np.number)
            if values.ndim <= 2 and numeric:
                flat = values.reshape(values.shape[0], -1).astype(np.float64)
                columns[name if values.ndim == 1 else f"{name} (mean)"] = flat.mean(axis=1)
        return columns

    def table(
        self,
        *,
        sort_by: str | None = None,
        mode: Literal["min", "max"] = "min",
        max_rows: int | None = None,
    ) -> str:
        """The grid and its scalar metrics as a text table, one row per member.

        Args:
          sort_by: a metric to sort by (best first); default grid order.
          mode: ``"min"`` or ``"max"`` for ``sort_by``.
          max_rows: show at most this many rows (a non-negative int).

        Returns:
          The table as a string.
        """
        if max_rows is not None and (
            isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0
        ):
            raise ValueError(
                "`SweepResult.table(max_rows=...)` must be None or a non-negative int; "
                f"got {max_rows!r}. Pass None to show every row."
            )
        _check_mode(mode, "table")
        columns = {**self.hparams(), **self._scalar_columns()}
        order = np.arange(len(self.grid))
        if sort_by is not None:
            mean, _ = self._per_member(sort_by)
            key = np.where(np.isfinite(mean), mean if mode == "min" else -mean, np.inf)
            order = np.argsort(key, kind="stable")
        if max_rows is not None:
            order = order[:max_rows]
        header = [*columns, "diverged"]
        rows = [header]
        for i in order:
            rows.append(
                [f"{columns[c][i]:.4g}" for c in columns] + ["yes" if self.diverged[i] else ""]
            )
        widths = [max(len(r[j]) for r in rows) for j in range(len(header))]
        return "\n".join(
            "  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows
        )

    def to_dataframe(self) -> Any:
        """The grid and scalar metrics as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError(
                "`SweepResult.to_dataframe()` needs pandas: `pip install 'regjax[sweep]'`."
            ) from e
        data = {**self.hparams(), **self._scalar_columns(), "diverged": self.diverged}
        return pd.DataFrame(data)

    def plot(self, metric: str, *, mode: Literal["min", "max"] = "min", ax: Any = None) -> Any:
        """A validation curve (1-D grids, log axis) or heatmap (2-D grids) of a metric.

        Axes of length 1 do not count: a 12 × 1 grid draws a curve.

        Args:
          metric: the metric's name (fold axes are averaged, with standard
            error bars on a 1-D curve).
          mode: ``"min"`` or ``"max"``, to mark the best member.
          ax: a matplotlib Axes to draw on; default a new figure.

        Returns:
          The matplotlib Figure.
        """
        _check_mode(mode, "plot")
        from regjax import plot

        mean, se = self._per_member(metric)
        best = self.best_index(metric, mode)
        # Axes of length 1 are held fixed; what is left decides the kind of figure.
        varying = [
            n for n, length in zip(self.grid.names, self.grid.shape, strict=True) if length > 1
        ] or [self.grid.names[0]]
        varying_shape = tuple(len(self.grid.axes[n]) for n in varying)
        best_at = np.unravel_index(best, varying_shape)
        if len(varying) == 1:
            name = varying[0]
            return plot.validation_curve(
                np.asarray(self.grid[name]),
                mean,
                se,
                xlabel=name,
                ylabel=metric,
                best=best,
                ax=ax,
            )
        if len(varying) == 2:
            rows, cols = varying
            return plot.heatmap(
                mean.reshape(varying_shape),
                self.grid.axes[rows],
                self.grid.axes[cols],
                ylabel=rows,
                xlabel=cols,
                title=metric,
                best=(int(best_at[0]), int(best_at[1])),
                ax=ax,
            )
        raise ValueError(
            f"`SweepResult.plot`: the grid varies along {len(varying)} axes {varying}; plot a "
            "grid that varies along 1 or 2, or slice `result.metric(name, reshape=True)` "
            "yourself."
        )

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes ``path`` (npz: arrays) and ``path`` with ``.json`` (metadata), atomically.

        Metric trees come back from :meth:`load` as nested dicts keyed by name.
        """
        path = os.fspath(path)
        if not path.endswith(".npz"):
            raise ValueError(f"`SweepResult.save(path=...)` must end in .npz; got {path!r}.")
        arrays = {f"hp/{k}": np.asarray(self.grid[k]) for k in self.grid.names}
        names = self.metric_names()
        for name in names:
            arrays[f"metric/{name}"] = self.metric(name)
        arrays["diverged"] = self.diverged
        # The two files are written one after the other: a token in both tells a pair
        # from an npz and a json left by different saves (one interrupted in between).
        token = uuid.uuid4().hex
        arrays["save_token"] = np.asarray(token)
        meta = {
            "format": _FORMAT,
            "save_token": token,
            "axes": {k: v.tolist() for k, v in self.grid.axes.items()},
            "axis_dtypes": {k: str(v.dtype) for k, v in self.grid.axes.items()},
            # the values the grid was built from (float64/int64), for `best()` after `load`
            "exact_axes": {
                k: np.asarray(v).tolist() for k, v in (self.grid._exact_axes or {}).items()
            },
            "metrics": names,
            "bare_metric": jax.tree_util.treedef_is_leaf(jax.tree.structure(self.metrics)),
        }
        atomic_write(path, lambda f: np.savez(f, **arrays))
        atomic_write(path[:-4] + ".json", lambda f: json.dump(meta, f, indent=1), text=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepResult:
        """Reads a result written by :meth:`save`."""
        path = os.fspath(path)
        with open(path[:-4] + ".json") as f:
            meta = json.load(f)
        if meta.get("format") != _FORMAT:
            raise ValueError(f"`SweepResult.load`: {path} is not a saved regjax sweep result.")
        axes = {k: np.asarray(v, meta["axis_dtypes"][k]) for k, v in meta["axes"].items()}
        with np.load(path) as data:
            token = str(data["save_token"]) if "save_token" in data.files else None
            if token != meta.get("save_token"):
                raise ValueError(
                    f"`SweepResult.load`: {path} and {path[:-4]}.json were written by different "
                    "saves (a save interrupted between the two files?); save the result again."
                )
            exact = meta.get("exact_axes") or {}
            grid = Grid(
                axes,
                {k: data[f"hp/{k}"] for k in axes},
                {k: np.asarray(exact[k]) for k in axes} if set(exact) == set(axes) else None,
            )
            if meta["bare_metric"]:
                metrics: Any = data["metric/metric"]
            else:
                metrics = {}
                for name in meta["metrics"]:
                    *parents, leaf = name.split("/")
                    node = metrics
                    for p in parents:
                        node = node.setdefault(p, {})
                    node[leaf] = data[f"metric/{name}"]
            diverged = data["diverged"]
        return cls(grid, metrics, diverged)


def _check_mode(mode: str, method: str) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f'`SweepResult.{method}(mode=...)` must be "min" or "max"; got {mode!r}.')
