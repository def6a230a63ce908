"""Paging's parts without a database: the cursor codec (signed, bound to its query), held
answers and pages cut from them, the audit log read backwards from a byte position, and the
streamed export's encoders read back by independent readers."""

from __future__ import annotations

import asyncio
import io
import json
import random
import threading
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from fusion.api.export import (
    ROW_FIELDS,
    ndjson_chunks,
    one_ahead,
    pair_arrays,
    pair_rows,
    parquet_chunks,
)
from fusion.api.paging import Cursor, decode, encode, query_digest
from fusion.auth.auditfile import lines_backwards, lines_before
from fusion.errors import BadInput, TooComplex
from fusion.services.paging import HeldAnswers, Position, SnapshotGone, page

SECRET = b"s" * 48


def test_a_cursor_decodes_for_its_query_only() -> None:
    query = query_digest("coTravelPage", frozenset({"b", "a"}), window=120, since=None)
    cursor = Cursor(query, "sightings:abc", 1234, "")
    text = encode(SECRET, cursor)
    assert decode(SECRET, text, query) == cursor
    assert query == query_digest("coTravelPage", frozenset({"a", "b"}), since=None, window=120)
    other_scope = query_digest("coTravelPage", frozenset({"a"}), window=120, since=None)
    with pytest.raises(BadInput, match="scope"):
        decode(SECRET, text, other_scope)
    with pytest.raises(BadInput):
        decode(b"t" * 48, text, query)


def test_every_changed_character_of_a_cursor_is_refused() -> None:
    query = query_digest("searchPage", frozenset({"x"}), text="zhang")
    text = encode(SECRET, Cursor(query, "held:00ff", 20))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    assert decode(SECRET, text, query) == Cursor(query, "held:00ff", 20)
    for i, ch in enumerate(text):
        changed = text[:i] + next(c for c in alphabet if c != ch) + text[i + 1:]
        with pytest.raises(BadInput):
            decode(SECRET, changed, query)


@pytest.mark.parametrize("insert", [" ", "!", "\n", "=", "==", "+", "/"])
def test_a_cursor_with_characters_added_anywhere_is_refused(insert: str) -> None:
    """The base64 decoder alone skips what is not in its alphabet and extra padding; a
    cursor is only the exact text the service issued."""
    query = query_digest("searchPage", frozenset({"x"}), text="zhang")
    text = encode(SECRET, Cursor(query, "held:00ff", 20))
    for i in range(len(text) + 1):
        with pytest.raises(BadInput):
            decode(SECRET, text[:i] + insert + text[i:], query)


def test_held_answers_page_exactly_and_drop_the_least_recently_used() -> None:
    held = HeldAnswers(budget=10 * 1024)
    items = list(range(25))
    builds: list[str | None] = []

    async def build(at: str | None):
        builds.append(at)
        if at is not None:
            raise SnapshotGone()
        return "held:1", items

    async def walk(first: int) -> list[int]:
        got, at = [], None
        while True:
            p = await page("k", at, first, build=build, convert=list, held=held)
            got += p.items
            if p.next is None:
                return got
            at = p.next

    for first in (1, 4, 25, 100):
        assert asyncio.run(walk(first)) == items
    assert builds == [None] * 4
    held.put("other", list(range(9)))          # 9 KiB: the 25-item answer (25 KiB) is dropped
    with pytest.raises(SnapshotGone):
        asyncio.run(page("k", Position("held:1", 4), 4, build=build, convert=list, held=held))


def test_a_frame_is_rebuilt_for_its_snapshot_when_not_held() -> None:
    frame = pl.DataFrame({"n": list(range(10))})
    held = HeldAnswers()

    async def build(at: str | None):
        if at not in (None, "v1"):
            raise SnapshotGone()
        return "v1", frame

    p = asyncio.run(page("f", Position("v1", 8), 5, build=build,
                         convert=lambda f: f["n"].to_list(), held=held))
    assert (p.items, p.next) == ([8, 9], None)
    with pytest.raises(SnapshotGone):
        asyncio.run(page("f", Position("v2", 0), 5, build=build, convert=list, held=HeldAnswers()))


