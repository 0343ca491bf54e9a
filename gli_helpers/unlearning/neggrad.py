"""NegGrad: gradient ascent on the forget loss, one ascent step per retain batch on a cycled forget batch.
The retain data is not in the loss (it only sets the number of steps)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import MethodConfig, Run, loss_of, retain_with_forget, sgd

LABEL = "NegGrad"  # its name in tables and figures
POSITION = 4  # its row in tables and figures (the paper's order)
# what `tune` searches (kind, low, high; bounds inclusive; "log": log-uniform); the paper's value is always a trial
SEARCH_SPACE = {"lr": ("log", 1e-5, 1e-2)}


@dataclass
class NegGradConfig(MethodConfig):
    pass


def unlearn(run: Run) -> None:
    model, data, cfg = run.model, run.data, run.cfg
    opt = sgd(model.parameters(), cfg)
    run.train_mode()
    for _, (xf, yf), *_ in retain_with_forget(run):
        run.take_step(opt, -loss_of(model, xf, yf, data.task, data.amp))
