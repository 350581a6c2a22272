"""Batches of rotations, the pure part: how many configs one task carries, and a batch
message checked entry by entry (a bad entry is rejected alone, a bad message whole)."""

from __future__ import annotations

import pytest

from rotator.core.batching import (
    MAX_ENTRIES,
    SPREAD,
    STAGGER,
    STAGGER_FROM,
    Entry,
    batch_size,
    chunks,
    parse_entries,
)


@pytest.mark.parametrize(
    ("count", "most", "size"),
    [
        (0, 25, 1),
        (1, 25, 1),
        (SPREAD * 2 - 1, 25, 1),  # fewer than two per task for SPREAD tasks: one per task
        (SPREAD * 2, 25, 2),
        (1000, 25, 15),
        (10_000, 25, 25),  # capped by the setting
        (10_000, 1, 1),  # ROTATOR_BATCH_SIZE=1: batching off
    ],
)
def test_batch_size_keeps_at_least_spread_tasks_and_at_most_the_setting(
    count: int, most: int, size: int
) -> None:
    assert batch_size(count, most=most) == size


def test_chunks_keep_every_item_once_in_order_and_at_least_spread_tasks() -> None:
    items = list(range(1000))
    batches = chunks(items, most=25)
    assert [i for b in batches for i in b] == items
    assert SPREAD <= len(batches) <= SPREAD + 8
    assert max(len(b) for b in batches) <= 25


def test_batches_started_together_have_staggered_sizes_around_the_batch_size() -> None:
    """Sizes cycle over STAGGER eighths of batch_size (15 for 1,000): batches that start at
    once end at different times, so their successors are not all fetched at the same moment."""
    sizes = [len(b) for b in chunks(list(range(1000)), most=25)]
    assert sizes[:9] == [22, 7, 18, 11, 20, 9, 16, 13, 15]
    assert sizes[9:18] == sizes[:9]
    assert sum(STAGGER) == 8 * len(STAGGER)  # the mean is batch_size before rounding down


def test_staggered_sizes_never_pass_the_setting_nor_drop_below_one() -> None:
    sizes = [len(b) for b in chunks(list(range(10_000)), most=25)]
    assert max(sizes) == 25 and min(sizes[:-1]) == 12 and set(sizes[:32]) == {12, 15, 18, 21, 25}
    assert {len(b) for b in chunks(list(range(127)), most=25)} == {1}
    # below STAGGER_FROM, batches stay whole: staggered, half of them would be single tasks
    assert {len(b) for b in chunks(list(range(SPREAD * 2)), most=25)} == {2}
    assert {len(b) for b in chunks(list(range(SPREAD * 3 + 2)), most=25)[:-1]} == {3}
    sizes = [len(b) for b in chunks(list(range(SPREAD * STAGGER_FROM)), most=25)]
    assert sizes[:9] == [6, 2, 5, 3, 5, 2, 4, 3, 4]


def test_few_rotations_are_one_task_each() -> None:
    assert chunks(["a", "b", "c"], most=25) == [["a"], ["b"], ["c"]]
    assert chunks([], most=25) == []


def test_an_entry_round_trips_its_wire_form() -> None:
    entry = Entry("ac_1", True, "resync")
    assert entry.wire() == {"auth_config_id": "ac_1", "force": True, "trigger": "resync"}
    assert parse_entries([entry.wire()]) == ([entry], None)
    assert Entry("ac_2").wire() == {"auth_config_id": "ac_2", "force": False}


def test_a_bad_entry_is_named_alone_and_the_others_stay_usable() -> None:
    entries, problem = parse_entries(
        [{"auth_config_id": "ac_ok"}, "ac_str", {"auth_config_id": "ac_x", "\x1b[2J": 1}]
    )
    assert problem is None
    ok, not_object, unknown = entries
    assert ok == Entry("ac_ok") and ok.problem is None
    assert not_object.problem == "entry 1 must be an object, not str"
    assert unknown.auth_config_id == "ac_x"
    assert unknown.problem == "entry 2 has unknown keys: '\\x1b[2J'"  # escaped, never raw


def test_a_message_that_is_not_a_list_or_too_long_is_refused_whole() -> None:
    assert parse_entries({"auth_config_id": "ac_1"}) == (
        [],
        "entries must be a list, not dict",
    )
    entries, problem = parse_entries([{"auth_config_id": "ac_1"}] * (MAX_ENTRIES + 1))
    assert (
        entries == [] and problem == f"{MAX_ENTRIES + 1} entries exceed the 1000 a batch may carry"
    )
    entries, problem = parse_entries([{"auth_config_id": "ac_1"}] * MAX_ENTRIES)
    assert problem is None and len(entries) == MAX_ENTRIES


def test_missing_force_and_trigger_take_their_defaults() -> None:
    [entry], _ = parse_entries([{"auth_config_id": "ac_1"}])
    assert (entry.force, entry.trigger, entry.problem) == (False, None, None)


class _Message:
    """A delivered message as kombu hands it to the liveness step (headers, decoded body)."""

    def __init__(self, task: str, args: list[object], kwargs: dict[str, object] | None = None):
        self.headers = {"task": task}
        self._body: tuple[list[object], dict[str, object], dict[str, object]]
        self._body = (args, kwargs or {}, {})

    def decode(self) -> tuple[list[object], dict[str, object], dict[str, object]]:
        return self._body


def test_liveness_renews_every_entry_of_a_held_batch_and_skips_what_is_not_a_rotation() -> None:
    """A worker holding a batch keeps the dedupe key of each of its entries alive."""
    from rotator.worker.liveness import held_rotations

    batch = [{"auth_config_id": "ac_1"}, "junk", {"auth_config_id": 7}, {"auth_config_id": "ac_2"}]
    messages = [
        _Message("rotator.rotate", ["ac_0"]),
        _Message("rotator.rotate_batch", [batch]),
        _Message("rotator.rotate_batch", [], {"entries": [{"auth_config_id": "ac_3"}]}),
        _Message("rotator.sweep", []),
        _Message("rotator.rotate_batch", ["not a list"]),
    ]
    assert held_rotations(messages) == ["ac_0", "ac_1", "ac_2", "ac_3"]


def test_unknown_keys_are_named_at_most_five_each_cut_to_40_characters() -> None:
    """A hostile entry cannot flood the dead letter: five keys named, in order, each shown as
    its repr cut to 40 characters."""
    item: dict[str, object] = {"auth_config_id": "ac_1", "k" * 100: 1}
    item.update({f"x{n}": n for n in range(6)})
    [entry], _ = parse_entries([item])
    assert entry.problem == "entry 0 has unknown keys: " + ", ".join(
        ["'" + "k" * 39, "'x0'", "'x1'", "'x2'", "'x3'"]
    )
