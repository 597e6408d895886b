import gc
import weakref

from switchboard.gc_freeze import existing_objects_frozen


class _Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


def test_objects_from_before_are_frozen_for_the_block_only_and_new_garbage_is_still_collected():
    before = _Node()
    with existing_objects_frozen():
        assert gc.get_freeze_count() > 0
        inside = _Node()
        gone = weakref.ref(inside)
        del inside
        gc.collect()
        assert gone() is None  # made inside the block: collected as usual
    assert gc.get_freeze_count() == 0
    kept = weakref.ref(before)
    del before
    gc.collect()
    assert kept() is None  # frozen during the block, collectable again after it


def test_the_objects_are_unfrozen_when_the_block_fails():
    try:
        with existing_objects_frozen():
            raise RuntimeError("load failed")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0


def test_an_inner_block_leaves_the_unfreezing_to_the_outer_one():
    with existing_objects_frozen():
        outer = gc.get_freeze_count()
        with existing_objects_frozen():
            pass
        assert gc.get_freeze_count() >= outer
    assert gc.get_freeze_count() == 0
