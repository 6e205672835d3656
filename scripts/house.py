"""The house's shape in numbers (W15): the longest functions, the files that write SQL or hold
the store's connection, imports that climb a floor of docs/design.md, and the walk of one
`workbench train` through the source (files its calls visit, crossings between files, entries
into the trainer). Run it on a checkout; compare two with `git worktree`.

    python scripts/house.py [--root .] [--walk]   # --walk also trains 2 steps in a temp home
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES = ("workbench", "training", "evaluators", "benchmarks")
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE)\b")
CONNECTION = re.compile(r"\.(read|write)\(\) as con\b|\bimport duckdb\b|\bcon\.execute\(")


def sources(root: Path) -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py"))


def longest_functions(root: Path, top: int = 5) -> dict:
    rows = []
    for path in sources(root):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{path.relative_to(root)}:{node.name}"
                rows.append((node.end_lineno - node.lineno + 1, where))
    rows.sort(reverse=True)
    over = [r for r in rows if r[0] > 60 and not r[1].endswith(":add_parser")]
    return {"top": [f"{n} {w}" for n, w in rows[:top]], "over_60_outside_argparse": len(over)}


def store_access(root: Path) -> dict:
    sql, connection = [], []
    for path in sources(root):
        text = path.read_text()
        strings = [
            n.value
            for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]
        name = str(path.relative_to(root))
        if any(SQL.search(s) for s in strings):
            sql.append(name)
        if CONNECTION.search(text):
            connection.append(name)
    return {"files_writing_sql": sql, "files_holding_the_connection": connection}


def upward_imports(root: Path) -> list[str]:
    floors = {}
    for line in (root / "docs" / "design.md").read_text().splitlines():
        row = re.match(r"\| (\d) \| (.+?) \|", line)
        if row:
            floors |= {name: int(row[1]) for name in re.findall(r"`([\w.]+)`", row[2])}

    def floor(module: str) -> int | None:
        while module not in floors and "." in module:
            module = module.rsplit(".", 1)[0]
        return floors.get(module)

    found = []
    for path in sources(root):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    mine, theirs = floor(module), floor(target)
                    if mine is not None and theirs is not None and theirs > mine:
                        found.append(f"{module} ({mine}) -> {target} ({theirs})")
    return sorted(set(found))


WALK = """
import sys, json
from pathlib import Path
root = Path(sys.argv[1]).resolve()
files, calls, crossings, trainer = [], 0, 0, 0
stack = []
def profile(frame, event, arg):
    global calls, crossings, trainer
    if event != "call":
        return
    path = Path(frame.f_code.co_filename)
    try:
        name = str(path.resolve().relative_to(root))
    except ValueError:
        return
    if not name.startswith(("workbench/", "training/", "evaluators/")):
        return
    caller = frame.f_back
    while caller is not None:
        try:
            before = str(Path(caller.f_code.co_filename).resolve().relative_to(root))
            break
        except ValueError:
            caller = caller.f_back
    else:
        before = None
    if name not in files:
        files.append(name)
    if before != name:
        crossings += 1
        trainer += name.endswith("trainer.py")
from workbench.cli import main
sys.setprofile(profile)
code = main(sys.argv[2:])
sys.setprofile(None)
print(json.dumps({"exit": code, "files_visited": len(files), "file_crossings": crossings,
                  "trainer_entries": trainer}))
"""


def walk(root: Path) -> dict:
    """One `workbench train` of 2 steps on a 16-clip world, profiled (setup and loop)."""
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as home:
        world = [sys.executable, "-m", "workbench", "--home", home, "world", "make", "--n", "16"]
        subprocess.run(world, env=env, check=True, capture_output=True, cwd=root)
        train = ["--home", home, "train", "--name", "w", "--steps", "2", "--batch-size", "4"]
        out = subprocess.run(
            [sys.executable, "-c", WALK, str(root), *train],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=root,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--walk", action="store_true")
    args = parser.parse_args()
    root = args.root.resolve()
    access = store_access(root)
    result = {
        "source_files": len(sources(root)),
        "lines": sum(len(p.read_text().splitlines()) for p in sources(root)),
        "functions": longest_functions(root),
        "files_writing_sql": len(access["files_writing_sql"]),
        "files_holding_the_connection": access["files_holding_the_connection"],
        "upward_imports": upward_imports(root),
    }
    if args.walk:
        result["walk_of_workbench_train"] = walk(root)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
