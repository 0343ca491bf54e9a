"""One figure of GLI batch by batch at several input resolutions beside the authors' stored 128 px run (protocol 6
of results/mufac/PROTOCOL.md): the `authors` and `honest` variants of each resolution's `gli-ablations` results,
labelled "<variant>, <resolution>".

Usage: python scripts/gli_resolution_figure.py OUT_PNG LABEL=RESULTS_DIR [LABEL=RESULTS_DIR ...]
e.g.   python scripts/gli_resolution_figure.py results/mufac/paper-resolution/gli_resolutions.png \
           "48 px=results/mufac/regime/gli-ablations" "128 px=results/mufac/paper-resolution/gli-ablations-128"
A folder without trajectories.csv is an error naming it (run its `gli-ablations` first)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from gli_helpers import paper, plots

VARIANTS = ("authors", "honest")


def combined(sources: dict[str, Path]) -> pd.DataFrame:
    """The VARIANTS' trajectories of every source, each variant renamed "<variant>, <label>"."""
    frames = []
    for label, folder in sources.items():
        path = Path(folder) / "trajectories.csv"
        if not path.is_file():
            raise SystemExit(f"{path} does not exist: run `python -m gli_helpers gli-ablations ... --results {folder}` "
                             f"for {label} first.")
        t = pd.read_csv(path)
        t = t[t.variant.isin(VARIANTS)].copy()
        if t.empty:
            raise SystemExit(f"{path} holds none of the variants {', '.join(VARIANTS)}.")
        t["variant"] = t.variant + ", " + label
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        raise SystemExit(__doc__)
    sources = dict(a.split("=", 1) for a in argv[1:])
    fig = plots.gli_ablation_plot(combined(sources), paper.authors_gli_trajectory())
    print(plots.save(fig, Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
