"""Regularization paths for linear models, with duality-gap certificates.

Ridge (closed form from one SVD), lasso and elastic net, group lasso and
L1/elastic-net logistic regression, each with scikit-learn's objective so
``alpha`` means the same thing in both. Grids are solved vmapped or
warm-started along the path, and every returned gap is recomputed at the
returned coefficients.
"""

from regjax._group_lasso_path import group_lasso_path as group_lasso_path
from regjax._lasso import LassoCVResult as LassoCVResult
from regjax._lasso import enet_path as enet_path
from regjax._lasso import lasso_cv as lasso_cv
from regjax._lasso import lasso_path as lasso_path
from regjax._linear import RidgeCVResult as RidgeCVResult
from regjax._linear import ridge_cv as ridge_cv
from regjax._linear import ridge_path as ridge_path
from regjax._logistic import logistic_path as logistic_path

__all__ = [
    "LassoCVResult",
    "RidgeCVResult",
    "enet_path",
    "group_lasso_path",
    "lasso_cv",
    "lasso_path",
    "logistic_path",
    "ridge_cv",
    "ridge_path",
]
