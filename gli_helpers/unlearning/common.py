"""What every unlearning method shares: its inputs, its configuration's common settings (augmentation, frozen
BatchNorm, checkpoint selection), batching, the forget-batch cycle, losses, and the optimizer step (``Run``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..config import config_problems, raise_problems
from ..data.augment import augment
from ..data.benchmark import Split
from ..errors import ConfigError
from ..metrics import task_loss
from ..runtime import forward, shuffled_batches, to_float


@dataclass
class UnlearnData:
    """Everything a method may use: the retain and forget sets, the task, and where to run.

    ``validation`` is present when the benchmark holds one (for honest model selection);
    ``test`` and ``unseen`` only for the authors' selection (``on_test``), which looks at them.
    """

    retain: Split
    forget: Split
    task: str
    num_outputs: int
    arch: str
    device: torch.device
    seed: int = 0
    amp: bool = True
    validation: Split | None = None
    test: Split | None = None
    unseen: Split | None = None


@dataclass
class MethodConfig:
    """Fields every method has; each method's dataclass extends it with its own.

    ``augment``: unlearning batches (retain and forget) get the training augmentation, as in the authors'
    loaders (False: clean images). ``bn_eval``: the model stays in eval mode during updates, so BatchNorm's
    running statistics are frozen (the authors' runs). ``selection``: the checkpoint kept, evaluated every
    ``select_every`` optimizer steps with early stopping after ``patience`` evaluations without gain:
    ``none`` (the final model), ``validation`` (a held-out validation split), ``on_test`` (the authors': the
    final score on test and unseen themselves, optimistic) or ``auto`` (validation when the benchmark has one).
    ``max_steps``: stop after this many optimizer steps (0: no limit), e.g. to follow the first batches only.
    """

    epochs: int = 2
    lr: float = 0.001
    momentum: float = 0.0
    batch_size: int = 64
    augment: bool = True
    bn_eval: bool = False
    selection: str = "auto"
    patience: int = 3
    select_every: int = 1
    max_steps: int = 0

    # The range rules of this class's own fields; a method's class declares those of the fields it adds, and
    # every class in the hierarchy is checked.
    POSITIVE: ClassVar[tuple[str, ...]] = ("epochs", "lr", "batch_size", "patience", "select_every")
    NON_NEGATIVE: ClassVar[tuple[str, ...]] = ("momentum", "max_steps")

    @classmethod
    def range_rules(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(positive, non-negative) field names, gathered from the class and its bases."""
        chain = [c for c in cls.__mro__ if issubclass(c, MethodConfig)]
        return (tuple(n for c in chain for n in vars(c).get("POSITIVE", ())),
                tuple(n for c in chain for n in vars(c).get("NON_NEGATIVE", ())))

    def __post_init__(self):
        from .selection import MODES, OLD_MODES
        if self.selection in OLD_MODES:
            raise ConfigError(f"selection {self.selection!r} is now called {OLD_MODES[self.selection]!r} (the checkpoint "
                              "chosen on the reported test and unseen splits); write that instead.")
        raise_problems(type(self).__name__, config_problems(self, *self.range_rules()))
        if self.selection not in MODES:
            raise ConfigError(f"unknown selection {self.selection!r}; valid: {', '.join(MODES)}.")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def for_task(cls, task: str, binary: bool = False, **overrides) -> MethodConfig:
        """The paper's values for a task (``multiclass`` / ``multilabel``; ``binary``: the binary task, MUCAC young)."""
        values = {**cls.task_defaults(task, binary), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hint = " (GLI's K is called perturbation_steps)" if "steps" in unknown and "perturbation_steps" in known else ""
            raise ConfigError(f"{cls.__name__} has no setting(s) {unknown}{hint}; valid: {sorted(known)}.")
        return cls(**values)

    @classmethod
    def task_defaults(cls, task: str, binary: bool) -> dict:
        return {}


def current_settings(stored: dict | None) -> dict | None:
    """A stored method configuration (or result row) with the old names of values converted (``selection="paper"``
    is now ``"on_test"``), so that records written before a rename still read and match."""
    from .selection import OLD_MODES
    if not isinstance(stored, dict):
        return stored
    if stored.get("selection") in OLD_MODES:
        return {**stored, "selection": OLD_MODES[stored["selection"]]}
    return stored


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """A method's batches of one epoch, fixed by (seed, epoch) (a stream of its own, apart from training's)."""
    return shuffled_batches(n, batch_size, torch.Generator().manual_seed(seed * 7919 + epoch))


def fetch(split: Split, idx: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
    return to_float(split.images[idx], device), split.labels[idx].to(device)


class EarlyStop(Exception):
    """Raised by ``Run.take_step`` when checkpoint selection has run out of patience."""


class Run:
    """What a method's ``unlearn(run)`` receives: the model to change (``model``), its inputs (``data``), its
    configuration (``cfg``) and the shared machinery: batches (augmented when ``cfg.augment``, from one seeded
    generator), the model's mode during updates (``cfg.bn_eval``), optimizer steps reported to ``on_step``,
    and checkpoint selection with early stopping. ``Method.unlearn`` creates it and calls ``finish``.
    A method may attach per-step diagnostics to the next step with ``note``; ``on_step`` then receives them as
    its ``info`` keyword (it is called with two arguments when there are none). What the method puts in
    ``report`` is recorded next to its result, with the selection and step count that ``finish`` adds (a run that
    checkpoint selection stops early keeps what was put there before)."""

    def __init__(self, model, data: UnlearnData, cfg: MethodConfig, on_step=None):
        from .selection import Selector
        self.model, self.data, self.cfg, self.on_step = model, data, cfg, on_step
        self.step, self.info, self.report = 0, {}, {}
        self.generator = torch.Generator().manual_seed(data.seed * 7919 + 101)
        self.selector = Selector(cfg.selection, data, cfg.patience, cfg.select_every)

    def batch(self, split: Split, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = fetch(split, idx, self.data.device)
        return (augment(x, self.generator) if self.cfg.augment else x), y

    def train_mode(self, frozen=()) -> None:
        """Training mode for an update, unless BatchNorm is frozen (``bn_eval``); ``frozen`` modules stay in eval."""
        self.model.train(not self.cfg.bn_eval)
        for m in frozen:
            m.eval()

    def note(self, **info) -> None:
        """Diagnostics of the step about to be taken (numbers), passed to ``on_step`` with it."""
        self.info.update(info)

    def take_step(self, opt, loss) -> int:
        """One optimizer step on ``loss``; reports it to ``on_step`` and to checkpoint selection, which raises
        EarlyStop when its patience has run out (or at ``max_steps``). Returns the step number."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.step += 1
        info, self.info = self.info, {}
        if self.on_step:
            self.on_step(self.step, self.model, info=info) if info else self.on_step(self.step, self.model)
        if self.selector.update(self.step, self.model):
            raise EarlyStop
        if self.step == self.cfg.max_steps:
            self.report["stopped_at_max_steps"] = True
            raise EarlyStop
        return self.step

    def finish(self) -> dict:
        """Restore the selected checkpoint (if any); the report with the selection and step count."""
        self.selector.restore_best(self.model)
        self.report.update(self.selector.describe(), optimizer_steps=self.step)
        return self.report


class Cycle:
    """An endless, reshuffled iterator over a split's batches (the forget set is usually the smaller one)."""

    def __init__(self, run: Run, split: Split, batch_size: int):
        self.run, self.split, self.batch_size = run, split, batch_size
        self.epoch, self.queue = 0, []

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.queue:
            self.queue = epoch_batches(len(self.split), self.batch_size, self.run.data.seed + 1, self.epoch)
            self.epoch += 1
        return self.run.batch(self.split, self.queue.pop(0))


def retain_with_forget(run: Run):
    """The loop of the methods that pair data: every epoch's retain batches (as indices), each with the next
    batch of the cycled forget set; yields (retain indices, (forget images, forget labels), batch number,
    batches in the epoch)."""
    cfg, data = run.cfg, run.data
    forget = Cycle(run, data.forget, cfg.batch_size)
    for epoch in range(cfg.epochs):
        batches = epoch_batches(len(data.retain), cfg.batch_size, data.seed, epoch)
        for b, idx in enumerate(batches):
            yield idx, forget.next(), b, len(batches)


def sgd(params, cfg: MethodConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD([p for p in params if p.requires_grad], lr=cfg.lr, momentum=cfg.momentum)


def loss_of(model, x, y, task, amp=True) -> torch.Tensor:
    return task_loss(forward(model, x, amp), y, task)


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, task: str, temperature: float = 1.0,
               multilabel_kl: str = "bernoulli"):
    """KL(teacher || student) at a temperature, the distillation loss (scaled by T^2, averaged over the batch).
    Multi-label outputs are independent Bernoulli variables, the KL summed over outputs; ``multilabel_kl=
    "softmax"`` treats them as one softmax instead (as the benchmark's multi-label SCRUB did)."""
    t = temperature
    if task == "multilabel" and multilabel_kl == "bernoulli":
        p = torch.sigmoid(teacher_logits / t)
        ls, lns = F.logsigmoid(student_logits / t), F.logsigmoid(-student_logits / t)
        lt, lnt = F.logsigmoid(teacher_logits / t), F.logsigmoid(-teacher_logits / t)
        kl = p * (lt - ls) + (1 - p) * (lnt - lns)
        return kl.sum(1).mean() * t * t
    return F.kl_div(F.log_softmax(student_logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                    reduction="batchmean", log_target=True) * t * t
