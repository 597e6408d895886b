"""pipelines.csv_bytes: bytes that begin like a compressed stream are read as the text they are."""

from __future__ import annotations

import gzip
import zlib

import polars as pl
import pytest

from pipelines.csv_bytes import COMPRESSED_STARTS, read_csv_bytes

OPTIONS = dict(separator="|", has_header=False, quote_char=None, new_columns=["a", "b"],
               schema={"a": pl.String, "b": pl.String}, truncate_ragged_lines=True, missing_columns="insert", encoding="utf8-lossy")


@pytest.mark.parametrize("start", COMPRESSED_STARTS)
def test_polars_alone_takes_each_start_for_a_compressed_stream(start):
    """Why the module exists: the plain reader fails on these starts (if Polars stops sniffing one,
    this fails and the list can shrink)."""
    with pytest.raises(OSError):
        pl.read_csv(start + b"|x\n1|y\n", **OPTIONS)


@pytest.mark.parametrize("start", COMPRESSED_STARTS)
def test_a_compressed_looking_start_is_read_as_text_with_line_numbers_from_zero(start):
    frame = read_csv_bytes(start + b"|x\n1|y\n", row_index_name="line_no", **OPTIONS)
    assert frame["line_no"].to_list() == [0, 1]
    assert frame["b"].to_list() == ["x", "y"]
    assert frame["a"][1] == "1"


# (gzip's header holds a time: mtime=0 and ids keep the collected tests equal on every worker)
@pytest.mark.parametrize("packed", [gzip.compress(b"1|inner\n", mtime=0), zlib.compress(b"1|inner\n")],
                         ids=["gzip", "zlib"])
def test_a_real_archive_is_read_as_its_bytes_not_unpacked(packed):
    frame = read_csv_bytes(packed + b"\n2|after\n", **OPTIONS)
    assert "inner" not in frame["b"].to_list()
    assert frame.row(-1) == ("2", "after")


def test_other_bytes_are_read_as_polars_reads_them():
    data = b"1|a\n2|b\n"
    assert read_csv_bytes(data, row_index_name="i", **OPTIONS).equals(pl.read_csv(data, row_index_name="i", **OPTIONS))
