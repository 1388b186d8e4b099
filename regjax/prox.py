"""Proximal operators over pytrees, each the companion of a ``regjax.penalties`` function.

``prox_f(v) = argmin_x f(x) + ½‖x − v‖²`` with ``f = strength * penalty``.
Strengths may be traced scalars or per-leaf pytrees; jit- and vmap-safe.
"""

from regjax._prox import elastic_net as elastic_net
from regjax._prox import group_lasso as group_lasso
from regjax._prox import l1 as l1
from regjax._prox import l2 as l2
from regjax._prox import nuclear as nuclear

__all__ = ["elastic_net", "group_lasso", "l1", "l2", "nuclear"]
