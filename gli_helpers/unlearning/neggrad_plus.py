"""NegGrad+ (Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023): each step descends on a
retain batch's task loss and ascends on a cycled forget batch's, beta x retain - (1 - beta) x forget, each batch in
its own forward pass. beta = 0.95, the value of the public implementations (the SCRUB authors' notebook as Deep
Unlearn adapted it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .common import MethodConfig, Run, loss_of, retain_with_forget, sgd

LABEL = "NegGrad+"  # its name in tables and figures
POSITION = 4.5  # its row in tables and figures: after NegGrad
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the default is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-4, 3e-2), "beta": ("float", 0.5, 0.999)}


@dataclass
class NegGradPlusConfig(MethodConfig):
    beta: float = 0.95  # the weight of the retain loss; the forget ascent weighs 1 - beta

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.beta <= 1:
            raise ConfigError(f"NegGrad+'s beta must lie in [0, 1], got {self.beta!r}.")


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    opt = sgd(model.parameters(), cfg)
    run.train_mode()
    for idx, (xf, yf), *_ in retain_with_forget(run):
        x, y = run.batch(data.retain, idx)
        loss = cfg.beta * loss_of(model, x, y, data.task, data.amp) - (1 - cfg.beta) * loss_of(model, xf, yf, data.task,
                                                                                                 data.amp)
        run.take_step(opt, loss)  # two forward passes, as the public implementations (BatchNorm sees each batch alone)
