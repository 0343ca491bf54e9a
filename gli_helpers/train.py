"""Training the Original (forget + retain) and Retrained (retain only) models, resumable, into a run folder."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data.augment import augment
from .errors import CheckpointError, ConfigError
from .io import atomic_path, write_json_atomic
from .metrics import evaluate, task_loss
from .models import build_model
from .runtime import forward, prepare_model, shuffled_batches, to_float

ROLES = {"original": "train", "retrained": "retain"}  # role -> the split it is trained on
STATE_FORMAT = "gli-train-state-v1"  # the tag of a resume file (state.pt), as model.pt carries FORMAT
_LEGACY_STATE_KEYS = {"config", "model", "optimizer", "scheduler", "info"}  # a resume file written before the tag
PROGRESS_EVERY = 10  # steps between progress-bar updates (each one reads the running sums back from the device)


def batch_order(n: int, batch_size: int, seed: int, epoch: int) -> tuple[list[torch.Tensor], torch.Generator]:
    """The batches of one epoch and the generator for its augmentation, both fixed by (seed, epoch), so that
    an epoch replays identically after a resume."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return shuffled_batches(n, batch_size, g), g


def train_step(model, opt, x, y, task: str, device: torch.device, amp: bool = True):
    """One SGD step on a ready batch (autocast on CUDA); returns (loss, logits). The benchmarks time this same step."""
    logits = forward(model, x, amp)
    loss = task_loss(logits, y, task)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, logits


def train_model(bench, split: str, cfg: TrainConfig, device: torch.device, *, state_path=None,
                progress: bool = True, amp: bool = True) -> tuple[torch.nn.Module, dict]:
    """Train ``cfg.arch`` on ``bench.splits[split]``; with ``state_path`` the run saves its state after
    every epoch and resumes from it. Returns (model, info with history and train_seconds)."""
    data = bench.splits[split]
    if cfg.resolution != bench.resolution:
        raise ConfigError(f"the configuration asks for resolution {cfg.resolution} but the benchmark was loaded at "
                          f"{bench.resolution}; load it with resolution={cfg.resolution}.")
    torch.manual_seed(cfg.seed)
    model = prepare_model(build_model(cfg.arch, bench.num_outputs), device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)
    info = {"history": [], "train_seconds": 0.0, "epochs_done": 0, "resumed_from_epoch": None}
    if state_path is not None and Path(state_path).is_file():
        state = load_state(state_path)
        if state["config"] != cfg.to_dict():
            raise CheckpointError(f"{state_path} is a resume state of another configuration; delete it to start over.")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        info.update(state["info"])
        info["resumed_from_epoch"] = info["epochs_done"]
    images = data.images.to(device) if device.type == "cuda" else data.images
    labels = data.labels.to(device)
    model.train()
    for epoch in range(info["epochs_done"], cfg.epochs):
        start = time.perf_counter()
        batches, g = batch_order(len(data), cfg.batch_size, cfg.seed, epoch)
        if device.type == "cuda":  # one copy of the epoch's indices instead of one per step
            batches = list(torch.cat(batches).to(device).split([len(b) for b in batches]))
        it = batches
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(batches, desc=f"{split} epoch {epoch + 1}/{cfg.epochs}", leave=False)
        # Running sums stay on the device: reading them back every step would make the GPU wait for each batch.
        # The progress bar reads them every ``PROGRESS_EVERY`` steps only (and not at all in quiet mode).
        tot_loss = torch.zeros((), device=device)
        tot_correct = torch.zeros((), device=device)
        seen = 0
        for step, idx in enumerate(it, 1):
            x = to_float(images[idx], device)
            if cfg.augment:
                x = augment(x, g)
            y = labels[idx]
            loss, logits = train_step(model, opt, x, y, bench.task, device, amp)
            with torch.no_grad():
                n = len(idx)
                tot_loss += loss.detach() * n
                if bench.task == "multilabel":
                    tot_correct += ((logits > 0).float() == y).float().mean(1).sum()
                else:
                    tot_correct += (logits.argmax(1) == y).sum()
                seen += n
            if progress and (step % PROGRESS_EVERY == 0 or step == len(batches)):
                it.set_postfix(loss=f"{float(tot_loss) / seen:.3f}", acc=f"{float(tot_correct) / seen:.3f}")
        epoch_loss, epoch_acc = float(tot_loss) / max(seen, 1), float(tot_correct) / max(seen, 1)
        sched.step()
        info["train_seconds"] += time.perf_counter() - start
        info["epochs_done"] = epoch + 1
        info["history"].append({"epoch": epoch + 1, "loss": epoch_loss, "acc": epoch_acc, "lr": opt.param_groups[0]["lr"]})
        if state_path is not None:
            with atomic_path(state_path) as tmp:
                torch.save({"format": STATE_FORMAT, "config": cfg.to_dict(), "model": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(), "info": info}, tmp)
    return model, info


