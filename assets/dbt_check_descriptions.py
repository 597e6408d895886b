"""What each dbt data test checks, in a sentence, for the description of its Dagster asset check.

dagster-dbt describes a check only from the test's `meta.description`, which none of the ~330
generic tests in the YAML carry: the Dagster UI listed them by name alone. A test's own
description comes first: `meta.description` (the singular tests in dbt_project/tests carry theirs
in their config: dbt 1.11's partial parsing dropped descriptions given to them in a YAML file),
else dbt's `description:`; a generic test's is written from its arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

SINCE_PASSED = "__rows_since_tests_passed__"  # the `where` of tests on growing tables (macros/tests_passed.sql)


def _values(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def _referenced(ref_call: str) -> str:
    """`ref('stg_webex__cdr')` → stg_webex__cdr."""
    inner = ref_call.strip()
    if inner.startswith("ref(") and inner.endswith(")"):
        inner = inner[4:-1].split(",")[-1].strip()
    return inner.strip("'\"")


_GENERIC: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "not_null": lambda kw: f"{kw['column_name']} is never null.",
    "unique": lambda kw: f"No two rows have the same {kw['column_name']}.",
    "accepted_values": lambda kw: f"{kw['column_name']} is one of: {_values(kw['values'])} (or null).",
    "relationships": lambda kw: f"Every {kw['column_name']} is a {kw['field']} of {_referenced(kw['to'])}.",
    "not_negative": lambda kw: f"{kw['column_name']} is never below zero (or is null).",
    "between_zero_and_one": lambda kw: f"{kw['column_name']} lies between 0 and 1 (or is null).",
    "equals_sum_of": lambda kw: f"{kw['column_name']} = {' + '.join(kw['addends'])} on every row.",
    "unique_combination_of_columns": lambda kw: f"One row per {', '.join(kw['combination_of_columns'])}.",
    "expression_is_true": lambda kw: (
        f"Every row{' where ' + kw['where_clause'] if kw.get('where_clause') else ''} satisfies: {kw['expression']}."),
}


def _scope(where: str | None) -> str:
    if not where or SINCE_PASSED not in where:
        return ""
    if where.strip() == SINCE_PASSED:
        return " Checked on the rows written since this model's tests last passed."
    # a unique test's probe: the keys written since, against every row that holds them
    return " Checked for the keys written since this model's tests last passed, against every row."


def describe_dbt_test(test: Mapping[str, Any]) -> str | None:
    """A sentence for a dbt test node of the manifest (None for a generic test of unknown kind)."""
    own = (test.get("meta") or {}).get("description") or (test.get("description") or "").strip()
    if own:
        return own
    metadata = test.get("test_metadata")
    describe = _GENERIC.get(metadata["name"]) if metadata else None
    if describe is None:
        return None
    return describe(metadata["kwargs"]) + _scope((test.get("config") or {}).get("where"))
