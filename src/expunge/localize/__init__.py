"""Localizers: which parameters hold the data to forget. ``LOCALIZERS.get(name)(**options)``."""

from . import critmem, gradient, layers, random_control, ssd_importance  # noqa: F401  (register built-ins)
from .base import LOCALIZERS, Localizer
from .gradient import GradientLocalizer, summed_gradient
from .random_control import random_like
from .scores import Scores, channel_aggregate, global_top_k

__all__ = ["LOCALIZERS", "GradientLocalizer", "Localizer", "Scores", "channel_aggregate", "global_top_k", "random_like", "summed_gradient"]
