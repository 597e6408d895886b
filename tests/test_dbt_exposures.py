"""The dbt exposures of the analysts' app name exactly the marts each page's queries read."""

import json
import re
from pathlib import Path

from resources.dbt import dbt_project, ensure_manifest

APP = Path(__file__).resolve().parents[1] / "streamlit_app"
QUERIES_OF_PAGE = {"app_queues_and_agents": "queries.py", "app_calls": "call_queries.py"}


def marts_read_by(module: str) -> set[str]:
    return set(re.findall(r"\bmarts\.(\w+)", (APP / module).read_text()))


def test_each_page_exposure_depends_on_the_marts_its_queries_read():
    ensure_manifest()
    manifest = json.loads(dbt_project().manifest_path.read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == set(QUERIES_OF_PAGE)
    for name, module in QUERIES_OF_PAGE.items():
        read = marts_read_by(module)
        assert read, module
        declared = {node.removeprefix("model.switchboard.") for node in exposures[name]["depends_on"]["nodes"]}
        assert declared == read, (name, declared ^ read)
        assert exposures[name]["type"] == "application" and exposures[name]["description"]
