"""zero_shot / lra_npp_paper / noise_* as unlearners: recipe per architecture, edits where documented, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from expunge.data import load_dataset
from expunge.data.splits import ForgetSplit
from expunge.errors import ConfigError
from expunge.hparams import validate_params
from expunge.models import build_model
from expunge.train import Recipe
from expunge.unlearn import UNLEARNERS, UnlearningTask
from expunge.zeroshot.recipes import RECIPES, get_recipe, recipe_for
from tests.training import fit


@pytest.fixture(scope="module")
def bundle():
    return load_dataset("synthetic", num_train=240, num_test=160, num_classes=4, image_size=8, noise=0.5, separation=1.5, seed=3)


@pytest.fixture(scope="module")
def trained(bundle):
    return {
        name: fit(build_model(name, bundle.input_shape, 4, seed=0, **opts), bundle.train, epochs=15)
        for name, opts in (("mlp", {"hidden": (32, 16)}), ("cnn", {"channels": (4, 8), "hidden": 16}), ("resnet_small", {"width": 4, "stem_stride": 1}))
    }


def task_for(bundle, cls: int | None, n_analysis: int = 20, classes: list[int] | None = None) -> UnlearningTask:
    test_y = bundle.test.targets
    own = torch.where(test_y == cls)[0][:n_analysis] if cls is not None else torch.arange(0)
    other = torch.where(test_y != cls)[0][:20]
    y = bundle.train.targets.numpy()
    idx = np.arange(len(y))
    split = ForgetSplit(idx[y == (cls or 0)], idx[y != (cls or 0)], np.array([], dtype=np.int64), np.arange(len(test_y)), len(y), len(test_y))
    return UnlearningTask(
        bundle.train,
        split,
        torch.device("cpu"),
        lambda s: None,
        Recipe(),
        progress=False,  # type: ignore[arg-type]
        forget_classes=classes if classes is not None else ([cls] if cls is not None else None),
        analysis_images=bundle.test.inputs[own] if n_analysis else None,
        other_images=(bundle.test.inputs[other], test_y[other]),
    )


class TinyViT(nn.Module):
    """Stands in for a ViT: the recipe is chosen by class name, and ranked by |activation x gradient| at the head."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.GELU())
        self.head = nn.Linear(24, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_each_architecture_selects_its_documented_recipe() -> None:
    shape = (1, 8, 8)
    assert recipe_for(build_model("resnet_small", shape, 10)).name == "resnet-cifar10"
    assert recipe_for(build_model("resnet_small", shape, 100)).name == "resnet-cifar100"
    assert recipe_for(build_model("cnn", shape, 10)).name == "mnist-cnn"
    assert recipe_for(build_model("mlp", shape, 10, hidden=(32,))).name == "mnist-cnn"
    assert recipe_for(build_model("mlp", shape, 10, hidden=(32, 16))).name == "mnist-cnn"  # expunge's MLP: FC-ReLU-FC head, never VGG by layer count
    TinyViT.__name__ = "TinyViT"
    assert recipe_for(TinyViT()).name == "vit-mufac"
    for recipe in RECIPES.values():
        assert "LRA-NPP-Unlearning" in recipe.source and recipe.k_p > recipe.k_a


def test_an_unknown_architecture_is_an_error_naming_the_recipes_and_a_name_or_declaration_chooses() -> None:
    custom = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))  # a user MLP
    with pytest.raises(ConfigError, match="no LRA-NPP recipe is documented for Sequential") as info:
        recipe_for(custom)
    assert all(name in str(info.value) for name in RECIPES) and "recipe" in str(info.value)
    for method in ("zero_shot", "lra_npp_paper", "noise_gn"):
        with pytest.raises(ConfigError, match="no LRA-NPP recipe"):
            UNLEARNERS.get(method)().config(0, custom) if method == "zero_shot" else get_recipe("auto", custom)
    assert get_recipe("vgg16-imagenet", custom).name == "vgg16-imagenet"
    assert UNLEARNERS.get("zero_shot")(recipe="mnist-cnn").config(0, custom).cut_in is True  # the MNIST path by name
    custom.lra_npp_recipe = "resnet-cifar10"  # a user architecture declares its match
    assert recipe_for(custom).name == "resnet-cifar10"
    custom.lra_npp_recipe = "alexnet"
    with pytest.raises(ConfigError, match="recipe 'alexnet' unknown"):
        recipe_for(custom)


