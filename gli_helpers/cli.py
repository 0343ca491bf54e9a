"""Command line: ``python -m gli_helpers COMMAND``; the commands are declared once, in ``COMMANDS`` (``--help`` lists
them, docs/CLI.md documents each). A grid, an audit or a search is built once into a ``spec.RunSpec``
(``spec_from_args``) and handed to the engine it names."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import ConfigError, GLIError

DESCRIPTION = ("GLI and the unlearning baselines on face benchmarks (MUFAC, MUCAC and their synthetic stand-ins): train, "
               "run, audit, tune and report. Every command and option: docs/CLI.md.")


def add_data_options(p: argparse.ArgumentParser) -> None:
    from .data import BENCHMARKS
    p.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    p.add_argument("--root", required=True, help="dataset zip or folder (a synthetic benchmark is generated only at its default "
                                                       "root, data/synthetic-mufac or data/synthetic-mucac, when missing)")
    p.add_argument("--test-below", type=int, help="MUCAC: identities below this are the test split (190)")
    p.add_argument("--unseen-from", type=int, help="MUCAC: identities from this on are the unseen split (4855)")
    p.add_argument("--forget-range", help="MUCAC: forget identities A:B, or 'benchmark' (190:1250) / 'gli' (1970:4855)")
    p.add_argument("--forget-count", type=int, help="MUFAC: the first N train rows are the forget set (1500)")
    p.add_argument("--validation-share", type=float, default=0.0,
                   help="hold out this share of the test families/identities as a validation split")
    p.add_argument("--dedup", action="store_true", help="drop near-duplicate images (perceptual hash)")
    p.add_argument("--cache-dir", help="where decoded images are cached (default ~/.cache/gli_helpers)")


def stderr_log(args):
    """Progress lines to stderr, or nothing with --quiet."""
    return (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))


def spec_from_args(args, **fields):
    """The run specification (``spec.RunSpec``) of a command line: data, recipe, methods, seeds, procedure, method
    settings, trajectories, engine, address and threads, each from its option where the command has it;
    ``fields`` set what a command fixes itself. Method names are checked before torch is loaded."""
    from .spec import RunSpec, data_config_from_args, overrides_from_args
    from .unlearning import parse_method_overrides, parse_methods
    given = {"methods": tuple(parse_methods(args.methods)) if getattr(args, "methods", None) is not None else (),
             "seeds": tuple(_seeds(args)) if getattr(args, "seeds", None) else (getattr(args, "seed", 0),),
             "method_config": parse_method_overrides(getattr(args, "method_config", None))}
    for key in ("procedure", "trajectory_every", "engine", "address", "threads"):
        if getattr(args, key, None) is not None:
            given[key] = getattr(args, key)
    given.update(fields)
    return RunSpec(args.benchmark, str(args.root), str(args.out), args.preset, args.arch,
                   overrides=overrides_from_args(args), data=data_config_from_args(args), device=args.device,
                   amp=not args.no_amp, progress=not args.quiet, **given)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default="local", choices=("local", "ray"),
                   help="local: one process, one unit after another; ray: one Ray task per unit (docs/CLUSTER.md)")
    p.add_argument("--address", help="Ray head node HOST:PORT (--engine ray; default: a local cluster on this machine)")
    p.add_argument("--threads", type=int, help="CPU threads per unit (default: local all cores, ray 1)")


def load_from_args(args, resolution: int):
    from .data import load_benchmark
    from .spec import data_config_from_args
    return load_benchmark(args.benchmark, args.root, resolution, data_config_from_args(args),
                          progress=not getattr(args, "quiet", False))


def add_train_options(p: argparse.ArgumentParser) -> None:
    from .catalog import ARCHS
    from .config import PRESETS
    p.add_argument("--arch", default="resnet18", choices=ARCHS)
    p.add_argument("--preset", default="cpu", choices=PRESETS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="override the preset's epochs")
    p.add_argument("--resolution", type=int, help="override the preset's input resolution")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size")
    p.add_argument("--lr", type=float, help="override the preset's learning rate")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any other recipe setting, e.g. --set momentum=0.8 --set milestones=5,10 "
                        "--set augment=false (repeatable)")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda[:N]")
    p.add_argument("--no-amp", action="store_true", help="disable bf16 mixed precision on CUDA")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="run folder (models are reused when the configuration matches)")


def cmd_data_summary(args) -> None:
    bench = load_from_args(args, args.resolution)
    print(json.dumps(bench.summary(), indent=2))


def cmd_make_synthetic(args) -> None:
    from .data import make_synthetic_mucac, make_synthetic_mufac
    if args.format == "mufac":
        kw = {"families": (args.people, max(2, args.people // 4), max(2, args.people // 4)),
              "forget_families": max(1, args.people * 3 // 16)} if args.people else {}
        manifest = make_synthetic_mufac(args.out, seed=args.seed, image_size=args.image_size,
                                        overwrite=args.overwrite, **kw)
    else:
        kw = {"people": (args.people // 4, args.people // 2, args.people, args.people // 4)} if args.people else {}
        manifest = make_synthetic_mucac(args.out, seed=args.seed, image_size=args.image_size,
                                        overwrite=args.overwrite, **kw)
    print(json.dumps({"out": args.out, **manifest}, indent=2))


def cmd_download(args) -> None:
    from .data.download import download_mucac, download_mufac
    if args.dataset == "mufac":
        path = download_mufac(args.dest, args.source, extract=args.extract, progress=not args.quiet)
    else:
        path = download_mucac(args.dest, args.source, progress=not args.quiet)
    print(json.dumps({"dataset": args.dataset, "path": str(path)}))


def cmd_train(args) -> None:
    from .experiment import train_reference
    print(json.dumps(train_reference(args), indent=2))


def cmd_run(args) -> None:
    from .unlearning import REFERENCES
    relearn = None
    if args.relearn_steps:
        from .relearn import Relearn
        relearn = Relearn(args.relearn_steps, lr=args.relearn_lr)
    spec = spec_from_args(args, relearn=relearn)  # names and combinations refused before torch is loaded
    from .engine import run_grid
    from .runner import check_method_configs
    from .tables import format_table, summary_table
    check_method_configs(spec.benchmark, list(spec.methods), spec.method_config, spec.procedure)  # before any data
    results = run_grid(spec, stderr_log(args))
    print(f"{args.benchmark} / {args.arch} / preset {args.preset} / seeds {list(spec.seeds)}  "
          f"(results: {args.out}/results.csv)")
    print(format_table(summary_table(results)))
    if relearn is not None:
        from .io import read_csv
        from .relearn import relearn_markdown
        frame = read_csv(f"{args.out}/relearn.csv")
        keep = (frame.procedure.eq(spec.procedure) & frame.seed.isin(spec.seeds)
                & frame.method.isin([*spec.methods, *REFERENCES]))
        print(f"\nrelearning ({relearn.steps} steps on the retain set; {args.out}/relearn.csv):")
        print(relearn_markdown(frame[keep]))


def cmd_gli_ablations(args) -> None:
    from . import plots
    from .catalog import GLI_VARIANTS as VARIANTS
    from .catalog import PUSH_FROM
    from .experiment import experiment_from_args
    from .gli_ablations import markdown_table, run_gli_ablations
    from .paper import authors_gli_trajectory
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    unknown = [v for v in variants or () if v not in VARIANTS]
    if unknown:  # before any data is read
        raise ConfigError(f"unknown GLI variant(s) {', '.join(unknown)}; valid: {', '.join(VARIANTS)}.")
    push_from = [v.strip() for v in args.push_from.split(",") if v.strip()]
    bad = [v for v in push_from if v not in PUSH_FROM] or ([] if push_from else ["(none)"])
    if bad:
        raise ConfigError(f"unknown --push-from {', '.join(bad)}; valid: {', '.join(PUSH_FROM)}.")
    if "nonmember" in push_from and not args.validation_share:
        raise ConfigError("--push-from nonmember draws from held-out test families: add --validation-share (e.g. 0.2).")
    exp = experiment_from_args(args)
    log = stderr_log(args)
    summary, traj = run_gli_ablations(exp, args.results, variants, args.batches, retrained=not args.no_retrained,
                                      log=log, eval_every=args.eval_every, push_from=push_from)
    print(markdown_table(summary))
    written = [f"{args.results}/summary.csv", f"{args.results}/trajectories.csv"]
    if args.figure:  # the committed protocols' figures are drawn from their files by `make mufac-figures` instead
        authors = authors_gli_trajectory() if exp.bench.spec.paper_task == "MUFAC" else None
        written.append(plots.save(plots.gli_ablation_plot(traj, authors), args.figure))
    print("written: " + ", ".join(written))


def cmd_tune(args) -> None:
    spec = spec_from_args(args, engine="ray")  # names first: a wrong one is refused before torch is loaded
    from .tuning import run_tune
    table = run_tune(spec, args.trials, log=stderr_log(args))
    chosen = table[table.chosen][["method", "validation_score", "config"]]
    paper = table[table.paper_config].groupby("method").validation_score.first().rename("paper_validation_score")
    print(chosen.join(paper, on="method").to_string(index=False))
    print(f"written: {args.out}/tune.csv; results.csv rows 'honest' (paper configuration) and 'tuned'")


def cmd_audit(args) -> None:
    spec = spec_from_args(args, seeds=(0,))  # names first: a wrong one is refused before torch is loaded
    from .audit import check_bootstrap, run_audit
    from .runner import check_method_configs
    check_bootstrap(args.bootstrap)  # before the data is read and any unit runs
    check_method_configs(spec.benchmark, list(spec.methods), spec.method_config, spec.procedure)
    table = run_audit(spec, args.models, log=stderr_log(args), bootstrap=args.bootstrap)
    cols = ["method", "n_models", "f", "f_half", "final_score_competition", "attack_acc", "attack_auc", "forgetting_score"]
    if args.bootstrap:
        cols[3:3] = ["f_lo", "f_hi"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"written: {args.out}/audit.csv, {args.out}/audit_examples.csv")


def reproduce_run_dir(args) -> str:
    """``--out``, or runs/<benchmark>-<preset>, so that each benchmark and preset gets its own run folder."""
    return args.out or f"runs/{args.benchmark}-{args.preset}"


def cmd_reproduce(args) -> None:
    from .notebook import resolve
    from .reproduce import reproduce
    run_dir = resolve(reproduce_run_dir(args))
    params = {"BENCHMARK": args.benchmark, "DATA_ROOT": str(resolve(args.root)), "PRESET": args.preset,
              "RUN_DIR": str(run_dir), "FIG_DIR": str(resolve(args.figures)), "SEEDS": _seeds(args),
              "ARCHS": args.archs.split(","), "DEVICE": args.device, "PROGRESS": False,
              # notebook 04's second (multi-label) benchmark: a run folder per preset, as for the main one
              "MULTILABEL_RUN_DIR": str(resolve(f"runs/synthetic-mucac-{args.preset}"))}
    if args.cache_dir:
        params["CACHE_DIR"] = str(resolve(args.cache_dir))
    import time
    start = time.time()
    done = reproduce(params, run_dir, args.notebooks, progress=not args.quiet,
                     log=lambda m: print(m, file=sys.stderr, flush=True))
    def fresh(paths):  # what this run wrote
        return sorted(str(p) for p in paths if p.stat().st_mtime >= start)
    tables = fresh(run_dir.glob("*.csv"))
    figures = fresh(resolve(args.figures).glob("*.png"))
    print(json.dumps({"executed_notebooks": [str(p) for p in done], "tables": tables, "figures": figures}, indent=2))


def cmd_bench(args) -> None:
    from . import bench
    from .errors import ConfigError
    out = {"machine": bench.machine(), "what": args.what}
    if args.what == "engine":
        configurations = [_engine_threads(text) for text in args.configurations.split(",")]
        out.update(bench.bench_engine(args.benchmark, args.root, args.preset, args.methods, args.seeds, configurations,
                                      args.repeats, args.out, args.cache_dir))
    elif args.what == "unlearn":
        if not args.results:
            raise ConfigError("bench unlearn needs --results <results.csv of a run folder> (written by python -m "
                              "gli_helpers run or notebook 02): it reports each method's time as a fraction of retraining.")
        out["fractions"] = bench.unlearn_fractions(args.results).round(4).reset_index().to_dict("records")
    elif args.what == "load":
        out.update(bench.bench_load(args.benchmark, args.root, args.resolution, args.cache_dir))
    else:
        from .data import load_benchmark
        b = load_benchmark(args.benchmark, args.root, args.resolution, cache_dir=args.cache_dir, progress=False)
        if args.what == "train":
            out.update(bench.bench_train(b, args.arch, args.batch_size, args.steps, device=args.device,
                                         amp=not args.no_amp, channels_last=not args.no_channels_last,
                                         workers=args.workers, reference=not args.no_reference,
                                         profile=args.profile))
        elif args.what == "evaluation":
            out.update(bench.bench_evaluation(b, args.arch, args.steps, device=args.device))
        else:
            out.update(bench.bench_gli(b, args.arch, args.k, args.batch_size, args.steps, device=args.device))
    print(json.dumps(out, indent=2))


def _engine_threads(text: str) -> tuple[str, int]:
    engine, _, threads = text.strip().partition(":")
    if engine not in ("local", "ray") or not threads.isdigit() or int(threads) < 1:
        raise ConfigError(f"--configurations takes ENGINE:THREADS items such as local:2,ray:2,ray:1, got {text!r}.")
    return engine, int(threads)


def cmd_tables(args) -> None:
    from .doc_tables import table
    print(table(args.name, args.root), end="")


def cmd_upgrade_results(args) -> None:
    from .records import upgrade_results
    for path in args.results:
        done = upgrade_results(path)
        print(f"{path}: {done['rows']} rows; avg_gap and tow in {done['with_gap_scores']} (the others have no Retrained "
              f"model); selection renamed paper -> on_test in {done['selection_renamed']}")


def cmd_export(args) -> None:
    from .records import export_results
    print(json.dumps({"dest": args.dest, "files": export_results(args.run_dir, args.dest, args.references)},
                     indent=2))


def cmd_compare(args) -> None:
    import pandas as pd

    from .errors import DataError
    from .io import write_text_atomic
    from .paper import choose_rows, comparison_markdown, matching_trajectories
    try:
        results = pd.read_csv(args.results)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {args.results}: {exc}. Give the results.csv of a run folder.") from None
    from .unlearning import parse_methods
    ours, benchmark, arch = choose_rows(results, args.results, args.benchmark, args.arch, args.procedure,
                                        bool(args.by_procedure), parse_methods(args.methods) if args.methods else None,
                                        _seeds(args) if args.seeds else None)
    if args.by_procedure:  # one benchmark and architecture, every procedure
        from .tables import procedure_markdown
        text = procedure_markdown(ours, base=args.by_procedure[0], other=args.by_procedure[1])
    else:
        text = comparison_markdown(ours, benchmark, arch)
    if args.out:
        write_text_atomic(args.out, text)
    print(text, end="")
    if args.figures and not args.by_procedure:
        from pathlib import Path

        from . import plots
        stem = Path(args.figures) / f"{benchmark}_{arch}"
        written = [plots.save(plots.score_plot(ours, "final_score"), f"{stem}_final_scores.png")]
        traj_path = Path(args.results).with_name("trajectories.csv")
        if traj_path.is_file():
            traj = matching_trajectories(pd.read_csv(traj_path), ours)
            written.append(plots.save(plots.trajectory_plot(traj, ours), f"{stem}_trajectories.png"))
        print("\nfigures: " + ", ".join(written))


def _seeds(args) -> list[int]:
    from .errors import ConfigError
    try:
        return [int(s) for s in str(args.seeds).split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be a comma list of integers such as 0,1,2, got {args.seeds!r}.") from None


def _options_data_summary(p) -> None:
    add_data_options(p)
    p.add_argument("--resolution", type=int, default=32, help="decode resolution (default 32)")
    p.add_argument("--quiet", action="store_true")


def _options_make_synthetic(p) -> None:
    p.add_argument("--format", required=True, choices=("mufac", "mucac"))
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--people", type=int, help="size: train families (mufac) or retain identities (mucac)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--overwrite", action="store_true", help="replace an existing synthetic benchmark folder")


def _options_download(p) -> None:
    p.add_argument("dataset", choices=("mufac", "mucac"))
    p.add_argument("--dest", default="data")
    p.add_argument("--source", help="URL (http, https, file) or local path instead of the default")
    p.add_argument("--extract", action="store_true", help="MUFAC: unzip instead of keeping the zip")
    p.add_argument("--quiet", action="store_true")


def _options_train(p) -> None:
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--role", required=True, choices=("original", "retrained"))


def _options_run(p) -> None:
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--methods", default="all", help="all (every method), paper (the paper's eight), "
                   "ablation (GLI l2/l1/cosine), or a comma list")
    p.add_argument("--seeds", help="comma list of seeds (overrides --seed), e.g. 0,1,2")
    p.add_argument("--trajectory-every", type=int, default=5, help="record metrics every N steps (0: off)")
    p.add_argument("--procedure", default="default", choices=("default", "honest", "authors"),
                   help="settings applied to every method: default (each method's own), honest (final model, "
                        "BatchNorm trains), authors (checkpoint chosen per step on test/unseen, BatchNorm frozen)")
    p.add_argument("--method-config", help='JSON overrides per method, e.g. \'{"gli": {"perturbation_steps": 3}}\'')
    p.add_argument("--relearn-steps", type=int, default=0,
                   help="the relearning test: fine-tune every unlearned model and both reference models on the retain "
                        "set for N steps and write relearn.csv (forget accuracy and MIA before and after; 0: off)")
    p.add_argument("--relearn-lr", type=float, default=0.01, help="the relearning rate (momentum 0.9; default 0.01, "
                   "the reference models' training rate)")
    add_engine_options(p)


def _options_tune(p) -> None:
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--methods", default="all", help="all (every method), paper (the paper's eight), ablation, or a comma list")
    p.add_argument("--trials", type=int, required=True, help="trials per method (the paper's configuration is the first)")
    p.add_argument("--address", help="Ray head node HOST:PORT (default: a local Ray on this machine)")
    p.add_argument("--threads", type=int, help="CPU threads per trial (default 1)")


def _options_audit(p) -> None:
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--methods", default="gli", help="all, paper, ablation, or a comma list (default gli)")
    p.add_argument("--models", type=int, required=True, help="N: Retrained models and runs per method (at least 2)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="SAMPLES",
                   help="add 95%% intervals of F and the attack's accuracy over forget examples from SAMPLES "
                        "resamples (default 0: none)")
    p.add_argument("--procedure", default="honest", choices=("honest", "authors"),
                   help="honest (the final model, BatchNorm trains; default) or authors (checkpoint chosen per step on "
                        "test/unseen, BatchNorm frozen); off honest, rows and units are named METHOD-PROCEDURE")
    p.add_argument("--method-config", help='JSON overrides per method, e.g. \'{"gli": {"quirks": "authors"}}\'')
    add_engine_options(p)


def _options_gli_ablations(p) -> None:
    from .catalog import GLI_VARIANTS as VARIANTS
    add_data_options(p)
    add_train_options(p)
    p.add_argument("--results", required=True, help="where trajectories.csv, summary.csv and the figure go")
    p.add_argument("--variants", help="comma list (default: all): " + ", ".join(VARIANTS))
    p.add_argument("--batches", type=int, default=45, help="optimizer steps per variant (default 45)")
    p.add_argument("--eval-every", type=int, default=15,
                   help="evaluate after every N batches and after the last (default 15: on 2 CPU cores the evaluations "
                        "then take under half of a variant's time at 48 and 128 px, docs/PERFORMANCE.md; 1: after "
                        "every batch, which the authors' selection read off the trajectory needs)")
    p.add_argument("--push-from", default="forget",
                   help="comma list of what GLI pushes away from, each crossed with every variant: forget (GLI), "
                        "retain (other retain images), nonmember (held-out test families: needs --validation-share), "
                        "noise; a control is named <variant>+push_<kind>")
    p.add_argument("--figure", help="also draw the variants batch by batch into this PNG file")
    p.add_argument("--no-retrained", action="store_true",
                   help="do not train the Retrained model: the summary has gaps to it only if the run folder "
                        "already holds it (run again without this flag to add them, every finished variant reused)")


def _options_reproduce(p) -> None:
    from .config import PRESETS
    from .data import BENCHMARKS
    p.add_argument("--benchmark", default="synthetic-mufac", choices=BENCHMARKS)
    p.add_argument("--root", default="data/synthetic-mufac")
    p.add_argument("--preset", default="cpu", choices=PRESETS)
    p.add_argument("--archs", default="resnet18", help="comma list of architectures")
    p.add_argument("--seeds", default="0", help="comma list of seeds")
    p.add_argument("--out", help="run folder shared by the notebooks (default runs/<benchmark>-<preset>)")
    p.add_argument("--figures", default="figures")
    p.add_argument("--notebooks", help="only these prefixes, e.g. 01,02")
    p.add_argument("--device", default="auto")
    p.add_argument("--cache-dir")
    p.add_argument("--quiet", action="store_true")


def _options_bench(p) -> None:
    p.add_argument("what", choices=("train", "gli", "unlearn", "engine", "load", "evaluation"))
    p.add_argument("--benchmark", default="synthetic-mufac")
    p.add_argument("--root", default="data/synthetic-mufac")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed steps (train, evaluation: GLI batches) or repeats (gli)")
    p.add_argument("--repeats", type=int, default=1, help="engine: runs of each configuration, in turn")
    p.add_argument("--k", type=int, default=2, help="GLI steps K")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of the reference loop")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--no-reference", action="store_true", help="skip the PIL/DataLoader reference loop")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="train: also list the N most expensive operations of a training step (torch profiler)")
    p.add_argument("--results", help="unlearn: a results.csv")
    p.add_argument("--preset", default="smoke", help="engine: the grid's preset")
    p.add_argument("--methods", default="paper", help="engine: the grid's methods")
    p.add_argument("--seeds", default="0", help="engine: the grid's seeds")
    p.add_argument("--configurations", default="local:2,ray:2,ray:1",
                   help="engine: ENGINE:THREADS per unit, compared with the first")
    p.add_argument("--out", help="engine: where the run folders go (default: a new temporary folder)")
    p.add_argument("--cache-dir")


def _options_compare(p) -> None:
    p.add_argument("results", help="results.csv of a run folder")
    p.add_argument("--benchmark", help="which benchmark's rows (needed when the file holds several)")
    p.add_argument("--arch", help="which architecture's rows (needed when the file holds several)")
    p.add_argument("--procedure", help="which procedure's rows (needed when the file holds several)")
    p.add_argument("--by-procedure", nargs=2, metavar=("BASE", "OTHER"),
                   help="instead: the final score of every method under two procedures (e.g. honest authors), "
                        "with 95%% intervals over seeds, ranks and the gap OTHER - BASE")
    p.add_argument("--methods", help="only these methods (all, paper, ablation or a comma list; the reference rows are "
                                     "always kept)")
    p.add_argument("--seeds", help="only these seeds, e.g. 0 or 0,1")
    p.add_argument("--out", help="also write the table to this file")
    p.add_argument("--figures", help="also draw the final scores (and trajectories, from the trajectories.csv beside "
                                     "the results) into this folder")


def _options_tables(p) -> None:
    from .catalog import TABLE_NAMES
    p.add_argument("name", choices=TABLE_NAMES)
    p.add_argument("--root", default=".", help="the repository root that holds results/ (default: here)")


def _options_upgrade_results(p) -> None:
    p.add_argument("results", nargs="+", help="results.csv files")


def _options_export_results(p) -> None:
    p.add_argument("run_dir")
    p.add_argument("dest")
    p.add_argument("--references", choices=("keep", "replace"), default=None,
                   help="when this run's Original or Retrained model of a seed differs from the one dest holds and dest "
                        "has methods measured against the stored one: keep the stored rows (this run's metrics go to "
                        "metrics-rerun.json beside) or replace them; without it such an export is refused")


# Every subcommand: (name, function, its options, help), in the order ``--help`` lists them.
COMMANDS = (
    ("data-summary", cmd_data_summary, _options_data_summary,
     "print split sizes, people and label histograms as JSON"),
    ("make-synthetic", cmd_make_synthetic, _options_make_synthetic,
     "write a synthetic benchmark in MUFAC or MUCAC format"),
    ("download", cmd_download, _options_download,
     "fetch, verify and unpack a real dataset"),
    ("train", cmd_train, _options_train,
     "train (or reuse) the Original or Retrained model and print its metrics"),
    ("run", cmd_run, _options_run,
     "run unlearning methods against the Original and Retrained models"),
    ("tune", cmd_tune, _options_tune,
     "search every method's settings with the same number of trials (Ray Tune), "
      "scored on the validation split; run the chosen and the paper's configuration"),
    ("audit", cmd_audit, _options_audit,
     "per-example audit: N Retrained models and N runs per method from one Original; "
      "F, the competition score and a LiRA-style attack"),
    ("gli-ablations", cmd_gli_ablations, _options_gli_ablations,
     "GLI variants batch by batch from one Original (where the published "
      "GLI number comes from)"),
    ("reproduce", cmd_reproduce, _options_reproduce,
     "execute notebooks 01-07 on the benchmark, then 08, with papermill into the run folder"),
    ("bench", cmd_bench, _options_bench,
     "performance measurements (see docs/PERFORMANCE.md)"),
    ("compare", cmd_compare, _options_compare,
     "a results.csv beside the paper's numbers, as a Markdown table"),
    ("tables", cmd_tables, _options_tables,
     "print one of the documents' results tables from the committed results/ CSVs"),
    ("upgrade-results", cmd_upgrade_results, _options_upgrade_results,
     "bring stored results.csv files to the current columns and names: avg_gap "
      "and tow from their gaps, selection paper -> on_test (nothing is rerun)"),
    ("export-results", cmd_export, _options_export_results,
     "copy a run's numbers and configurations (no checkpoints) elsewhere"),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gli_helpers", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, options, text in COMMANDS:
        p = sub.add_parser(name, help=text)
        options(p)
        p.set_defaults(func=func)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except GLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
