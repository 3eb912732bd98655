"""The packages' layers, read from their source: who may import whom, and SQL through one
layer (``schemas.sql``) that names the stage of every error."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "linkage", "pipelines", "synthetic")
# what each package may import of the others: schemas at the ground floor, the engine on
# it, the pipelines and the command on top; the synthetic world knows nothing of the product
ALLOWED = {
    "schemas": set(),
    "linkage": {"schemas"},
    "pipelines": {"schemas", "linkage", "synthetic"},
    "synthetic": set(),
}
SQL_LAYER = ROOT / "schemas" / "sql.py"
# a Spark session's own query (not a database connection of the run): the start-up check
# of the similarity functions
SQL_CALL_ALLOWED = {("linkage/backend.py", "spark.sql")}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


def test_each_package_imports_only_the_layers_below_it():
    wrong = []
    for package in PACKAGES:
        for path in _modules(package):
            for imported in _imported_packages(path) - ALLOWED[package] - {package}:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, wrong


def test_queries_run_only_through_the_sql_layer():
    # (sqlglot renders an expression with .sql(dialect=...) or .sql("duckdb"): not a query)
    call = re.compile(r"\b(\w+)\.(sql|execute)\((?!dialect=|\"duckdb\"\))")
    wrong = []
    for package in PACKAGES:
        for path in _modules(package):
            if path == SQL_LAYER:
                continue
            relative = str(path.relative_to(ROOT))
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                for match in call.finditer(line):
                    if (relative, f"{match.group(1)}.{match.group(2)}") in SQL_CALL_ALLOWED:
                        continue
                    wrong.append(f"{relative}:{number}: {line.strip()}")
    assert not wrong, wrong
