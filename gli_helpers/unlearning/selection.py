"""Checkpoint selection during unlearning, with early stopping (patience in evaluations).

``validation``: the final score computed on the validation split (accuracy there, MIA of forget
against validation losses); reported numbers never enter the choice.
``on_test``: the authors' choice, the final score on test / unseen themselves: optimistic, and
labelled as such in the results (this mode was called ``paper`` before; the old name is refused with a hint).
"""

from __future__ import annotations

import copy

from ..errors import ConfigError
from ..metrics import metrics_from_logits, predict

MODES = ("auto", "none", "validation", "on_test")
OLD_MODES = {"paper": "on_test"}  # old name -> current name (stored configurations are converted on reading)


class Selector:
    def __init__(self, mode: str, data, patience: int = 3, every: int = 1):
        if mode not in MODES:
            raise ConfigError(f"unknown selection {mode!r}; valid: {', '.join(MODES)}.")
        if mode == "auto":
            mode = "validation" if data.validation is not None else "none"
        if mode == "validation" and data.validation is None:
            raise ConfigError("selection 'validation' needs a validation split: load the benchmark with "
                              "validation_share > 0 (--validation-share).")
        if mode == "on_test" and (data.test is None or data.unseen is None):
            raise ConfigError("selection 'on_test' needs the test and unseen splits.")
        self.mode, self.data, self.patience, self.every = mode, data, patience, every
        self.best_score, self.best_state, self.best_step, self.bad = None, None, 0, 0
        self.history = []

    def score(self, model) -> float:
        d = self.data
        if self.mode == "validation":
            splits = {"test": d.validation, "forget": d.forget, "unseen": d.validation}
        else:
            splits = {"test": d.test, "forget": d.forget, "unseen": d.unseen}
        once = {id(s): predict(model, s, d.device, 512, d.amp) for s in splits.values()}  # validation: one pass
        logits = {k: once[id(s)] for k, s in splits.items()}
        # predict returns CPU logits; on a GPU the splits' labels live on the device
        return metrics_from_logits(logits, {k: s.labels.cpu() for k, s in splits.items()}, d.task, d.seed)["final_score"]

    def update(self, step: int, model) -> bool:
        """Evaluate every ``every`` steps; keep the best weights; True when patience has run out."""
        if self.mode == "none" or step % self.every:
            return False
        s = self.score(model)
        self.history.append((step, s))
        if self.best_score is None or s > self.best_score:
            self.best_score, self.best_step, self.bad = s, step, 0
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.bad += 1
        return self.bad >= self.patience

    def restore_best(self, model) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)

    def describe(self) -> dict:
        return {"selection": self.mode, "selected_step": self.best_step, "selection_score": self.best_score}