def test_concurrent_first_pages_of_a_snapshot_share_one_build() -> None:
    held, builds = HeldAnswers(), []

    async def build(at: str | None):
        builds.append(at)
        await asyncio.sleep(0.05)
        return "v1", list(range(10))

    async def both():
        return await asyncio.gather(*(page("s", None, 3, build=build, convert=list,
                                           current=lambda: "v1", held=held) for _ in range(3)))

    pages = asyncio.run(both())
    assert builds == [None] and [p.items for p in pages] == [[0, 1, 2]] * 3
    assert held.building == {}


def test_a_build_longer_than_the_wait_goes_on_and_answers_the_next_ask() -> None:
    """The first page of a list that takes longer than the query timeout: TOO_COMPLEX, but
    the build is not thrown away: asking again while it runs waits for the same build, and
    once it has landed the answer is held."""
    held, builds = HeldAnswers(), []

    async def build(at: str | None):
        builds.append(at)
        await asyncio.sleep(0.3)
        return "v1", list(range(10))

    def ask(timeout: float):
        return page("slow", None, 4, build=build, convert=list, current=lambda: "v1",
                    held=held, timeout=timeout)

    async def main():
        with pytest.raises(TooComplex, match="still being computed"):
            await ask(0.05)
        with pytest.raises(TooComplex):
            await ask(0.05)                   # still the same build
        second = await ask(5)                 # waits for it
        await asyncio.sleep(0)
        third = await ask(0.01)               # held now
        return second, third

    second, third = asyncio.run(main())
    assert builds == [None]
    assert second.items == third.items == [0, 1, 2, 3] and held.building == {}


def test_a_build_that_fails_after_its_caller_left_is_not_held() -> None:
    held = HeldAnswers()

    async def build(at: str | None):
        await asyncio.sleep(0.1)
        raise SnapshotGone()

    async def main():
        with pytest.raises(TooComplex):
            await page("bad", None, 4, build=build, convert=list, current=lambda: "v1",
                       held=held, timeout=0.01)
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert held.get(("bad", "v1")) is None and held.building == {}


def test_lines_before_a_position_are_the_lines_backwards_with_their_offsets(tmp_path) -> None:
    rng = random.Random(5)
    lines = [("x" * rng.randint(1, 300_000 if i % 50 == 0 else 200)).encode()
             for i in range(400)]
    path = tmp_path / "log"
    path.write_bytes(b"\n".join(lines) + b"\n" + b"torn tail being written")
    found = list(lines_before(path))
    assert [line for _, line in found] == lines[::-1] == list(lines_backwards(path))
    data = path.read_bytes()
    for start, line in found:
        assert data[start:start + len(line)] == line and (start == 0 or data[start - 1] == 10)
    start_of_100th = found[100][0]
    assert list(lines_before(path, start_of_100th)) == found[101:]