def test_the_hyperparameter_choices_are_the_library_names() -> None:
    from expunge.unlearn.zero_shot import RECIPE_CHOICES, TIE_BREAK_CHOICES
    from expunge.zeroshot.localizer import TIE_BREAKS

    assert RECIPE_CHOICES == ["auto", *RECIPES] and TIE_BREAK_CHOICES == list(TIE_BREAKS)
    with pytest.raises(ConfigError):
        validate_params(UNLEARNERS.get("zero_shot"), {"tie_break": "random"}, "methods.0")


def _changed(before: nn.Module, after: nn.Module) -> dict[str, torch.Tensor]:
    b = dict(before.named_parameters())
    return {n: (p.detach() != b[n].detach()) for n, p in after.named_parameters() if bool((p.detach() != b[n].detach()).any())}


@pytest.mark.parametrize(("name", "recipe_name"), [("mlp", "vgg16-imagenet"), ("mlp", "auto"), ("cnn", "auto"), ("resnet_small", "auto")])
def test_paper_recipe_edits_the_documented_weights(name: str, recipe_name: str, trained, bundle) -> None:
    import copy

    model = trained[name]
    out = UNLEARNERS.get("lra_npp_paper")(recipe=recipe_name).unlearn(copy.deepcopy(model), task_for(bundle, 1))
    changed = _changed(model, out)
    recipe = get_recipe(recipe_name, model)
    if recipe.name == "resnet-cifar10":  # W_fc[:, n] for every class, nothing else
        assert set(changed) == {"fc.weight"}
        cols = changed["fc.weight"].any(0)
        assert bool(changed["fc.weight"][:, cols].all())
    elif recipe.name == "mnist-cnn":  # W_fc1[n, :] and W_out[c, n] (MLP: the last hidden linear's rows)
        assert set(changed) <= {"fc1.weight", "hidden.2.weight", "fc.weight"} and "fc.weight" in changed
        assert bool(changed["fc.weight"][[0, 2, 3]].sum() == 0)
    else:  # vgg: rows of the third-to-last linear and [c, n] of the second-to-last; the classifier untouched
        assert set(changed) <= {"hidden.0.weight", "hidden.2.weight"} and "fc.weight" not in changed
        assert bool(changed["hidden.2.weight"][[0, 2, 3]].sum() == 0)


def test_vit_recipe_edits_only_the_target_row_of_the_head(bundle) -> None:
    import copy

    model = fit(TinyViT(), bundle.train, epochs=5)
    out = UNLEARNERS.get("lra_npp_paper")().unlearn(copy.deepcopy(model), task_for(bundle, 2))
    changed = _changed(model, out)
    assert set(changed) == {"head.weight"} and int(changed["head.weight"].sum()) > 0 and bool(changed["head.weight"][[0, 1, 3]].sum() == 0)


def test_noise_baselines_perturb_the_same_entries(trained, bundle) -> None:
    import copy

    model = trained["cnn"]
    cut = _changed(model, UNLEARNERS.get("lra_npp_paper")().unlearn(copy.deepcopy(model), task_for(bundle, 1)))
    for name in ("noise_gn", "noise_ln"):
        noisy = _changed(model, UNLEARNERS.get(name)().unlearn(copy.deepcopy(model), task_for(bundle, 1)))
        assert set(noisy) == set(cut)
        for k in cut:  # noise may leave an entry equal only by chance; a zeroed entry that was already 0 is not "changed"
            assert bool((noisy[k] & ~cut[k]).sum() == 0)


