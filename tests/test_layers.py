"""The floors of docs/design.md hold: no module imports from a floor above its own, and SQL is
written only in the modules the design note lists as owning the store's tables."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "training", "evaluators", "benchmarks")


def documented_floors() -> dict[str, int]:
    """Module or package name -> floor, read from the design note's table."""
    floors = {}
    for line in (ROOT / "docs" / "design.md").read_text().splitlines():
        row = re.match(r"\| (\d) \| (.+?) \|", line)
        if row:
            for name in re.findall(r"`([\w.]+)`", row[2]):
                floors[name] = int(row[1])
    return floors


def floor_of(module: str, floors: dict[str, int]) -> int:
    name = module
    while name not in floors:
        if "." not in name:
            raise AssertionError(f"{module} is on no floor of docs/design.md")
        name = name.rsplit(".", 1)[0]
    return floors[name]


def imports(path: Path) -> set[str]:
    """Every workbench module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def test_no_module_imports_from_a_floor_above_its_own():
    floors = documented_floors()
    assert floors["workbench.store"] == 0 and floors["workbench.cli"] == 5
    upward = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = module.removesuffix(".__init__")
            mine = floor_of(module, floors)
            upward += [
                f"{module} ({mine}) imports {target} ({floor_of(target, floors)})"
                for target in imports(path)
                if floor_of(target, floors) > mine
            ]
    assert not upward, "\n".join(upward)


SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|CREATE TABLE)\b")


def sql_owners() -> set[str]:
    """The modules of the design note's "owns | module" table."""
    text = (ROOT / "docs" / "design.md").read_text()
    table = text[text.index("| owns | module |") :]
    return {
        name
        for line in table.splitlines()[2:]
        if line.startswith("|")
        for name in re.findall(r"`([\w.]+)`", line.split("|")[2])
    }


def test_sql_is_written_only_where_the_tables_are_owned():
    owners = sql_owners()
    assert {"workbench.store", "training.run_record", "evaluators.runner"} <= owners
    writers = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            strings = [
                node.value
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
            ]
            if any(SQL.search(s) for s in strings):
                writers.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert writers <= owners, sorted(writers - owners)
    assert not {w for w in writers if w.startswith(("workbench.cli", "workbench.app"))}