def _pairs(n: int) -> pl.DataFrame:
    t0 = datetime(2024, 9, 16, tzinfo=UTC)
    return pl.DataFrame({
        "a_type": ["plate", "phone"] * (n // 2), "a": [f"浙A{i:05d}" for i in range(n)],
        "b_type": ["phone", "plate"] * (n // 2), "b": [f"+86138{i:08d}" for i in range(n)],
        "meetings": list(range(n)), "distinct_sensors": [3] * n,
        "first_at": [t0 + timedelta(seconds=i, microseconds=(0, 5, 120_000, 123_450)[i % 4])
                     for i in range(n)],
        "last_at": [t0 + timedelta(hours=1, seconds=i) for i in range(n)],
        "distinct_days": [1 + i % 5 for i in range(n)],
        "lead_s": [(-12.5, 0.0, 30.0)[i % 3] for i in range(n)],
        "a_reads": [10 + i for i in range(n)], "b_reads": [20 + 2 * i for i in range(n)],
        "expected_meetings": [1 / (i + 3) for i in range(n)],
        "significance": [i / 7 for i in range(n)],
    }).with_columns(pl.col("first_at", "last_at").cast(pl.Datetime("us", "UTC")))


def _expected(frame: pl.DataFrame) -> list[dict]:
    """The pairs as the API shows them, row by row in Python (the oracle of the encoders)."""
    kinds = {"plate": "VEHICLE", "phone": "PHONE"}
    out = []
    for r in frame.iter_rows(named=True):
        a = {"kind": kinds[r["a_type"]], "key": r["a"]}
        b = {"kind": kinds[r["b_type"]], "key": r["b"]}
        out.append({"a": a, "b": b, "meetings": r["meetings"],
                    "distinctSensors": r["distinct_sensors"],
                    "firstAt": r["first_at"].isoformat(), "lastAt": r["last_at"].isoformat(),
                    "significance": r["significance"],
                    "expectedMeetings": r["expected_meetings"],
                    "distinctDays": r["distinct_days"],
                    "leader": a if r["lead_s"] > 0 else b if r["lead_s"] < 0 else None,
                    "medianLeadSeconds": r["lead_s"], "aReads": r["a_reads"],
                    "bReads": r["b_reads"]})
    return out


def _array(e: dict) -> list:
    side = None if e["leader"] is None else "a" if e["leader"] == e["a"] else "b"
    return [e["a"]["kind"], e["a"]["key"], e["b"]["kind"], e["b"]["key"], e["meetings"],
            e["distinctSensors"], e["firstAt"], e["lastAt"], e["significance"],
            e["expectedMeetings"], e["distinctDays"], side, e["medianLeadSeconds"],
            e["aReads"], e["bReads"]]


def test_ndjson_chunks_read_back_as_the_api_shows_pairs() -> None:
    frame = _pairs(1000)
    chunks = list(ndjson_chunks(pair_rows(frame, text_times=True), chunk=300))
    assert [n for n, _ in chunks] == [300, 600, 900, 1000]
    text = b"".join(c for _, c in chunks).decode()
    assert [json.loads(line) for line in text.splitlines()] == _expected(frame)
    assert [list(r) for r in pair_arrays(frame)] == [_array(e) for e in _expected(frame)]
    assert len(ROW_FIELDS) == len(_array(_expected(frame)[0]))


def test_parquet_chunks_make_one_file_of_row_groups() -> None:
    import pyarrow.parquet as pq

    frame = _pairs(1000)
    chunks = list(parquet_chunks(frame, chunk=300, shape=pair_rows))
    data = b"".join(c for _, c in chunks)
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups == 4
    back = pl.read_parquet(io.BytesIO(data)).to_dicts()
    iso = [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()}
           for r in back]
    assert iso == _expected(frame)
    assert [n for n, _ in chunks] == [300, 600, 900, 1000, 1000]
    empty = b"".join(c for _, c in parquet_chunks(pair_rows(frame.head(0))))
    assert pl.read_parquet(io.BytesIO(empty)).height == 0


def test_one_ahead_keeps_order_and_makes_the_next_chunk_while_one_is_used() -> None:
    made = [threading.Event() for _ in range(4)]

    def chunks():
        for i in range(4):
            made[i].set()
            yield i

    async def consume() -> list[int]:
        got = []
        async for i in one_ahead(chunks()):
            if i < 3:  # the next chunk is made while this one is in use
                assert await asyncio.to_thread(made[i + 1].wait, 10)
            got.append(i)
        return got

    assert asyncio.run(consume()) == [0, 1, 2, 3]

    async def leave_early() -> list[int]:
        got = []
        async for i in one_ahead(chunks()):
            got.append(i)
            break
        return got

    assert asyncio.run(leave_early()) == [0]
