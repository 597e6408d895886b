"""Where the project's own files live; anchored once so nothing does path arithmetic elsewhere."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
STREAMLIT_APP = PROJECT_ROOT / "streamlit_app" / "app.py"
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
