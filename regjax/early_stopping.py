"""Jittable early stopping: array ops only, so every member of a vmapped grid
stops on its own inside a ``lax.scan`` training loop."""

from regjax._early_stopping import EarlyStoppingState as EarlyStoppingState
from regjax._early_stopping import freeze_if_stopped as freeze_if_stopped
from regjax._early_stopping import init as init
from regjax._early_stopping import update as update

__all__ = ["EarlyStoppingState", "freeze_if_stopped", "init", "update"]
