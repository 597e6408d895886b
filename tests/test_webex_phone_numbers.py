"""pipelines/phone_numbers.py: one classification of numbers for every platform."""

import polars as pl
import pytest

from pipelines.phone_numbers import (
    NUMBER_TYPES,
    classify_distinct_numbers,
    classify_number,
    classify_numbers,
    with_number_columns,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+576015551234", ("+576015551234", "CO", "fixed_line")),
        ("6015551234", ("+576015551234", "CO", "fixed_line")),
        ("+57 601 555 1234", ("+576015551234", "CO", "fixed_line")),
        ("3001234567", ("+573001234567", "CO", "mobile")),
        ("tel:+573001234567", ("+573001234567", "CO", "mobile")),
        ("018000123456", ("+5718000123456", "CO", "toll_free")),
        ("19001234567", ("+5719001234567", "CO", "premium_rate")),
        ("+12125551234", ("+12125551234", "US", "international")),
        # Colombian international access code with a carrier digit (009 = carrier 9).
        ("00912125551234", ("+12125551234", "US", "international")),
        ("+34912345678", ("+34912345678", "ES", "international")),
        ("1001", (None, "CO", "internal")),
        ("sip:2001@bank.example;user=phone", (None, "CO", "internal")),
        ("123", (None, "CO", "emergency")),
        ("NA", (None, None, "unknown")),
        ("", (None, None, "unknown")),
        (None, (None, None, "unknown")),
        ("anonymous", (None, None, "unknown")),
        ("+4420", (None, None, "unknown")),
        # Possible length but an unassigned Colombian range: E.164 known, type unknown.
        ("9001234567", ("+579001234567", "CO", "unknown")),
        # Another country's code is international even where the range is unassigned (where
        # revenue-share fraud dials); non-geographic codes (+881, +882) have no ISO region.
        ("+67771234", ("+67771234", "SB", "international")),
        ("+88239871234", ("+88239871234", None, "international")),
        ("+881631234567", ("+881631234567", None, "international")),
        ("19471234567", ("+5719471234567", "CO", "premium_rate")),
    ],
)
def test_classify_number(raw, expected):
    assert classify_number(raw) == expected
    assert expected[2] in NUMBER_TYPES


def test_extension_length_and_home_region_are_parameters():
    assert classify_number("1234567")[2] == "unknown"
    assert classify_number("1234567", max_extension_digits=7) == (None, "CO", "internal")
    # The same national digits are international for a bank in Spain.
    assert classify_number("+576015551234", region="ES")[2] == "international"
    assert classify_number("912345678", region="ES") == ("+34912345678", "ES", "fixed_line")


def test_classify_numbers_keeps_order_and_length_and_parses_each_value_once(monkeypatch):
    import pipelines.phone_numbers as module

    calls = []
    real = module.classify_number

    def counting(raw, **kw):
        calls.append(raw)
        return real(raw, **kw)

    monkeypatch.setattr(module, "classify_number", counting)
    values = pl.Series(["3001234567", None, "1001", "3001234567", "+12125551234", "1001"] * 1000)
    out = classify_numbers(values)
    assert out.height == values.len()
    assert out.schema == pl.Schema(
        {"e164": pl.String, "country": pl.String, "number_type": pl.String}
    )
    assert out.row(0) == ("+573001234567", "CO", "mobile")
    assert out.row(1) == (None, None, "unknown")
    assert out.row(2) == (None, "CO", "internal")
    assert out.row(4) == ("+12125551234", "US", "international")
    assert out.row(5997) == out.row(3)
    # each other value parsed once; a plain national number is typed by the vectorised patterns
    assert sorted(calls) == ["+12125551234", "1001"]


def test_distinct_texts_are_classified_as_classify_numbers_does_keyed_by_their_own_column():
    values = pl.Series("number", ["3001234567", "1001", "+12125551234", "6015551234", "n/a", "123", "018000123456"])
    out = classify_distinct_numbers(values)
    assert out.columns == ["number", "e164", "country", "number_type"]
    assert sorted(out.rows()) == sorted(
        (v, *row) for v, row in zip(values, classify_numbers(values).rows(), strict=True))
    assert classify_distinct_numbers(values.clear()).height == 0


def test_vectorised_national_numbers_agree_with_phonenumbers_one_by_one():
    """classify_numbers types plain national numbers with phonenumbers' own patterns as regexes:
    for every shape of digits (every prefix the CO metadata distinguishes, every length around
    the possible ones, leading 0 and 57 that parse differently) it must give classify_number's
    answer."""
    import random

    rng = random.Random(7)
    prefixes = ["", "3", "30", "333301", "3333", "324", "9408", "60", "601", "601055", "6010", "46", "1800",
                "1900", "1947", "1948", "901", "57", "573", "5746", "0", "00", "009", "01", "018000", "5"]
    values = sorted({
        (prefix + "".join(rng.choice("0123456789") for _ in range(12)))[:length]
        for prefix in prefixes for length in range(max(len(prefix), 1), 14) for _ in range(40)
    })
    out = classify_numbers(pl.Series(values))
    classify_number.cache_clear()
    expected = [classify_number(v) for v in values]
    assert [tuple(row) for row in out.rows()] == expected
    kinds = {e[2] for e in expected}
    assert {"mobile", "fixed_line", "toll_free", "premium_rate", "unknown", "internal"} <= kinds


def test_with_number_columns_adds_prefixed_columns_even_when_source_column_is_missing():
    frame = pl.DataFrame({"calling_number": ["6015551234", "2002"], "x": [1, 2]})
    out = with_number_columns(frame, "calling_number")
    assert out.columns == [
        "calling_number",
        "x",
        "calling_number_e164",
        "calling_number_country",
        "calling_number_type",
    ]
    assert out.get_column("calling_number_type").to_list() == ["fixed_line", "internal"]
    missing = with_number_columns(frame, "called_number", prefix="called_number")
    assert missing.get_column("called_number_type").to_list() == ["unknown", "unknown"]
    assert missing.get_column("called_number_e164").dtype == pl.String
    empty = with_number_columns(
        pl.DataFrame(schema={"calling_number": pl.String}), "calling_number"
    )
    assert empty.height == 0 and "calling_number_type" in empty.columns
