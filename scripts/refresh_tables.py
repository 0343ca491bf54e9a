"""Rewrite every generated table of the documents from the committed results: each Markdown table under a
``<!-- table: python -m gli_helpers ... -->`` comment with what that command prints now, and the comparison files
that ``compare --out`` writes. Run from the repository root after the results or the table code change:
``.venv/bin/python scripts/refresh_tables.py``; tests/test_docs.py checks that nothing is left to rewrite."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from gli_helpers.cli import main  # noqa: E402
from gli_helpers.doc_tables import COMMAND_FILES  # noqa: E402

COMMENT = re.compile(r"<!-- table: (python -m gli_helpers [^>]*?) -->")


def printed(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    if code:
        raise SystemExit(f"python -m gli_helpers {' '.join(args)} exited with {code}")
    return out.getvalue()


def first_table(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def refresh(doc: Path) -> bool:
    lines = doc.read_text().splitlines()
    out, i, changed = [], 0, False
    while i < len(lines):
        out.append(lines[i])
        m = COMMENT.fullmatch(lines[i].strip())
        if m:
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                out.append(lines[j])
                j += 1
            end = j
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            new = first_table(printed(shlex.split(m.group(1))[3:]))
            changed |= new != lines[j:end]
            out += new
            i = end
            continue
        i += 1
    if changed:
        doc.write_text("\n".join(out) + "\n")
    return changed


if __name__ == "__main__":
    import os
    os.chdir(REPO)
    for path, command in COMMAND_FILES.items():
        text = printed(shlex.split(command))
        if (REPO / path).read_text() != text:
            (REPO / path).write_text(text)
            print(f"rewrote {path}")
    docs = sorted({REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("results/**/*.md")})
    for doc in docs:
        if doc.relative_to(REPO).as_posix() not in COMMAND_FILES and refresh(doc):
            print(f"rewrote tables in {doc.relative_to(REPO)}")