def test_zero_shot_removes_the_class(trained, bundle) -> None:
    import copy

    model = trained["resnet_small"]
    out = UNLEARNERS.get("zero_shot")(k_p="auto", path="custom").unlearn(copy.deepcopy(model), task_for(bundle, 1)).eval()
    y = bundle.train.targets
    with torch.no_grad():
        pred = out(bundle.train.inputs).argmax(1)
        before = model(bundle.train.inputs).argmax(1)
    assert float((pred[y == 1] == 1).float().mean()) <= 0.05
    assert float((pred[y != 1] == y[y != 1]).float().mean()) >= float((before[y != 1] == y[y != 1]).float().mean()) - 0.05


def test_bad_input_is_reported(trained, bundle) -> None:
    import copy

    model = copy.deepcopy(trained["mlp"])
    zs = UNLEARNERS.get("zero_shot")()
    with pytest.raises(ConfigError, match="analysis_images"):
        zs.unlearn(model, task_for(bundle, 1, n_analysis=0))
    with pytest.raises(ConfigError, match="not an output of the model"):
        zs.unlearn(model, task_for(bundle, 1, classes=[9]))
    with pytest.raises(ConfigError, match="exactly one class"):
        UNLEARNERS.get("lra_npp_paper")().unlearn(model, task_for(bundle, 1, classes=[1, 2]))
    with pytest.warns(UserWarning, match="only 4 analysis images"):
        zs.unlearn(model, task_for(bundle, 1, n_analysis=4))
    with pytest.raises(ConfigError):
        validate_params(UNLEARNERS.get("lra_npp_paper"), {"recipe": "alexnet"}, "methods.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zs.unlearn(copy.deepcopy(trained["mlp"]), task_for(bundle, 1, n_analysis=20))


def test_default_path_follows_the_recipe_of_the_architecture() -> None:
    zs = UNLEARNERS.get("zero_shot")()
    resnet = zs.config(0, build_model("resnet_small", (1, 8, 8), 4))
    cnn = zs.config(0, build_model("cnn", (1, 8, 8), 4))
    assert (resnet.out_scope, resnet.cut_in, resnet.k_p, resnet.k_a) == ("all", False, 25, 12)  # their ResNet path, K_p 400/2048 and K_a 200/2048 of 128 features
    assert (cnn.out_scope, cnn.cut_in) == ("target", True)  # their MNIST CNN path
    custom = UNLEARNERS.get("zero_shot")(path="custom", out_scope="target").config(0, build_model("cnn", (1, 8, 8), 4))
    assert (custom.out_scope, custom.cut_in) == ("target", False)


def test_default_edits_exactly_what_the_paper_recipe_edits(trained, bundle) -> None:
    import copy

    model = trained["cnn"]
    default = UNLEARNERS.get("zero_shot")().unlearn(copy.deepcopy(model), task_for(bundle, 1))
    paper = UNLEARNERS.get("lra_npp_paper")().unlearn(copy.deepcopy(model), task_for(bundle, 1))
    for (n, a), (_, b) in zip(default.named_parameters(), paper.named_parameters()):
        assert torch.equal(a, b), n


def test_zero_shot_reports_its_passes_to_the_cost_meter(trained, bundle) -> None:
    """LRP costs one pass per analysis image; the K_p search only forwards (counted apart)."""
    import copy

    from expunge.cost import CostMeter

    task = task_for(bundle, 1, n_analysis=20)
    with CostMeter() as meter:
        UNLEARNERS.get("zero_shot")(k_p="auto", path="custom").unlearn(copy.deepcopy(trained["resnet_small"]), task)
    assert meter.cost.passes > 0 and meter.cost.passes % 20 == 0  # whole relevance sweeps over the 20 images
    assert meter.cost.forward_passes > 0
    with CostMeter() as fixed:
        UNLEARNERS.get("zero_shot")(k_p=2, path="custom").unlearn(copy.deepcopy(trained["resnet_small"]), task)
    assert fixed.cost.passes == meter.cost.passes and fixed.cost.forward_passes < meter.cost.forward_passes  # no K_p search
