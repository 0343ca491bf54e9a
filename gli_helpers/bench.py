"""Performance measurements (``python -m gli_helpers bench ...``); results in docs/PERFORMANCE.md.

``train``: images per second of our training step (uint8 tensors decoded once, batched tensor
augmentation) against (a) a reference loop that reads JPEGs through PIL and torchvision transforms in
a DataLoader at every step, as the original benchmark notebooks do, and (b) the pure model cost
(forward + backward + step on a ready-made batch), measured in one process as ratios.
``gli``: GLI's cost per batch against a version that recomputes the forget logits at every step.
``unlearn``: each method's unlearning time as a fraction of the Retrained model's training time.
``load``: reading and decoding a dataset into tensors against loading the decoded copy from the image cache.
``engine``: the wall time of one grid (``run``) on the local engine and on Ray, each a fresh command in a fresh run
folder, and whether the two engines' rows agree.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from .data.augment import augment
from .models import build_model
from .runtime import pick_device, prepare_model, set_threads, to_float
from .train import train_step


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else what the platform module says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """Where a measurement ran: CPU model and the instruction set PyTorch's kernels use (AVX2 or AVX-512 differ
    several-fold), threads, versions, date."""
    info = {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d")}
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):  # oneDNN told to use an older instruction set (e.g. AVX2)
        info["onednn_max_cpu_isa"] = os.environ["ONEDNN_MAX_CPU_ISA"]
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed_steps(step, n: int, warmup: int, device) -> float:
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(n):
        step()
    _sync(device)
    return time.perf_counter() - start


def reference_loader(bench, split: str, batch_size: int, workers: int, resolution: int):
    """The original notebooks' input pipeline: open each JPEG with PIL and transform it, every step."""
    import io

    from PIL import Image
    from torchvision import transforms

    from .data.source import Source

    source = Source(bench.source)
    prefix = _prefix(source, bench.splits[split].paths[0])
    s = bench.splits[split]
    tf = transforms.Compose([transforms.Resize((resolution, resolution)), transforms.RandomHorizontalFlip(),
                             transforms.RandomAffine(0, shear=10, scale=(0.8, 1.2)),
                             transforms.ColorJitter(0.2, 0.2, 0.2), transforms.ToTensor()])

    class Files(torch.utils.data.Dataset):
        def __len__(self):
            return len(s)

        def __getitem__(self, i):
            img = Image.open(io.BytesIO(source.read(prefix + s.paths[i]))).convert("RGB")
            return tf(img), s.labels[i]

    return torch.utils.data.DataLoader(Files(), batch_size=batch_size, shuffle=True, num_workers=workers,
                                       drop_last=True)


def _prefix(source, path) -> str:
    if source.exists(path):
        return ""
    from .data.source import locate
    marker = "custom_train_dataset.csv" if path.startswith(("train_images", "val_images", "test_images")) \
        else "CelebA-HQ-identity.txt"
    return locate(source.path, marker).prefix + "/"


