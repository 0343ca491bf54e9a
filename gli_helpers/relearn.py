"""The relearning test: after unlearning, a little fine-tuning on the retain set alone. If the forget images'
accuracy and the MIA come back further than they do for the Retrained model under the same budget, the
unlearning suppressed what the model knew of them rather than removing it.

The fine-tuning is the package's Fine-tuning method (augmented retain batches, BatchNorm training, no checkpoint
selection) stopped after ``steps`` optimizer steps. ``run --relearn-steps N`` applies it to every method's
unlearned model and to both reference models and writes ``relearn.csv`` (one row per model: the metrics before
and after); ``relearn_table`` prints it.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import pandas as pd

from .errors import ConfigError
from .metrics import evaluate
from .records import RESULT_KEYS as KEYS

READ = ("forget_acc", "mia", "test_acc", "retain_acc")  # before and after (``<key>_relearned``)
COLUMNS = [*KEYS, "relearn_steps", "relearn_lr", "relearn_momentum",
           *(c for k in READ for c in (k, f"{k}_relearned"))]


@dataclass(frozen=True)
class Relearn:
    """The budget: ``steps`` optimizer steps of ``batch_size`` retain images at ``lr`` with ``momentum`` (by
    default the reference models' training rate and momentum: the attacker's easiest choice)."""

    steps: int
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 64

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"--relearn-steps must be at least 1, got {self.steps}.")
        if self.lr <= 0 or not 0 <= self.momentum < 1:
            raise ConfigError(f"relearning needs lr > 0 and momentum in [0, 1); got lr {self.lr}, momentum {self.momentum}.")

    def to_dict(self) -> dict:
        return asdict(self)


def relearned(model, exp, inputs, spec: Relearn):
    """A fine-tuned copy of ``model`` (the input is not changed) and its metrics."""
    from .unlearning import default_config, get_method
    batches_per_epoch = max(len(inputs.retain) // spec.batch_size, 1)
    cfg = default_config("finetune", inputs.task, lr=spec.lr, momentum=spec.momentum, batch_size=spec.batch_size,
                         selection="none", max_steps=spec.steps, epochs=spec.steps // batches_per_epoch + 2)
    out, _ = get_method("finetune").unlearn(copy.deepcopy(model), inputs, cfg)
    return out, evaluate(out, exp.bench, exp.device, exp.cfg.eval_batch_size, seed=inputs.seed, amp=exp.amp)


def relearn_row(common: dict, method: str, before: dict, after: dict, spec: Relearn) -> dict:
    """One row of relearn.csv: a model's metrics before and after the relearning budget."""
    return {**{k: common[k] for k in KEYS if k in common}, "method": method, "relearn_steps": spec.steps,
            "relearn_lr": spec.lr, "relearn_momentum": spec.momentum,
            **{c: v for k in READ for c, v in ((k, before.get(k)), (f"{k}_relearned", after.get(k)))}}


def relearn_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per procedure and method: forget accuracy and MIA before -> after (means over seeds), their rise, and the
    rise beyond the Retrained model's under the same budget (``*_excess``: > 0, the forget faces come back more
    than retraining's do)."""
    f = frame.assign(forget_rise=frame.forget_acc_relearned - frame.forget_acc, mia_rise=frame.mia_relearned - frame.mia)
    ref = f.loc[f.method == "retrained", ["procedure", "seed", "forget_rise", "mia_rise"]]
    f = f.merge(ref, on=["procedure", "seed"], how="left", suffixes=("", "_retrained"))
    f = f.assign(forget_excess=f.forget_rise - f.forget_rise_retrained, mia_excess=f.mia_rise - f.mia_rise_retrained)
    cols = ["forget_acc", "forget_acc_relearned", "forget_rise", "forget_excess", "mia", "mia_relearned", "mia_rise",
            "mia_excess", "test_acc", "test_acc_relearned"]
    out = f.groupby(["procedure", "method"], sort=False)[cols].mean()
    return out.assign(seeds=f.groupby(["procedure", "method"], sort=False).seed.nunique()).reset_index()


def relearn_markdown(frame: pd.DataFrame, labels: dict | None = None) -> str:
    """``relearn_table`` as a markdown table, one line per procedure and method (``labels``: name -> label;
    default: the registry's labels)."""
    from .unlearning import method_label
    t = relearn_table(frame)
    lines = ["| procedure | method | forget acc: before -> after | rise beyond Retrained's | MIA: before -> after | "
             "rise beyond Retrained's | test acc: before -> after | seeds |", "|---" * 8 + "|"]
    for r in t.itertuples(index=False):
        name = (labels or {}).get(r.method) or method_label(r.method)
        lines.append(f"| {r.procedure} | {name} | {r.forget_acc:.3f} -> {r.forget_acc_relearned:.3f} | "
                     f"{r.forget_excess:+.3f} | {r.mia:.3f} -> {r.mia_relearned:.3f} | {r.mia_excess:+.3f} | "
                     f"{r.test_acc:.3f} -> {r.test_acc_relearned:.3f} | {r.seeds} |")
    return "\n".join(lines)
