"""Each dbt data test's Dagster asset check says what it checks (assets/dbt_check_descriptions.py)."""

from __future__ import annotations

import pytest

from assets.dbt_check_descriptions import describe_dbt_test
from definitions import build_definitions


def generic(name: str, where: str | None = None, **kwargs) -> dict:
    return {"description": "", "meta": {}, "config": {"where": where},
            "test_metadata": {"name": name, "kwargs": {"model": "{{ get_where_subquery(ref('m')) }}", **kwargs}}}


@pytest.mark.parametrize(("test", "sentence"), [
    (generic("not_null", column_name="visit_id"), "visit_id is never null."),
    (generic("unique", column_name="visit_id"), "No two rows have the same visit_id."),
    (generic("accepted_values", column_name="outcome", values=["answered", "abandoned"]),
     "outcome is one of: answered, abandoned (or null)."),
    (generic("relationships", column_name="report_id", to="ref('stg_webex__cdr')", field="report_id"),
     "Every report_id is a report_id of stg_webex__cdr."),
    (generic("not_negative", column_name="wait_seconds"), "wait_seconds is never below zero (or is null)."),
    (generic("between_zero_and_one", column_name="service_level"),
     "service_level lies between 0 and 1 (or is null)."),
    (generic("equals_sum_of", column_name="offered", addends=["answered", "abandoned"]),
     "offered = answered + abandoned on every row."),
    (generic("unique_combination_of_columns", combination_of_columns=["queue", "day"]), "One row per queue, day."),
    (generic("expression_is_true", expression="a <= b"), "Every row satisfies: a <= b."),
    (generic("expression_is_true", expression="agent is not null", where_clause="outcome = 'answered'"),
     "Every row where outcome = 'answered' satisfies: agent is not null."),
], ids=lambda value: value if isinstance(value, str) else None)
def test_generic_tests_are_described_from_their_arguments(test, sentence):
    assert describe_dbt_test(test) == sentence


def test_the_scope_of_a_test_on_a_growing_table_is_said():
    assert describe_dbt_test(generic("not_null", where="__rows_since_tests_passed__", column_name="x")) == (
        "x is never null. Checked on the rows written since this model's tests last passed.")
    probe = "x in (select x from intermediate.t where __rows_since_tests_passed__)"
    assert describe_dbt_test(generic("unique", where=probe, column_name="x")) == (
        "No two rows have the same x. Checked for the keys written since this model's tests last passed, against every row.")


def test_a_tests_own_description_comes_first():
    assert describe_dbt_test({**generic("not_null", column_name="x"), "description": "Said in the YAML."}) == (
        "Said in the YAML.")
    assert describe_dbt_test({"description": "", "meta": {"description": "From meta."}, "config": {}}) == "From meta."


def test_an_unknown_generic_test_has_no_made_up_description():
    assert describe_dbt_test(generic("some_package_test", column_name="x")) is None


def test_every_check_in_the_graph_has_a_description(make_settings):
    graph = build_definitions(make_settings()).resolve_asset_graph()
    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert len(specs) > 300
    assert [spec.key.to_user_string() for spec in specs if not spec.description] == []
    by_name = {spec.name: spec.description for spec in specs}
    assert by_name["assert_queue_aggregates_match_visits"].startswith("Nothing lost, doubled or moved")
    assert by_name["equals_sum_of_agg_queue_daily_answered__abandoned__timeouts__other_unanswered__open_visits__offered"] == (
        "offered = answered + abandoned + timeouts + other_unanswered + open_visits on every row.")