def bench_train(bench, arch: str = "resnet18", batch_size: int = 64, steps: int = 20, warmup: int = 3,
                device: str = "auto", amp: bool = True, channels_last: bool = True, workers: int = 0,
                reference: bool = True, profile: int = 0) -> dict:
    """Images per second of three training loops on the same model, data and batch size; on the CPU also the pure
    model step of the plain torchvision model (no cropped convolutions), and with ``profile`` the ``profile`` most
    expensive operations of our training step (torch profiler, self CPU time)."""
    dev = pick_device(device)
    if dev.type == "cpu":
        set_threads()
    torch.manual_seed(0)
    model = prepare_model(build_model(arch, bench.num_outputs), dev, channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = bench.train
    images = data.images.to(dev) if dev.type == "cuda" else data.images
    labels = data.labels.to(dev)
    g = torch.Generator().manual_seed(0)

    def step(x, y):
        train_step(model, opt, x, y, bench.task, dev, amp)

    fixed_x, fixed_y = to_float(images[:batch_size], dev, channels_last), labels[:batch_size]
    out = {"arch": arch, "batch_size": batch_size, "resolution": bench.resolution, "device": str(dev),
           "amp": amp and dev.type == "cuda", "channels_last": channels_last and dev.type == "cuda", "steps": steps}
    if dev.type == "cpu":  # beside the same step on the plain torchvision layers, interleaved in one process
        plain = prepare_model(build_model(arch, bench.num_outputs), dev, channels_last, crop_taps=False)
        plain.load_state_dict(model.state_dict())
        plain_opt = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9)
        ours_s, plain_s = _interleaved([lambda: step(fixed_x, fixed_y),
                                        lambda: train_step(plain, plain_opt, fixed_x, fixed_y, bench.task, dev, amp)],
                                       steps, warmup, dev)
        out["pure_model_img_s"] = steps * batch_size / ours_s
        out["plain_torchvision_img_s"] = steps * batch_size / plain_s
        out["speedup_vs_plain_torchvision"] = plain_s / ours_s
        out["cropped_convolutions"] = _cropped_count(model, fixed_x)
    else:
        out["pure_model_img_s"] = steps * batch_size / _timed_steps(lambda: step(fixed_x, fixed_y), steps, warmup, dev)
    if profile:
        out["top_operations"] = _profile(lambda: step(fixed_x, fixed_y), profile)

    def ours():
        idx = torch.randint(0, len(data), (batch_size,), generator=g)
        x = augment(to_float(images[idx.to(images.device)], dev, channels_last), g)
        step(x, labels[idx.to(labels.device)])

    seconds = _timed_steps(ours, steps, warmup, dev)
    out["ours_img_s"] = steps * batch_size / seconds
    if reference:
        loader = reference_loader(bench, "train", batch_size, workers, bench.resolution)
        it = iter(loader)

        def ref():
            nonlocal it
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(loader)
                x, y = next(it)
            step(x.to(dev), y.to(dev))

        seconds = _timed_steps(ref, steps, warmup, dev)
        out["reference_img_s"] = steps * batch_size / seconds
        out["speedup_vs_reference"] = out["ours_img_s"] / out["reference_img_s"]
    out["fraction_of_pure_model"] = out["ours_img_s"] / out["pure_model_img_s"]
    out["peak_memory_mb"] = peak_memory_mb()
    return out


def _interleaved(steps_fns, steps: int, warmup: int, device, rounds: int = 4) -> list[float]:
    """Seconds for ``steps`` calls of each function, timed in ``rounds`` alternating slices so that a change in the
    machine's load falls on all of them alike (the ratio of two is what a comparison should read)."""
    for fn in steps_fns:
        _timed_steps(fn, 0, warmup, device)
    per = [max(1, steps // rounds)] * rounds
    per[-1] += max(0, steps - sum(per))
    totals = [0.0] * len(steps_fns)
    for n in per:
        for i, fn in enumerate(steps_fns):
            totals[i] += _timed_steps(fn, n, 0, device)
    return [t * steps / sum(per) for t in totals]


def _cropped_count(model, x) -> int:
    """How many convolutions of ``model`` run cropped on ``x`` (runtime.CroppedConv2d)."""
    from .runtime import CroppedConv2d, _cropped_window
    seen = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append(_cropped_window(mod, args[0].shape[-2:])))
             for m in model.modules() if isinstance(m, CroppedConv2d)]
    with torch.no_grad():
        model.eval()(x[:2])
    model.train()
    for h in hooks:
        h.remove()
    return sum(w is not None for w in seen)


