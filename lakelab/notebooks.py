"""Execute the analysts' notebooks and check that their committed outputs are current.

The notebooks are jupytext percent files (`notebooks/NN_*.py`, the reviewed source), each
paired with an `.ipynb` that carries the outputs of a real run:

    python -m lakelab.notebooks run     # `make notebooks`: execute every .py, rewrite its .ipynb
    python -m lakelab.notebooks check   # `make notebooks-check`: execute again, compare with the .ipynb

Both read the warehouse `LAKELAB_WAREHOUSE` names (else the config's `paths.warehouse`: the
demo's). `check` fails when a cell's source or outputs differ from the committed notebook
in anything but volatile fields (execution counts, timings, kernel versions, memory
addresses). jupytext, nbclient and nbformat are dev dependencies, imported when called.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"
CELL_TIMEOUT_S = 900
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
# The error a notebook stops with when its warehouse has no Gold (pipeline.analysis).
MISSING_GOLD_ERROR = "GoldNotBuiltError"


def notebook_sources(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks' percent sources, `NN_name.py`, in order."""
    return sorted(folder.glob("[0-9][0-9]_*.py"))


def paired_notebook(source: Path) -> Path:
    """The `.ipynb` that carries a source's outputs."""
    return source.with_suffix(".ipynb")


def read_source(source: Path) -> NotebookNode:
    """A percent source as a notebook without outputs."""
    import jupytext  # type: ignore[import-untyped]

    notebook: NotebookNode = jupytext.read(source)
    return notebook


def execute(
    source: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: int = CELL_TIMEOUT_S,
) -> NotebookNode:
    """Run every cell of `source` in a fresh kernel; return the notebook with its outputs.

    Args:
        source: a percent `.py` notebook.
        env: variables added to this process's environment for the kernel.
        cwd: the kernel's working folder (default: this process's).
        timeout: seconds one cell may take.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; `ename` and `evalue` say what.
    """
    from nbclient import NotebookClient

    notebook = read_source(source)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL,
        record_timing=False,
        resources={"metadata": {"path": str(cwd or Path.cwd())}},
    )
    client.execute(env={**os.environ, **(env or {})})
    return notebook


def write_notebook(notebook: NotebookNode, path: Path) -> None:
    """Write an executed notebook as `.ipynb` (jupytext keeps the pairing metadata)."""
    import jupytext

    jupytext.write(notebook, path, fmt="ipynb")


def read_notebook(path: Path) -> NotebookNode:
    """A committed `.ipynb`."""
    import nbformat

    notebook: NotebookNode = nbformat.read(path, as_version=4)
    return notebook


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalized_output(output: Mapping[str, Any]) -> dict[str, Any]:
    """An output without its volatile fields: execution count, metadata, memory addresses."""
    kind = output["output_type"]
    if kind == "stream":
        return {"type": kind, "name": output["name"], "text": _ADDRESS.sub("0x…", _text(output["text"]))}
    if kind == "error":
        return {"type": kind, "ename": output["ename"], "evalue": output["evalue"]}
    data = {
        mime: _ADDRESS.sub("0x…", _text(value)) if mime.startswith("text/") else _text(value).strip()
        for mime, value in output.get("data", {}).items()
    }
    return {"type": "display", "data": data}


def normalized_cells(notebook: NotebookNode) -> list[dict[str, Any]]:
    """What a notebook's cells say: type, source and normalized outputs."""
    return [
        {
            "type": cell["cell_type"],
            "source": _text(cell["source"]).strip(),
            "outputs": [normalized_output(o) for o in cell.get("outputs", [])],
        }
        for cell in notebook["cells"]
    ]


def _describe(output: Mapping[str, Any]) -> list[str]:
    if output["type"] == "display":
        lines = []
        for mime, value in sorted(output["data"].items()):
            if mime.startswith("image/"):
                lines.append(f"{mime}: {len(value)} characters of base64")
            else:
                lines.extend(f"{mime}: {line}" for line in value.splitlines())
        return lines
    return [f"{output['type']}: {line}" for line in output.get("text", output.get("evalue", "")).splitlines()]


