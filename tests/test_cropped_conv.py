"""The CPU path's cropped convolutions are the same layers: outputs and every parameter's gradient equal the plain
torchvision model's, for each architecture at 16, 32 and 48 px, and checkpoints stay plain torchvision ones."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from torch import nn

from gli_helpers.checkpoint import load_checkpoint, save_checkpoint
from gli_helpers.models import ARCHS, build_model
from gli_helpers.runtime import CroppedConv2d, _cropped_window, crop_padding_taps, prepare_model

CPU = torch.device("cpu")


def cropped_layers(model, size):
    """The convolutions that run cropped on a ``size`` px input (found with forward hooks)."""
    hit = []
    hooks = [m.register_forward_pre_hook(lambda mod, args, name=name: hit.append(name)
                                         if _cropped_window(mod, args[0].shape[-2:]) else None)
             for name, m in model.named_modules() if isinstance(m, CroppedConv2d)]
    with torch.no_grad():
        model.eval()(torch.rand(2, 3, size, size))
    for h in hooks:
        h.remove()
    return hit


def _one_step(model, x, y):
    torch.manual_seed(1)  # the same dropout and stochastic-depth draws (EfficientNet) for both models
    model.train()
    out = model(x)
    nn.functional.cross_entropy(out, y).backward()
    return out


# WideResNet50-2 at 48 px is left out: its maps are 2x2 by layer4 there, so nothing is cropped (as in ResNet18).
@pytest.mark.slow
@pytest.mark.parametrize(("arch", "size"), [(a, s) for a in ARCHS for s in (16, 32, 48) if (a, s) != ("wide_resnet50_2", 48)])
def test_outputs_and_gradients_equal_the_plain_layers(arch, size):
    """In float64 the two agree to rounding (1e-9), which shows they are the same function; in float32, to the
    relative error that rounding in another summation order gives (1e-4 of each gradient's norm)."""
    for dtype, close in ((torch.float64, dict(rtol=1e-9, atol=1e-12)), (torch.float32, None)):
        torch.manual_seed(0)
        plain = build_model(arch, 8).to(dtype)
        ours = crop_padding_taps(copy.deepcopy(plain))
        x, y = torch.rand(16, 3, size, size, dtype=dtype), torch.randint(0, 8, (16,))
        out_plain, out_ours = _one_step(plain, x, y), _one_step(ours, x, y)
        pairs = [("output", out_plain.detach(), out_ours.detach())]
        pairs += [(n, p.grad, q.grad) for (n, p), q in zip(plain.named_parameters(), ours.parameters(), strict=True)]
        pairs += [(n, a, b) for (n, a), b in zip(plain.state_dict().items(), ours.state_dict().values(), strict=True)
                  if a.is_floating_point()]  # the BatchNorm statistics the step updated
        for name, a, b in pairs:
            if close:
                torch.testing.assert_close(b, a, **close, msg=lambda m, name=name, dtype=dtype: f"{dtype} {name}: {m}")
            else:
                assert float((b - a).norm()) <= 1e-4 * float(a.norm()) + 1e-7, (name, float((b - a).norm()))
    hit = cropped_layers(ours, size)
    if arch == "resnet18":  # the 3x3 layers on 1x1 maps (or 2x2 under stride 2): layer4 at 32 px, layers 3-4 at 16 px
        first = {16: "layer3.0.conv1", 32: "layer4.0.conv1", 48: None}[size]
        assert len(hit) == {16: 8, 32: 4, 48: 0}[size] and (first is None or hit[0] == first), hit


def test_prepared_models_crop_on_the_cpu_only_and_checkpoints_load_into_plain_torchvision(tmp_path):
    model = prepare_model(build_model("resnet18", 8), CPU)
    assert type(model.layer4[0].conv1) is CroppedConv2d
    assert type(prepare_model(build_model("resnet18", 8), CPU, crop_taps=False).layer4[0].conv1) is nn.Conv2d
    save_checkpoint(tmp_path / "model.pt", model, arch="resnet18", num_outputs=8, data_fingerprint="x", config={})
    plain = torchvision.models.resnet18(weights=None, num_classes=8)
    plain.load_state_dict(load_checkpoint(tmp_path / "model.pt")["state_dict"], strict=True)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), plain.eval()(x), rtol=1e-4, atol=1e-5)


def test_layers_with_several_outputs_or_dilation_run_plain():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    assert _cropped_window(conv, (1, 1)) == ((1, 2), (1, 2))
    assert _cropped_window(conv, (2, 2)) is None  # four output positions
    assert _cropped_window(nn.Conv2d(4, 4, 3, stride=2, padding=1), (2, 2)) == ((1, 3), (1, 3))
    assert _cropped_window(nn.Conv2d(4, 4, 3, padding=2, dilation=2), (1, 1)) is None
    assert _cropped_window(nn.Conv2d(4, 4, 1), (1, 1)) is None  # nothing to drop
    assert _cropped_window(nn.Conv2d(4, 4, 3, padding=0), (3, 3)) is None
