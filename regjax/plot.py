"""Matplotlib figures for regularization: validation curves and heatmaps.

matplotlib is optional (``pip install 'regjax[plot]'``) and imported only
when a figure is drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["heatmap", "validation_curve"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("regjax.plot needs matplotlib: `pip install 'regjax[plot]'`.") from e
    return plt


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _log_scale(values: np.ndarray) -> bool:
    values = np.asarray(values, np.float64)
    positive = values[values > 0]
    return values.min() > 0 and positive.max() / positive.min() >= 20


def validation_curve(
    x: Any,
    mean: Any,
    se: Any = None,
    *,
    xlabel: str = "λ",
    ylabel: str = "validation metric",
    best: int | None = None,
    ax: Any = None,
) -> Any:
    """A validation curve: a metric against one hyperparameter, with error bars.

    The x axis is logarithmic when every value is positive and they span at
    least a factor of 20 (a λ grid); otherwise linear.

    Args:
      x: the hyperparameter values, 1-D.
      mean: the metric at each value (e.g. the mean over CV folds).
      se: optional standard errors, drawn as error bars.
      xlabel: the x-axis label.
      ylabel: the y-axis label.
      best: optional index of the chosen value, marked with a dashed line.
      ax: a matplotlib Axes to draw on; default a new figure.

    Returns:
      The matplotlib Figure.

    Examples:
      >>> import numpy as np
      >>> import regjax
      >>> fig = regjax.plot.validation_curve(np.logspace(-3, 1, 5),
      ...                                    np.array([0.5, 0.4, 0.3, 0.35, 0.6]), best=2)
      >>> fig.axes[0].get_xscale()
      'log'

    References:
      Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of
      Statistical Learning, 2nd ed., §7.10 (Fig. 7.9).
      https://hastie.su.domains/ElemStatLearn/
    """
    x = np.asarray(x, np.float64)
    mean = np.asarray(mean, np.float64)
    if x.ndim != 1 or mean.shape != x.shape:
        raise ValueError(
            "`regjax.plot.validation_curve(x=..., mean=...)` must be 1-D and of equal length; "
            f"got shapes {x.shape} and {mean.shape}."
        )
    fig, ax = _axes(ax, (5.5, 3.8))
    if se is not None:
        ax.errorbar(x, mean, yerr=np.asarray(se, np.float64), marker="o", ms=3, capsize=2)
    else:
        ax.plot(x, mean, marker="o", ms=3)
    if _log_scale(x):
        ax.set_xscale("log")
    if best is not None:
        ax.axvline(x[best], color="k", ls="--", lw=0.8, label=f"best: {x[best]:.3g}")
        ax.legend(frameon=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig


def heatmap(
    values: Any,
    row_values: Any,
    col_values: Any,
    *,
    ylabel: str = "",
    xlabel: str = "",
    title: str = "",
    best: tuple[int, int] | None = None,
    ax: Any = None,
) -> Any:
    """A heatmap of a metric over a 2-D hyperparameter grid, best cell starred.

    Args:
      values: 2-D array, ``values[i, j]`` at ``row_values[i]``, ``col_values[j]``.
      row_values: the hyperparameter values along the rows.
      col_values: the hyperparameter values along the columns.
      ylabel: the row hyperparameter's name.
      xlabel: the column hyperparameter's name.
      title: the figure title (e.g. the metric's name).
      best: optional ``(row, col)`` of the best cell, marked with a star.
      ax: a matplotlib Axes to draw on; default a new figure.

    Returns:
      The matplotlib Figure.

    Examples:
      >>> import numpy as np
      >>> import regjax
      >>> fig = regjax.plot.heatmap(np.arange(6.0).reshape(2, 3), [0.1, 0.01],
      ...                           [0.0, 0.5, 0.9], best=(0, 0))
      >>> len(fig.axes)  # the heatmap and its colorbar
      2

    References:
      Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay
      Regularization, Fig. 2 (learning rate × weight decay heatmaps).
      https://arxiv.org/abs/1711.05101
    """
    values = np.asarray(values, np.float64)
    rows = np.asarray(row_values)
    cols = np.asarray(col_values)
    if values.shape != (rows.size, cols.size):
        raise ValueError(
            f"`regjax.plot.heatmap(values=...)` has shape {values.shape}; expected "
            f"({rows.size}, {cols.size}) from the row and column values."
        )
    fig, ax = _axes(ax, (1.0 + 0.45 * cols.size + 2.0, 1.0 + 0.35 * rows.size + 1.0))
    finite = values[np.isfinite(values)]
    norm = None
    if finite.size and finite.min() > 0 and finite.max() / finite.min() >= 10:
        from matplotlib.colors import LogNorm

        norm = LogNorm(finite.min(), finite.max())  # errors spanning decades stay readable
    image = ax.imshow(
        np.ma.masked_invalid(values), aspect="auto", cmap="viridis_r", origin="lower", norm=norm
    )
    fig.colorbar(image, ax=ax, label=title)
    ax.set_xticks(range(cols.size), [f"{v:.2g}" for v in cols], rotation=45, ha="right")
    ax.set_yticks(range(rows.size), [f"{v:.2g}" for v in rows])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if best is not None:
        ax.plot(best[1], best[0], marker="*", color="red", ms=12, mec="white")
    return fig