def differences(committed: NotebookNode, fresh: NotebookNode, limit: int = 20) -> list[str]:
    """How `fresh` differs from `committed`, one paragraph per differing cell (empty: the same)."""
    old, new = normalized_cells(committed), normalized_cells(fresh)
    found = []
    if len(old) != len(new):
        found.append(f"{len(old)} cells committed, {len(new)} in the source")
    for index, (before, after) in enumerate(zip(old, new, strict=False)):
        if before == after:
            continue
        first_line = after["source"].splitlines()[0] if after["source"] else ""
        what = "source" if before["source"] != after["source"] else "outputs"
        lines_before = [line for o in before["outputs"] for line in _describe(o)]
        lines_after = [line for o in after["outputs"] for line in _describe(o)]
        if what == "source":
            lines_before, lines_after = before["source"].splitlines(), after["source"].splitlines()
        diff = list(difflib.unified_diff(lines_before, lines_after, "committed", "now", n=0, lineterm=""))
        found.append(f"cell {index} ({first_line!r}): {what} differ\n" + "\n".join(diff[2 : 2 + limit]))
    return found


def sources_in_sync(source: Path) -> list[str]:
    """Cells whose source differs between a `.py` and its committed `.ipynb` (empty: in sync)."""
    committed = normalized_cells(read_notebook(paired_notebook(source)))
    current = normalized_cells(read_source(source))
    found = []
    if len(committed) != len(current):
        found.append(f"{source.name}: {len(committed)} cells committed, {len(current)} in the source")
    for index, (before, after) in enumerate(zip(committed, current, strict=False)):
        if before["source"] != after["source"] or before["type"] != after["type"]:
            found.append(f"{source.name}: cell {index} differs from the committed .ipynb")
    return found


def _one_line_failure(source: Path, error: Exception) -> str:
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    return f"{source.name}: {ename}: {evalue}"


def run(sources: Sequence[Path], check: bool, env: Mapping[str, str]) -> int:
    """Execute each notebook; write its `.ipynb` (`check=False`) or compare with it (`check=True`).

    Returns:
        0 when all ran (and, checking, matched); 1 when a check found differences; 2 when a
        notebook failed (its error printed on one line).
    """
    from nbclient.exceptions import CellExecutionError

    status = 0
    for source in sources:
        print(f"{source.name}: executing", flush=True)
        try:
            fresh = execute(source, env=env)
        except CellExecutionError as error:
            print(_one_line_failure(source, error), file=sys.stderr)
            return 2
        target = paired_notebook(source)
        if not check:
            write_notebook(fresh, target)
            print(f"{source.name}: wrote {target.name}")
            continue
        if not target.exists():
            print(f"{source.name}: {target.name} is not committed (run `make notebooks`)")
            status = 1
            continue
        found = differences(read_notebook(target), fresh)
        if found:
            status = 1
            print(f"{source.name}: the committed outputs are not the current code's on this data:")
            for paragraph in found:
                print("  " + paragraph.replace("\n", "\n    "))
        else:
            print(f"{source.name}: committed outputs match (volatile fields aside)")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lakelab.notebooks run|check [--warehouse PATH] [NAME ...]`."""
    parser = argparse.ArgumentParser(prog="python -m lakelab.notebooks", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["run", "check"])
    parser.add_argument("names", nargs="*", help="notebooks to take, by prefix (e.g. 04); default: all")
    parser.add_argument(
        "--warehouse", help="warehouse to read (sets LAKELAB_WAREHOUSE; default: the config's)"
    )
    args = parser.parse_args(argv)
    sources = [s for s in notebook_sources() if not args.names or s.name.startswith(tuple(args.names))]
    if not sources:
        print(f"no notebooks matched in {NOTEBOOKS_DIR}", file=sys.stderr)
        return 2
    from pipeline.analysis import WAREHOUSE_ENV

    env = {WAREHOUSE_ENV: args.warehouse} if args.warehouse else {}
    return run(sources, args.action == "check", env)


if __name__ == "__main__":
    raise SystemExit(main())
