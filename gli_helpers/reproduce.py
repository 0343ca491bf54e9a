"""Execute the numbered notebooks in order with papermill, sharing one run folder: 01-07 on the chosen benchmark,
then 08, the real-MUFAC findings drawn from the committed results (it needs no data and writes only to
``<run folder>/08_findings``)."""

from __future__ import annotations

import time
from pathlib import Path

from .errors import ConfigError
from .notebook import project_root


def notebooks(selection: str | None = None) -> list[Path]:
    found = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise ConfigError(f"no numbered notebooks in {project_root() / 'notebooks'}; run from the project folder.")
    if selection:
        wanted = [s.strip() for s in selection.split(",") if s.strip()]
        found = [p for p in found if any(p.name.startswith(w) for w in wanted)]
        if not found:
            raise ConfigError(f"no notebook matches {selection!r}; use prefixes such as 01,02.")
    return found


def declared_parameters(path) -> list[str]:
    """The names assigned in a notebook's cell tagged ``parameters``."""
    import ast

    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ConfigError(f"{path} must have exactly one cell tagged 'parameters' (found {len(cells)}).")
    tree = ast.parse(cells[0].source)
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def reproduce(parameters: dict, run_dir, selection: str | None = None, progress: bool = True, log=print) -> list[Path]:
    """Run each notebook with those of ``parameters`` it declares (papermill injects them after its tagged
    parameters cell); executed copies go to ``run_dir/notebooks``. Returns their paths."""
    import papermill as pm

    out_dir = Path(run_dir) / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for nb in notebooks(selection):
        start = time.perf_counter()
        log(f"[{time.strftime('%H:%M:%S')}] {nb.name} ...")
        names = set(declared_parameters(nb))
        pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters={k: v for k, v in parameters.items() if k in names},
                            kernel_name="python3",
                            cwd=str(project_root()), progress_bar=progress)
        log(f"[{time.strftime('%H:%M:%S')}] {nb.name} done in {time.perf_counter() - start:.0f} s")
        done.append(out_dir / nb.name)
    return done
