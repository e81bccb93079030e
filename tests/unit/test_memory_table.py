"""``MemoryTable`` (the in-memory views of replays and as-of answers) against a plain model.

Its partitions are an index kept beside the rows: a row put again in another
partition must leave the old one, a row put again in the same one must not be listed
twice, a deleted row must leave its partition. Any sequence of puts and deletes must
leave ``find`` answering what a scan of the rows would (in no particular order).

The views' own tables all hold their partition column in their key, so none of their
rows can move partition; ``MemoryTable`` allows it, and the table here (partitioned
outside its key) holds it to that too.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from handoff_ledger.projections.base import Column, TableSpec
from handoff_ledger.projections.fold import MemoryTable

SPEC = TableSpec(
    name="items",
    columns={"item": Column.TEXT, "owner": Column.TEXT, "n": Column.INT},
    key=("item",),
    partition="owner",
)
"""Keyed by item, partitioned by owner: a row can move from one owner to another."""

ITEMS = st.sampled_from(["a", "b", "c", "d"])
OWNERS = st.sampled_from(["x", "y", "z"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), ITEMS, OWNERS, st.integers(0, 3)),
        st.tuples(st.just("delete"), ITEMS, st.just(""), st.just(0)),
    ),
    max_size=40,
)


@given(OPS)
def test_find_answers_what_a_scan_of_the_rows_would(ops: list[tuple[str, str, str, int]]) -> None:
    table = MemoryTable(SPEC)
    model: dict[str, dict[str, Any]] = {}
    for op, item, owner, n in ops:
        if op == "put":
            row = {"item": item, "owner": owner, "n": n}
            table.put(row)
            model[item] = row
        else:
            table.delete((item,))
            model.pop(item, None)
        for partition in ("x", "y", "z"):
            found = sorted(table.find(partition), key=lambda r: r["item"])
            expected = sorted(
                (r for r in model.values() if r["owner"] == partition), key=lambda r: r["item"]
            )
            assert found == expected, (op, item, owner, partition)
    assert {key[0]: row for key, row in table.rows.items()} == model


def test_a_row_put_again_in_its_partition_is_listed_once_with_its_new_values() -> None:
    table = MemoryTable(SPEC)
    table.put({"item": "a", "owner": "x", "n": 1})
    table.put({"item": "a", "owner": "x", "n": 2})
    assert table.find("x") == [{"item": "a", "owner": "x", "n": 2}]


def test_a_row_moved_to_another_partition_leaves_the_old_one() -> None:
    table = MemoryTable(SPEC)
    table.put({"item": "a", "owner": "x", "n": 1})
    table.put({"item": "a", "owner": "y", "n": 1})
    assert table.find("x") == []
    assert table.find("y") == [{"item": "a", "owner": "y", "n": 1}]
    table.put({"item": "a", "owner": "x", "n": 3})
    assert table.find("x") == [{"item": "a", "owner": "x", "n": 3}]
    assert table.find("y") == []
