"""The README documents every setting the code reads, with its default."""

import re

from switchboard.paths import PROJECT_ROOT
from switchboard.settings import setting_docs


def test_every_setting_is_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name, _default, _doc in setting_docs() if f"`{name}`" not in readme]
    assert not missing, f"README lacks: {missing}"


def readme_defaults() -> dict[str, str]:
    """The settings table's default column, by variable."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    return {m[1]: m[2] for m in re.finditer(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|", readme, re.MULTILINE)}


def shown_default(default: str) -> str:
    """A default as the README gives it: a path under the project relative to it ("in the
    project"), a DuckDB URL by its file, a whole float as an integer."""
    default = default.removeprefix("duckdb:///").replace(f"{PROJECT_ROOT}/", "")
    return default.removesuffix(".0") if re.fullmatch(r"\d+\.0", default) else default


def test_every_default_in_the_readme_is_the_codes():
    readme = readme_defaults()
    wrong = {}
    for name, default, _doc in setting_docs():
        cell = readme.get(name, "")
        if default:
            ok = f"`{shown_default(default)}`" in cell and ("in the project" in cell) == (str(PROJECT_ROOT) in default)
        else:  # empty: nothing, or another setting's value
            ok = cell.startswith("*(empty") or re.fullmatch(r"`[A-Z_]+`", cell) is not None
        if not ok:
            wrong[name] = (default, cell)
    assert not wrong, wrong


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()
