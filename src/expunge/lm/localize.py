"""DEL-style localization for transformers: |θ · g| per neuron of the MLP and attention projections.

g is the gradient of the forget answers' NLL summed over examples (``summed_gradient``, eval
mode, every example weighted equally). A *neuron* is one output unit of a projection: for
GPT-2's ``Conv1D`` (weight [in, out]) a column, for ``nn.Linear`` (weight [out, in]) a row; its
score is the mean of the top-h |θ·g| entries of that neuron (DEL's channel rule, h = 10% of the
neuron's entries, at least 1) broadcast to the whole neuron, and the bias entry takes the same
score. So ``Scores.mask(alpha)`` (default granularity ``param``) selects whole neurons, up to
the one cut by the exact budget. Other tensors (embeddings, LayerNorm) score 0 with
``scope="projections"`` and compete on equal terms with ``scope="all"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..errors import ConfigError
from ..localize.base import DEFAULT_BATCH, LOCALIZERS, check_batch_size
from ..localize.gradient import summed_gradient
from ..localize.scores import Scores
from ..train import Batch, LossFn

PROJECTION_NAMES = ("c_attn", "c_proj", "c_fc", "q_proj", "k_proj", "v_proj", "o_proj", "out_proj", "gate_proj", "up_proj", "down_proj", "fc1", "fc2", "query", "key", "value", "dense")


def _projections(model: nn.Module) -> dict[str, tuple[nn.Module, bool]]:
    """module name -> (module, out_dim_is_last) for every projection layer."""
    from transformers.pytorch_utils import Conv1D

    out = {}
    for name, module in model.named_modules():
        if name.split(".")[-1] in PROJECTION_NAMES:
            if isinstance(module, Conv1D):
                out[name] = (module, True)
            elif isinstance(module, nn.Linear):
                out[name] = (module, False)
    return out


def neuron_scores(score: torch.Tensor, out_last: bool, fraction: float = 0.1) -> torch.Tensor:
    """Each neuron's top-h mean of ``score`` broadcast over the neuron (h = fraction of its entries, >= 1)."""
    rows = score.t() if out_last else score  # [out, in]
    h = max(1, min(rows.shape[1], int(fraction * rows.shape[1])))
    per = rows.topk(h, dim=1).values.mean(dim=1, keepdim=True).expand_as(rows)
    return (per.t() if out_last else per).contiguous()


class TransformerDEL:
    data_source = "forget"
    default_granularity = "param"

    def __init__(self, scope: str = "projections", top_fraction: float = 0.1, data_source: str = "forget", batch_size: int = DEFAULT_BATCH) -> None:
        if scope not in ("projections", "all"):
            raise ConfigError(f"lm_del scope {scope!r} unknown; choose 'projections' or 'all'.")
        if not 0 < top_fraction <= 1:
            raise ConfigError(f"lm_del top_fraction must lie in (0, 1], got {top_fraction}.")
        self.scope = scope
        self.top_fraction = top_fraction
        self.data_source = data_source
        self.batch_size = check_batch_size(batch_size, "lm_del")  # the runner's batches; the summed gradient does not depend on it

    def fit(self, model: nn.Module, loss_fn: LossFn, data: Iterable[Batch]) -> Scores:
        grads = summed_gradient(model, loss_fn, data)
        params = dict(model.named_parameters())
        raw = {n: (params[n].detach() * g).abs() for n, g in grads.items()}
        values = {n: (v if self.scope == "all" else torch.zeros_like(v)) for n, v in raw.items()}
        for mname, (_module, out_last) in _projections(model).items():
            w = f"{mname}.weight"
            if w not in raw:
                continue
            per = neuron_scores(raw[w], out_last, self.top_fraction)
            values[w] = per
            b = f"{mname}.bias"
            if b in raw:
                values[b] = per[0] if out_last else per[:, 0]
        if not _projections(model):
            raise ConfigError("lm_del found no attention/MLP projection (Conv1D or Linear named c_attn, q_proj, ...) in this model.")
        return Scores(values, "param", metadata={"localizer": "lm_del", "scope": self.scope})


@LOCALIZERS.register("lm_del", "DEL for transformers: |θ·g| of the forget NLL per neuron of the attention/MLP projections", families=("lm",))
def lm_del_localizer(**options: object) -> TransformerDEL:
    return TransformerDEL(**options)  # type: ignore[arg-type]
