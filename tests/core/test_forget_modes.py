import numpy as np
import pytest
import torch

from expunge.data import build_split, corrupt, load_dataset
from expunge.data.corruption import stamp
from expunge.errors import DataError


@pytest.fixture
def bundle():
    return load_dataset("synthetic", num_train=400, num_test=200, num_classes=4, image_size=8, seed=0)


def test_sub_class_takes_one_cluster_of_one_class(bundle):
    t = bundle.train_targets()
    split = build_split("sub_class", t, 200, seed=0, classes=[2], validation_fraction=0.0, inputs=bundle.train.inputs, clusters=3, cluster=0)
    assert set(t[split.forget]) == {2}
    class_size = int((t == 2).sum())
    assert 0 < len(split.forget) < class_size  # part of the class only
    assert 2 in set(t[split.retain])  # the rest of the class is retained
    with pytest.raises(DataError, match="inputs"):
        build_split("sub_class", t, 200, classes=[2])


def test_memorization_forgets_the_highest_heldout_loss_examples(bundle):
    t = bundle.train_targets().copy()
    # mislabel 20 examples: they are the atypical ones a model must memorise
    mislabeled = np.arange(20)
    bundle.train.targets[mislabeled] = (bundle.train.targets[mislabeled] + 1) % 4
    t = bundle.train_targets()
    split = build_split("memorization", t, 200, seed=0, fraction=0.05, validation_fraction=0.0, inputs=bundle.train.inputs)
    assert len(split.forget) == 20
    assert len(set(split.forget) & set(mislabeled)) >= 15


def test_label_noise_flips_exactly_the_forget_set(bundle):
    split = build_split("iid", bundle.train_targets(), 200, seed=0, fraction=0.1, validation_fraction=0.0)
    out = corrupt("label_noise", bundle, split.forget, split.test, seed=1)
    changed = np.flatnonzero((out.bundle.train.targets != bundle.train.targets).numpy())
    assert np.array_equal(changed, np.sort(split.forget))  # every forget label flipped, nothing else
    assert bundle.train.targets is not out.bundle.train.targets  # original untouched


def test_backdoor_triggers_and_relabels_forget_set(bundle):
    split = build_split("iid", bundle.train_targets(), 200, seed=0, fraction=0.1, validation_fraction=0.0)
    out = corrupt("backdoor", bundle, split.forget, split.test, target=1, patch=2)
    x = out.bundle.train.inputs
    assert torch.all(out.bundle.train.targets[split.forget] == 1)
    assert torch.all(x[split.forget][..., -2:, -2:] == bundle.train.inputs.max())
    assert torch.equal(x[split.retain], bundle.train.inputs[split.retain])

    class AlwaysTarget(torch.nn.Module):
        def forward(self, inp):
            logits = torch.zeros(len(inp), 4)
            logits[:, 1] = (inp[..., -2:, -2:].mean(dim=(1, 2, 3)) >= bundle.train.inputs.max() - 1e-6).float()
            return logits

    metrics = out.metrics(AlwaysTarget(), torch.device("cpu"))
    assert metrics["backdoor_success"] == 100.0  # a model that obeys the trigger
    assert torch.equal(stamp(torch.zeros(1, 1, 4, 4), 1, 5.0)[0, 0, -1, -1], torch.tensor(5.0))
    with pytest.raises(DataError, match="target"):
        corrupt("backdoor", bundle, split.forget, split.test, target=7)
