import threading

import pytest

from pipelines.background import ahead


def test_items_come_in_order_from_another_thread():
    producers = set()

    def items():
        for i in range(50):
            producers.add(threading.current_thread().name)
            yield i

    assert list(ahead(items(), depth=3, name="producer")) == list(range(50))
    assert producers == {"producer"}


def test_a_producer_error_is_raised_in_its_place():
    def items():
        yield 1
        yield 2
        raise ValueError("chunk 3 is unreadable")

    got = []
    with pytest.raises(ValueError, match="chunk 3 is unreadable"):
        for item in ahead(items(), depth=1, name="producer"):
            got.append(item)
    assert got == [1, 2]


def test_closing_the_consumer_stops_the_producer():
    produced = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    consumer = ahead(items(), depth=2, name="producer")
    assert next(consumer) == 0
    consumer.close()
    # closing joined the producer: it is gone, so nothing more can be produced (no sleep to wait
    # for what would not happen)
    assert not any(t.name == "producer" for t in threading.enumerate())
    assert len(produced) <= 4  # at most depth + the one in hand + the one being put


def test_closing_the_outer_of_two_stages_stops_both_threads():
    """Fetch on one thread, read on another (the Webex pages): stopping early stops both."""
    fetched, cleaned_up = [], []

    def fetch():
        try:
            for i in range(1000):
                fetched.append(i)
                yield i
        finally:
            cleaned_up.append("fetch")

    def read(items):
        for i in items:
            yield i * 10

    consumer = ahead(read(ahead(fetch(), depth=2, name="fetch")), depth=2, name="read")
    assert next(consumer) == 0
    consumer.close()
    assert cleaned_up == ["fetch"]  # the inner stage was closed when the outer one stopped
    # both threads were joined: nothing more is fetched
    assert not any(t.name in ("fetch", "read") for t in threading.enumerate())