def load_state(state_path) -> dict:
    """A resume file (weights_only=True); a damaged or foreign one is an error that names it and says what to do."""
    advice = f"Delete {state_path} to start that model's training over; nothing else in its folder is affected."
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, overwritten or not ours: never unpickle it any other way
        raise CheckpointError(f"the resume file {state_path} is damaged or not a training state "
                              f"({type(exc).__name__}). {advice}") from None
    legacy = isinstance(state, dict) and "format" not in state and set(state) == _LEGACY_STATE_KEYS
    if not isinstance(state, dict) or (state.get("format") != STATE_FORMAT and not legacy):
        raise CheckpointError(f"{state_path} is not a gli_helpers resume file ({STATE_FORMAT}). {advice}")
    return state


def _diff(old: dict, new: dict) -> dict:
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def model_folder(role: str, cfg: TrainConfig) -> str:
    return f"{role}-{cfg.arch}-seed{cfg.seed}"


def load_saved(run_dir, role: str, bench, cfg: TrainConfig, device: torch.device):
    """(model, checkpoint) of ``role`` saved in ``run_dir`` for this configuration and data, not evaluated; None
    when absent; refused when the folder holds a model of another configuration or dataset."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; valid: {', '.join(ROLES)}.")
    ckpt_path = Path(run_dir) / model_folder(role, cfg) / "model.pt"
    if not ckpt_path.exists():
        return None
    fingerprint = bench.fingerprint(ROLES[role])
    ckpt = load_checkpoint(ckpt_path)
    old = {"config": ckpt["config"].get("config"), "benchmark": ckpt["config"].get("benchmark"),
           "data_fingerprint": ckpt["data_fingerprint"]}
    new = {"config": cfg.to_dict(), "benchmark": bench.name, "data_fingerprint": fingerprint}
    if old != new:
        diff = _diff(old["config"] or {}, new["config"])
        raise CheckpointError(f"{ckpt_path} holds the {role} model of another configuration or dataset "
                              f"(setting differences {diff}; data {old['data_fingerprint']} vs {fingerprint}). "
                              "It is not overwritten: choose another run folder (--out / RUN_DIR) or delete it.")
    model = prepare_model(build_model(ckpt["arch"], ckpt["num_outputs"]), device)
    model.load_state_dict(ckpt["state_dict"])
    return model, ckpt


def train_or_load(run_dir, role: str, bench, cfg: TrainConfig, device: torch.device, *, progress: bool = True,
                  amp: bool = True) -> tuple[torch.nn.Module, dict]:
    """The model of ``role`` (original / retrained) in ``run_dir/<role>-<arch>-seed<S>``: reused when its configuration
    and data match, trained (or resumed) when absent, refused when the folder holds a different one."""
    loaded = load_saved(run_dir, role, bench, cfg, device)
    if loaded is not None:
        model, ckpt = loaded
        metrics = ckpt["metrics"]
        if metrics.get("eval_fingerprint") != bench.evaluation_fingerprint:
            # the same model, read against other evaluation data (e.g. a validation share taken from the test
            # split): its stored numbers describe the old splits, so it is evaluated again (the file is left as is)
            fresh = evaluate(model, bench, device, cfg.eval_batch_size, seed=cfg.seed, amp=amp)
            metrics = {**fresh, "train_seconds": metrics.get("train_seconds"), "epochs": metrics.get("epochs"),
                       "eval_fingerprint": bench.evaluation_fingerprint, "reevaluated": True}
        return model, {**metrics, "reused": True, "history": ckpt["extra"].get("history", [])}
    split = ROLES[role]
    folder = Path(run_dir) / model_folder(role, cfg)
    ckpt_path = folder / "model.pt"
    fingerprint = bench.fingerprint(split)
    record = {"role": role, "benchmark": bench.name, "train_split": split, "data_fingerprint": fingerprint,
              "config": cfg.to_dict(), "benchmark_options": bench.options, "data_config": bench.data_config}
    folder.mkdir(parents=True, exist_ok=True)
    model, info = train_model(bench, split, cfg, device, state_path=folder / "state.pt", progress=progress, amp=amp)
    metrics = evaluate(model, bench, device, cfg.eval_batch_size, seed=cfg.seed, amp=amp)
    metrics.update(train_seconds=info["train_seconds"], epochs=info["epochs_done"],
                   eval_fingerprint=bench.evaluation_fingerprint)
    save_checkpoint(ckpt_path, model, arch=cfg.arch, num_outputs=bench.num_outputs, data_fingerprint=fingerprint,
                    config=record, metrics=metrics, extra={"history": info["history"]})
    write_json_atomic(folder / "metrics.json", {**record, "metrics": metrics, "history": info["history"]})
    (folder / "state.pt").unlink(missing_ok=True)
    return model, {**metrics, "reused": False, "history": info["history"]}