def _profile(step, top: int, steps: int = 3) -> list[dict]:
    """The ``top`` operations by self CPU time over ``steps`` steps (after one warm-up), with their share."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"operation": e.key, "calls_per_step": e.count / steps, "ms_per_step": e.self_cpu_time_total / 1000 / steps,
             "share": e.self_cpu_time_total / total} for e in events[:top]]


def bench_gli(bench, arch: str = "resnet18", steps_k: int = 2, batch_size: int = 64, repeats: int = 10,
              device: str = "auto") -> dict:
    """GLI's perturbation per batch, forget logits once vs at every step; the outputs must be identical."""
    from .unlearning import gli_perturb

    dev = pick_device(device)
    if dev.type == "cpu":
        set_threads()
    torch.manual_seed(0)
    model = prepare_model(build_model(arch, bench.num_outputs), dev).eval()
    x = to_float(bench.retain.images[:batch_size], dev)
    y = bench.retain.labels[:batch_size].to(dev)
    xf = to_float(bench.forget.images[:batch_size], dev)
    kw = dict(perturbation_steps=steps_k, alpha=0.01, weight=200.0, task=bench.task)
    a = gli_perturb(model, x, y, xf, **kw)
    b = gli_perturb(model, x, y, xf, recompute_forget=True, **kw)
    once = _timed_steps(lambda: gli_perturb(model, x, y, xf, **kw), repeats, 1, dev) / repeats
    every = _timed_steps(lambda: gli_perturb(model, x, y, xf, recompute_forget=True, **kw), repeats, 1, dev) / repeats
    return {"arch": arch, "K": steps_k, "batch_size": batch_size, "resolution": bench.resolution, "device": str(dev),
            "identical_outputs": bool(torch.equal(a, b)), "once_ms": once * 1000, "recompute_ms": every * 1000,
            "speedup": every / once, "peak_memory_mb": peak_memory_mb()}


def bench_evaluation(bench, arch: str = "resnet18", steps: int = 6, repeats: int = 2, device: str = "auto") -> dict:
    """The cost of a trajectory's evaluation point (test, forget and unseen in full, 512 retain images, the MIA)
    beside a batch of the authors' GLI loop (K = 2, batch 64), from a freshly initialised model (the time does
    not depend on the weights); ``suggested_eval_every``: the smallest k at which the evaluations after the
    batches take no longer than the batches themselves (at most half of a variant's time)."""
    import copy
    import math

    from .config import preset
    from .experiment import Experiment
    from .runner import Trajectory, unlearn_data
    from .unlearning import default_config, get_method

    dev = pick_device(device)
    if dev.type == "cpu":
        set_threads()
    torch.manual_seed(0)
    model = prepare_model(build_model(arch, bench.num_outputs), dev).eval()
    exp = Experiment(bench, preset("smoke", arch=arch), dev, None)
    traj = Trajectory(exp, "gli", 0, every=1)
    traj(0, model)  # warm-up
    start = time.perf_counter()
    for r in range(repeats):
        traj(r + 1, model)
    evaluation = (time.perf_counter() - start) / repeats
    cfg = default_config("gli", bench.task, quirks="authors", selection="none", max_steps=steps, skip_short_forget=False)
    data = unlearn_data(exp, 0)
    get_method("gli").unlearn(copy.deepcopy(model), data, default_config("gli", bench.task, quirks="authors",
                                                                           selection="none", max_steps=1))  # warm-up
    start = time.perf_counter()
    _, report = get_method("gli").unlearn(copy.deepcopy(model), data, cfg)
    batch = (time.perf_counter() - start) / report["optimizer_steps"]
    return {"arch": arch, "resolution": bench.resolution, "device": str(dev), "evaluation_seconds": evaluation,
            "evaluated_images": sum(len(s) for s in traj.splits.values()), "gli_batch_seconds": batch,
            "ratio": evaluation / batch, "suggested_eval_every": math.ceil(evaluation / batch)}


def bench_load(benchmark: str, root, resolution: int = 32, cache_dir=None) -> dict:
    """Seconds to read and decode ``benchmark`` into tensors (into an empty image cache) and to load it again from
    that cache; the cache is a new temporary folder unless ``cache_dir`` is given."""
    from .data import load_benchmark
    with tempfile.TemporaryDirectory() as tmp:
        cache = cache_dir or tmp
        start = time.perf_counter()
        first = load_benchmark(benchmark, root, resolution, cache_dir=cache)
        decode = time.perf_counter() - start
        start = time.perf_counter()
        again = load_benchmark(benchmark, root, resolution, cache_dir=cache)
        cached = time.perf_counter() - start
    return {"images": sum(len(s) for n, s in first.splits.items() if n != "train"), "resolution": resolution,
            "first_seconds": round(decode, 3), "cached_seconds": round(cached, 3),
            "first_decoded": not any("loaded from cache" in n for n in first.notes),
            "second_from_cache": any("loaded from cache" in n for n in again.notes),
            "speedup": round(decode / max(cached, 1e-9), 1)}


