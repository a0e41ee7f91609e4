"""The one masked-update mechanism every unlearner shares.

After ``backward()``, gradients outside the mask are zeroed. Weight decay is added to the
gradient *before* masking (the optimizer itself gets ``weight_decay=0``), and tensors with
no selected entry are left out of the optimizer, so neither decay nor momentum can move an
entry outside the mask: those entries stay bit-identical.
"""

from __future__ import annotations

import torch
from torch import nn

from .masks import Mask


class MaskedUpdate:
    """Restricts optimisation of ``model`` to the entries selected by ``mask`` (all entries if ``None``)."""

    def __init__(self, model: nn.Module, mask: Mask | None = None, weight_decay: float = 0.0) -> None:
        self.weight_decay = float(weight_decay)
        self._params: list[tuple[nn.Parameter, torch.Tensor | None]] = []
        named = dict(model.named_parameters())
        if mask is not None:
            mask.check_matches(model)
        for name, param in named.items():
            if not param.requires_grad:
                continue
            if mask is None:
                self._params.append((param, None))
                continue
            entry = mask.entries.get(name)
            if entry is None or not bool(entry.any()):
                continue  # nothing selected: keep it out of the optimizer entirely
            full = bool(entry.all())
            self._params.append((param, None if full else entry.to(param.device, param.dtype)))

    def parameters(self) -> list[nn.Parameter]:
        """The tensors the optimizer should hold."""
        return [p for p, _ in self._params]

    @torch.no_grad()
    def apply(self) -> None:
        """Call between ``loss.backward()`` and ``optimizer.step()``."""
        for param, entry in self._params:
            if param.grad is None:
                continue
            if self.weight_decay:
                param.grad.add_(param, alpha=self.weight_decay)
            if entry is not None:
                param.grad.mul_(entry)

    @torch.no_grad()
    def decay(self, rate: float) -> None:
        """Decoupled weight decay (AdamW): ``w -= rate * w`` for the selected entries only; call before ``optimizer.step()``."""
        for param, entry in self._params:
            if entry is None:
                param.mul_(1.0 - rate)
            else:
                param.sub_(param * entry, alpha=rate)
