"""The README documents every setting the code reads, with its default."""

from switchboard.paths import PROJECT_ROOT
from switchboard.settings import setting_docs


def test_every_setting_is_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name for name, _default, _doc in setting_docs() if f"`{name}`" not in readme]
    assert not missing, f"README lacks: {missing}"


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (PROJECT_ROOT / ".ci" / "run").read_text()
