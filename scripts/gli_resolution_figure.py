"""GLI batch by batch at several input resolutions beside the authors' stored 128 px run (protocol 6 of
results/mufac/PROTOCOL.md), drawn by the package (``findings.resolution_figure``, the function behind
results/mufac/figures/gli_batches.png): the `authors` and `honest` variants of each resolution's `gli-ablations`
results, one column per LABEL, with its Retrained model as the target where the folder's configurations hold it.

Usage: python scripts/gli_resolution_figure.py OUT_PNG LABEL=RESULTS_DIR [LABEL=RESULTS_DIR ...]
e.g.   python scripts/gli_resolution_figure.py runs/gli_resolutions.png \
           "48 px=results/mufac/regime/gli-ablations" "128 px=results/mufac/paper-resolution/gli-ablations-128"
A folder without trajectories.csv is an error naming it (run its `gli-ablations` first). The committed figure is
redrawn by `make mufac-figures`."""

from __future__ import annotations

import sys
from pathlib import Path

from gli_helpers import findings, plots
from gli_helpers.errors import DataError


def combined(sources: dict):
    """The `authors` and `honest` trajectories of every source, each variant renamed "<variant>, <label>"."""
    try:
        return findings.combined({k: Path(v) for k, v in sources.items()})
    except DataError as exc:
        raise SystemExit(str(exc)) from None


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not all("=" in a for a in argv[1:]):
        raise SystemExit(__doc__)
    sources = {k: Path(v) for k, v in (a.split("=", 1) for a in argv[1:])}
    combined(sources)  # checks every folder before anything is drawn
    print(plots.save(findings.resolution_figure(sources), Path(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