def unlearn_fractions(results_csv) -> pd.DataFrame:
    """Each method's unlearning time over the Retrained model's training time (mean over seeds), and its
    inverse, the speed-up over retraining that other benchmarks report."""
    r = pd.read_csv(results_csv)
    r = r[~r.method.isin(["original", "retrained"])]
    t = r.groupby("method")[["unlearn_seconds", "retrain_seconds"]].mean()
    t["fraction_of_retraining"] = t.unlearn_seconds / t.retrain_seconds
    t["retrain_over_unlearn"] = t.retrain_seconds / t.unlearn_seconds
    return t.sort_values("fraction_of_retraining")


ENGINE_METRICS = ["test_acc", "forget_acc", "retain_acc", "mia", "forgetting_score", "final_score"]


def bench_engine(benchmark: str, root, preset: str = "smoke", methods: str = "paper", seeds: str = "0",
                 configurations=(("local", 2), ("ray", 2), ("ray", 1)), repeats: int = 1, out=None,
                 cache_dir=None) -> dict:
    """Wall time of ``python -m gli_helpers run`` per (engine, threads per unit), each run a new process writing to
    a new run folder (nothing reused), in turn ``repeats`` times; the decode cache is filled first so that every
    run reads the same cached tensors. Ray runs without ``--address`` (a local cluster with one slot per core), so
    with as many threads per unit as cores the units run one after another, as on the local engine, and the
    difference is the engine's overhead (starting Ray, a worker process per task, each task rebuilding its
    experiment); with fewer threads per unit, units run side by side. Each configuration's rows are compared with
    the first configuration's (largest difference over ENGINE_METRICS)."""
    from .config import preset as make_preset
    from .data import load_benchmark
    base = Path(out or tempfile.mkdtemp(prefix="bench-engine-"))
    cache = ["--cache-dir", str(cache_dir)] if cache_dir else []
    load_benchmark(benchmark, root, make_preset(preset, benchmark).resolution, cache_dir=cache_dir)
    runs, first = [], None
    for rep in range(repeats):
        for engine, threads in configurations:
            name = f"{engine}-threads{threads}-rep{rep}"
            cmd = [sys.executable, "-m", "gli_helpers", "run", "--benchmark", benchmark, "--root", str(root),
                   "--preset", preset, "--methods", methods, "--seeds", seeds, "--out", str(base / name),
                   "--engine", engine, "--threads", str(threads), "--quiet", *cache]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
            table = pd.read_csv(base / name / "results.csv").sort_values(["method", "seed"]).reset_index(drop=True)
            first = table if first is None else first
            same = list(table.method) == list(first.method)
            difference = float((table[ENGINE_METRICS] - first[ENGINE_METRICS]).abs().max().max()) if same else None
            runs.append({"engine": engine, "threads": threads, "repeat": rep, "seconds": round(seconds, 2),
                         "rows": len(table), "max_metric_difference": difference})
    frame = pd.DataFrame(runs)
    mean = frame.groupby(["engine", "threads"], sort=False).seconds.mean()
    local = mean.get(configurations[0])
    summary = [{"engine": e, "threads": t, "mean_seconds": round(s, 2), "ratio_to_first": round(s / local, 3)}
               for (e, t), s in mean.items()]
    return {"benchmark": benchmark, "preset": preset, "methods": methods, "seeds": seeds, "run_dir": str(base),
            "runs": runs, "summary": summary}


__all__ = ["bench_engine", "bench_gli", "bench_train", "machine", "unlearn_fractions"]
