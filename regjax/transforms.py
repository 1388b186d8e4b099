"""Update-side regularization as optax gradient transformations.

Weight decay (coupled ``add_l2_gradient`` and AdamW-style
``decoupled_weight_decay``), proximal steps with exact zeros (``proximal`` and
its presets) and sharpness-aware minimization (``sam``,
``sam_value_and_grad``). Each composes with ``optax.chain`` and any base
optimizer; hyperparameters may be numbers, traced arrays, per-leaf pytrees
(where it makes sense) or optax schedules; states are NamedTuples of arrays.
"""

from regjax._proximal import proximal as proximal
from regjax._proximal import proximal_elastic_net as proximal_elastic_net
from regjax._proximal import proximal_group_lasso as proximal_group_lasso
from regjax._proximal import proximal_l1 as proximal_l1
from regjax._proximal import proximal_nuclear as proximal_nuclear
from regjax._sam import sam as sam
from regjax._sam import sam_value_and_grad as sam_value_and_grad
from regjax._weight_decay import add_l2_gradient as add_l2_gradient
from regjax._weight_decay import decoupled_weight_decay as decoupled_weight_decay

__all__ = [
    "add_l2_gradient",
    "decoupled_weight_decay",
    "proximal",
    "proximal_elastic_net",
    "proximal_group_lasso",
    "proximal_l1",
    "proximal_nuclear",
    "sam",
    "sam_value_and_grad",
]
