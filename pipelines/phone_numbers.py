"""Classify phone numbers as they appear in call records — pure, vectorised over unique values.

Call records repeat the same few thousand numbers millions of times, so each distinct raw value
is parsed once with `phonenumbers` (default region: the bank's country, Colombia) and the result
is joined back onto the column.

`number_type` values (one vocabulary for every platform):
  internal      a short extension (digits only, at most `max_extension_digits`), not an emergency code
  emergency     a short number that is an emergency code of the home region (123, 112, …)
  fixed_line    a home-country geographic number
  mobile        a home-country mobile number
  toll_free     a home-country toll-free number (01 8000 …)
  premium_rate  a home-country premium-rate number
  international a valid number of another country
  unknown       anything else: empty, letters, invalid or unassigned ranges, other home services
`e164` is set for every number `phonenumbers` finds possible (even when not valid for a range),
`country` is the ISO 3166 region of the number (home region for extensions).
Results are cached per process: a contact center's numbers repeat across batches and runs.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import polars as pl
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType, shortnumberinfo

DEFAULT_REGION = "CO"
DEFAULT_MAX_EXTENSION_DIGITS = 6

NUMBER_TYPES = (
    "internal",
    "emergency",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "international",
    "unknown",
)
CLASSIFICATION_SCHEMA: dict[str, pl.DataType] = {
    "e164": pl.String(),
    "country": pl.String(),
    "number_type": pl.String(),
}

_HOME_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    # A home-country number the metadata cannot split (none in CO; e.g. the NANP) counts as fixed.
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
}
# URI wrappers and dial-string noise seen in CDR number fields: "tel:+57…", "sip:1001@host;user=phone".
_URI_PREFIX = re.compile(r"^(?:tel|sips?):", re.IGNORECASE)
_DIAL_NOISE = re.compile(r"[\s\-().]")
_EMPTY = {"", "na", "n/a", "null", "none", "unknown", "anonymous", "restricted", "private"}


@lru_cache(maxsize=1_000_000)
def classify_number(
    raw: str | None,
    *,
    region: str = DEFAULT_REGION,
    max_extension_digits: int = DEFAULT_MAX_EXTENSION_DIGITS,
) -> tuple[str | None, str | None, str]:
    """(e164, country, number_type) of one raw number as written in a call record."""
    if raw is None:
        return None, None, "unknown"
    text = _URI_PREFIX.sub("", raw.strip())
    text = text.split("@", 1)[0].split(";", 1)[0]
    text = _DIAL_NOISE.sub("", text)
    if text.lower() in _EMPTY:
        return None, None, "unknown"
    if text.isdigit() and len(text) <= max_extension_digits:
        if shortnumberinfo.is_emergency_number(text, region):
            return None, region, "emergency"
        return None, region, "internal"
    if not re.fullmatch(r"\+?\d+", text):
        return None, None, "unknown"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, None, "unknown"
    if not phonenumbers.is_possible_number(number):
        return None, None, "unknown"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    home_code = phonenumbers.country_code_for_region(region)
    if number.country_code == home_code and len(COUNTRY_CODE_TO_REGION_CODE.get(home_code, ())) == 1:
        # One region behind the home country code (CO): number_type alone decides validity,
        # a third of the work of is_valid_number + region_code_for_number + number_type.
        kind = phonenumbers.number_type(number)
        return e164, region, "unknown" if kind == PhoneNumberType.UNKNOWN else _HOME_TYPES.get(kind, "unknown")
    if not phonenumbers.is_valid_number(number):
        country = phonenumbers.region_code_for_country_code(number.country_code)
        return e164, (None if country == "ZZ" else country), "unknown"
    country = phonenumbers.region_code_for_number(number)
    if number.country_code != home_code:
        return e164, country, "international"
    return e164, country, _HOME_TYPES.get(phonenumbers.number_type(number), "unknown")


def classify_numbers(
    values: pl.Series,
    *,
    region: str = DEFAULT_REGION,
    max_extension_digits: int = DEFAULT_MAX_EXTENSION_DIGITS,
) -> pl.DataFrame:
    """One row per input value (same order): e164, country, number_type."""
    values = values.cast(pl.String)
    uniques = values.unique().drop_nulls().to_list()
    mapped = [
        classify_number(v, region=region, max_extension_digits=max_extension_digits)
        for v in uniques
    ]
    lookup = pl.DataFrame(
        {
            "_raw": uniques,
            "e164": [m[0] for m in mapped],
            "country": [m[1] for m in mapped],
            "number_type": [m[2] for m in mapped],
        },
        schema={"_raw": pl.String(), **CLASSIFICATION_SCHEMA},
    )
    out = (
        pl.DataFrame({"_raw": values})
        .join(lookup, on="_raw", how="left", maintain_order="left")
        .select(
            pl.col("e164"),
            pl.col("country"),
            pl.col("number_type").fill_null("unknown"),
        )
    )
    return out


def with_number_columns(
    frame: pl.DataFrame,
    column: str,
    *,
    prefix: str | None = None,
    region: str = DEFAULT_REGION,
    max_extension_digits: int = DEFAULT_MAX_EXTENSION_DIGITS,
) -> pl.DataFrame:
    """`frame` plus `<prefix>_e164`, `<prefix>_country`, `<prefix>_type` classifying `column`."""
    prefix = prefix or column
    if column in frame.columns:
        source = frame.get_column(column)
    else:
        source = pl.Series(column, [None] * frame.height, dtype=pl.String)
    classified = classify_numbers(source, region=region, max_extension_digits=max_extension_digits)
    return frame.with_columns(
        classified.get_column("e164").alias(f"{prefix}_e164"),
        classified.get_column("country").alias(f"{prefix}_country"),
        classified.get_column("number_type").alias(f"{prefix}_type"),
    )
