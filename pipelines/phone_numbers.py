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
_NO_REGION = {"ZZ", "001"}
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
    valid = phonenumbers.is_valid_number(number)
    country = (phonenumbers.region_code_for_number(number) if valid
               else phonenumbers.region_code_for_country_code(number.country_code))
    country = None if country in _NO_REGION else country  # non-geographic codes have no ISO region
    if number.country_code != home_code:
        # Another country's code is an international call whether or not its range is assigned:
        # unassigned and satellite ranges (+881, +882) are where international revenue share
        # fraud dials.
        return e164, country, "international"
    if not valid:
        return e164, country, "unknown"
    return e164, country, _HOME_TYPES.get(phonenumbers.number_type(number), "unknown")


def classify_numbers(
    values: pl.Series,
    *,
    region: str = DEFAULT_REGION,
    max_extension_digits: int = DEFAULT_MAX_EXTENSION_DIGITS,
) -> pl.DataFrame:
    """One row per input value (same order): e164, country, number_type, as classify_number."""
    values = values.cast(pl.String).alias("_raw")
    lookup = classify_distinct_numbers(values.unique().drop_nulls(), region=region,
                                       max_extension_digits=max_extension_digits)
    return (
        values.to_frame()
        .join(lookup, on="_raw", how="left", maintain_order="left")
        .select(
            pl.col("e164"),
            pl.col("country"),
            pl.col("number_type").fill_null("unknown"),
        )
    )


def classify_distinct_numbers(
    values: pl.Series,
    *,
    region: str = DEFAULT_REGION,
    max_extension_digits: int = DEFAULT_MAX_EXTENSION_DIGITS,
) -> pl.DataFrame:
    """One row per value of `values` (distinct and not null: not checked), named as the series,
    with e164, country and number_type as classify_number gives them, in no particular order.
    For texts that are distinct already (the Asterisk lookup's 2M: no second unique and join
    back, ~0.7 s less than classify_numbers).

    Home numbers written in plain national form (most callers of a domestic contact center) are
    typed with phonenumbers' own patterns for the region as vectorised regexes; every other
    value is parsed one by one.
    """
    uniques = values.cast(pl.String).rechunk().to_frame("_raw")
    fast_types = _national_type_expr(region, max_extension_digits)
    if fast_types is None:
        fast = uniques.clear().with_columns(**{k: pl.lit(None, v) for k, v in CLASSIFICATION_SCHEMA.items()})
        slow = uniques
    else:
        typed = uniques.with_columns(fast_types.alias("number_type"))
        home_code = phonenumbers.country_code_for_region(region)
        fast = typed.filter(pl.col("number_type").is_not_null()).select(
            "_raw",
            pl.concat_str(pl.lit(f"+{home_code}"), pl.col("_raw")).alias("e164"),
            pl.lit(region, pl.String).alias("country"),
            "number_type",
        )
        slow = typed.filter(pl.col("number_type").is_null()).select("_raw")
    mapped = [
        classify_number(v, region=region, max_extension_digits=max_extension_digits)
        for v in slow.get_column("_raw").to_list()
    ]
    parsed = pl.DataFrame(
        {
            "_raw": slow.get_column("_raw"),
            "e164": [m[0] for m in mapped],
            "country": [m[1] for m in mapped],
            "number_type": [m[2] for m in mapped],
        },
        schema={"_raw": pl.String(), **CLASSIFICATION_SCHEMA},
    )
    return pl.concat([fast, parsed]).rename({"_raw": values.name})


@lru_cache(maxsize=16)
def _national_type_expr(region: str, max_extension_digits: int) -> pl.Expr | None:
    """number_type of `_raw` where it is a plain national number of `region`, else null.

    Plain national form: digits only, no national or international prefix (no leading 0), not
    starting with the country code, of a length the region's numbers have and longer than an
    extension. For such text phonenumbers' parse keeps the digits as the national number
    unchanged, so its number_type reduces to its metadata patterns, tested in its order
    (_number_type_helper). Only for a region alone behind its country code, as classify_number's
    home branch. tests/test_webex_phone_numbers.py checks it agrees with classify_number.
    """
    code = phonenumbers.country_code_for_region(region)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or len(COUNTRY_CODE_TO_REGION_CODE.get(code, ())) != 1:
        return None
    text = pl.col("_raw")
    length = text.str.len_bytes()

    def matches(desc) -> pl.Expr:
        if desc is None or desc.national_number_pattern is None:
            return pl.lit(False)
        fits = text.str.contains(f"^(?:{desc.national_number_pattern})$")
        return length.is_in(list(desc.possible_length)) & fits if desc.possible_length else fits

    lengths = [n for n in metadata.general_desc.possible_length if n > max_extension_digits]
    plain = (
        text.str.contains(r"^[1-9][0-9]*$")
        & ~text.str.starts_with(str(code))
        & length.is_in(lengths)
    )
    other_valid = pl.lit(False)
    for desc in (metadata.shared_cost, metadata.voip, metadata.personal_number, metadata.pager,
                 metadata.uan, metadata.voicemail):
        other_valid = other_valid | matches(desc)
    mobile = pl.lit(False) if metadata.same_mobile_and_fixed_line_pattern else matches(metadata.mobile)
    return (
        pl.when(~plain).then(pl.lit(None, pl.String))
        .when(~matches(metadata.general_desc)).then(pl.lit("unknown"))
        .when(matches(metadata.premium_rate)).then(pl.lit("premium_rate"))
        .when(matches(metadata.toll_free)).then(pl.lit("toll_free"))
        .when(other_valid).then(pl.lit("unknown"))
        .when(matches(metadata.fixed_line)).then(pl.lit("fixed_line"))
        .when(mobile).then(pl.lit("mobile"))
        .otherwise(pl.lit("unknown"))
    )


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
