"""Co-travel significance (algorithms.significance) against a per-sighting oracle, and its
properties: symmetric, rising with meetings at equal expectation, falling as a subject's own
habits make the meetings likelier, and computed only from the sightings in scope."""

from __future__ import annotations

import doctest
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algorithms import significance
from algorithms.cotravel import co_travel_pairs
from algorithms.significance import poisson_significance, score_pairs

T0 = datetime(2024, 5, 6, 7, 30, tzinfo=UTC)  # a Monday
SCHEMA = {"subject_type": pl.String, "subject": pl.String, "sensor_id": pl.String,
          "seen_at": pl.Datetime("us", "UTC")}
SUBJECTS = [("plate", "A1"), ("plate", "B2"), ("phone", "C3"), ("phone", "D4"), ("plate", "E5")]


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def random_sightings(seed: int, n: int = 150, days: int = 10) -> pl.DataFrame:
    """Sightings on a few sensors at a few times of day over ``days`` days, so that subjects
    share cells, meet by chance and repeat habits."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        kind, key = rng.choice(SUBJECTS)
        at = T0 + timedelta(days=rng.randrange(days), minutes=rng.choice([0, 3, 8, 20, 240]),
                            seconds=rng.randrange(0, 200))
        rows.append((kind, key, f"S{rng.randrange(4)}", at))
    return frame(rows)


# ---------------------------------------------------------------------------------------------
# Independent oracles


def oracle_tail(k: int, mu: float) -> float:
    """-log10 P(X >= k), X ~ Poisson(mu), by summing the pmf term by term in logarithms."""
    if k <= 0:
        return 0.0
    logs = [j * math.log(mu) - mu - math.lgamma(j + 1) for j in range(k, k + 2000)]
    top = max(logs)
    upper = top + math.log(sum(math.exp(v - top) for v in logs))
    if upper > math.log(0.5):  # not in the far tail: one minus the lower tail is exact enough
        lower = sum(math.exp(j * math.log(mu) - mu - math.lgamma(j + 1)) for j in range(k))
        return -math.log10(1 - lower)
    return -upper / math.log(10)


def oracle_expected(sightings: pl.DataFrame, a: tuple, b: tuple, window: float) -> float:
    """The module docstring's model, one sighting at a time, in plain Python."""
    slot_s, smooth, k = significance.SLOT_S, significance.SMOOTH_SLOTS, significance.PRIOR_SIGHTINGS
    slots = 86_400 // slot_s
    rows = [(t, s, sensor, at) for t, s, sensor, at in sightings.iter_rows()]

    def cell(at: datetime) -> tuple[bool, int]:
        return at.weekday() >= 5, (at.hour * 3600 + at.minute * 60) // slot_s

    def near(c1: tuple, c2: tuple) -> bool:
        gap = (c1[1] - c2[1]) % slots
        return c1[0] == c2[0] and min(gap, slots - gap) <= smooth

    days = [at.date() for *_, at in rows]
    first, last = min(days), max(days)
    span = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    n_days = {True: sum(d.weekday() >= 5 for d in span), False: sum(d.weekday() < 5 for d in span)}

    def one_way(x: tuple, y: tuple) -> float:
        mine = [(sensor, cell(at)) for t, s, sensor, at in rows if (t, s) == x]
        theirs = [(sensor, cell(at)) for t, s, sensor, at in rows if (t, s) == y]
        total = len(theirs)
        out = 0.0
        for sensor, c in mine:
            exposure = n_days[c[0]] * (2 * smooth + 1) * slot_s
            busy = sum(1 for _, _, s2, at in rows if s2 == sensor and near(cell(at), c))
            share = busy / len(rows)
            own = sum(1 for s2, c2 in theirs if s2 == sensor and near(c2, c))
            rate = total * (own + k * share) / (total + k) / exposure
            out += -math.expm1(-2 * window * rate) if own else 2 * window * rate
        return out

    return max(one_way(a, b), one_way(b, a))


def pairs_frame(pairs: list[tuple], meetings: list[int]) -> pl.DataFrame:
    return pl.DataFrame([(*a, *b, m) for (a, b), m in zip(pairs, meetings, strict=True)],
                        schema={"a_type": pl.String, "a": pl.String, "b_type": pl.String,
                                "b": pl.String, "meetings": pl.Int64}, orient="row")


# ---------------------------------------------------------------------------------------------
# Against the oracles


@pytest.mark.parametrize(("k", "mu"), [(1, 2.0), (3, 0.1), (5, 0.3), (10, 12.5), (40, 30.0),
                                       (50, 0.1), (200, 150.0), (0, 3.0), (2, 1e-6)])
def test_poisson_tail_equals_a_term_by_term_sum(k: int, mu: float) -> None:
    ours = poisson_significance(np.array([k]), np.array([mu]))[0]
    assert ours == pytest.approx(oracle_tail(k, mu), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_expected_meetings_equal_the_per_sighting_model(seed: int) -> None:
    sightings = random_sightings(seed)
    pairs = [(a, b) for i, a in enumerate(SUBJECTS) for b in SUBJECTS[i + 1:]]
    scored = score_pairs(sightings, pairs_frame(pairs, [3] * len(pairs)), 120)
    for (a, b), got in zip(pairs, scored["expected_meetings"], strict=True):
        assert got == pytest.approx(oracle_expected(sightings, a, b, 120), rel=1e-9)
    reads = {(t, s): n for t, s, n in sightings.group_by("subject_type", "subject").len()
             .iter_rows()}
    assert scored["a_reads"].to_list() == [reads.get(a, 0) for a, _ in pairs]
    assert scored["b_reads"].to_list() == [reads.get(b, 0) for _, b in pairs]


# ---------------------------------------------------------------------------------------------
# Properties


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), meetings=st.integers(1, 40))
def test_significance_is_symmetric(seed: int, meetings: int) -> None:
    sightings = random_sightings(seed)
    a, b = SUBJECTS[0], SUBJECTS[1]
    ab = score_pairs(sightings, pairs_frame([(a, b)], [meetings]))
    ba = score_pairs(sightings, pairs_frame([(b, a)], [meetings]))
    assert ab["expected_meetings"][0] == pytest.approx(ba["expected_meetings"][0], rel=1e-12)
    assert ab["significance"][0] == pytest.approx(ba["significance"][0], rel=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), meetings=st.integers(1, 60))
def test_significance_rises_with_meetings_at_equal_expectation(seed: int, meetings: int) -> None:
    sightings = random_sightings(seed)
    a, b = SUBJECTS[0], SUBJECTS[2]
    scored = score_pairs(sightings, pairs_frame([(a, b), (a, b)], [meetings, meetings + 1]))
    assert scored["expected_meetings"][0] == scored["expected_meetings"][1]
    assert scored["significance"][1] > scored["significance"][0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), habit=st.integers(1, 15))
def test_significance_falls_as_own_habits_make_meetings_likelier(seed: int, habit: int) -> None:
    """b passing a's sensors at a's times of day on other days of the period makes the same
    meetings less surprising."""
    sightings = random_sightings(seed, days=8)
    a, b = SUBJECTS[0], SUBJECTS[1]
    mine = sightings.filter((pl.col("subject_type") == a[0]) & (pl.col("subject") == a[1]))
    first, last = sightings["seen_at"].min(), sightings["seen_at"].max()
    rng = random.Random(seed)
    extra = []
    for _, _, sensor, at in mine.head(habit).iter_rows():
        other_day = at + timedelta(days=1, seconds=rng.randrange(-60, 60))
        if other_day.date() > last.date():
            other_day -= timedelta(days=2)
        if first.date() <= other_day.date():
            extra.append((*b, sensor, other_day))
    before = score_pairs(sightings, pairs_frame([(a, b)], [5]))
    after = score_pairs(pl.concat([sightings, frame(extra)]), pairs_frame([(a, b)], [5]))
    if not extra:
        return
    assert after["expected_meetings"][0] > before["expected_meetings"][0]
    assert after["significance"][0] < before["significance"][0]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), cut=st.integers(2, 8))
def test_a_time_range_scores_like_the_ranges_sightings_alone(seed: int, cut: int) -> None:
    sightings = random_sightings(seed, n=250)
    until = T0 + timedelta(days=cut)
    ranged = co_travel_pairs(sightings, 600, 1, 1, until=until)
    alone = co_travel_pairs(sightings.filter(pl.col("seen_at") <= until), 600, 1, 1)
    assert ranged.equals(alone)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_one_subjects_scores_are_its_rows_of_all_pairs(seed: int) -> None:
    """The null model of a one-subject query reads every sighting in scope, not only those
    near the subject's."""
    sightings = random_sightings(seed, n=250)
    everything = co_travel_pairs(sightings, 600, 1, 1)
    for subject in SUBJECTS:
        mine = co_travel_pairs(sightings, 600, 1, 1, subject=subject)
        for row in mine.iter_rows(named=True):
            b = (row["b_type"], row["b"])
            lo, hi = sorted([subject, b])
            same = everything.filter((pl.col("a_type") == lo[0]) & (pl.col("a") == lo[1])
                                     & (pl.col("b_type") == hi[0]) & (pl.col("b") == hi[1]))
            flip = subject != lo
            assert row["significance"] == pytest.approx(same["significance"][0], rel=1e-12)
            assert row["lead_s"] == pytest.approx(-same["lead_s"][0] if flip else same["lead_s"][0])
            assert (row["a_reads"], row["b_reads"]) == ((same["b_reads"][0], same["a_reads"][0])
                                                        if flip else (same["a_reads"][0],
                                                                      same["b_reads"][0]))


def test_min_significance_filters_after_the_definitions_gate() -> None:
    sightings = random_sightings(3, n=300)
    everything = co_travel_pairs(sightings, 600, 1, 1)
    threshold = float(everything["significance"].median())
    kept = co_travel_pairs(sightings, 600, 1, 1, min_significance=threshold)
    assert kept.equals(everything.filter(pl.col("significance") >= threshold))
    assert 0 < kept.height < everything.height
    with pytest.raises(ValueError, match="min_significance"):
        co_travel_pairs(sightings, 600, 1, 1, min_significance=-1)


def test_pairs_are_ordered_by_significance() -> None:
    pairs = co_travel_pairs(random_sightings(5, n=300), 600, 1, 1)
    assert pairs.height > 3
    assert pairs["significance"].to_list() == sorted(pairs["significance"], reverse=True)


def test_a_convoy_outscores_commuters_who_meet_as_often() -> None:
    """Two commuters pass the same three sensors every working morning around 8:00 and meet
    by chance; a convoy meets as often on two trips at unusual times."""
    rng = random.Random(1)
    rows = []
    for day in range(20):
        if (T0 + timedelta(days=day)).weekday() >= 5:
            continue
        for who in ("C1", "C2"):
            start = T0 + timedelta(days=day, minutes=30 + rng.randrange(-4, 5))
            rows += [("plate", who, f"S{k}", start + timedelta(minutes=5 * k)) for k in range(3)]
    for day, hour in [(2, 14), (9, 22)]:
        start = T0.replace(hour=hour) + timedelta(days=day)
        for who, lag in (("V1", 0), ("V2", 20)):
            rows += [("plate", who, f"S{k}", start + timedelta(minutes=5 * k, seconds=lag))
                     for k in range(3)]
    pairs = co_travel_pairs(frame(rows), 120, 3, 3)
    by_pair = {(r["a"], r["b"]): r for r in pairs.iter_rows(named=True)}
    convoy, commuters = by_pair[("V1", "V2")], by_pair[("C1", "C2")]
    assert commuters["meetings"] >= convoy["meetings"]
    assert convoy["significance"] > 3 > commuters["significance"]
    assert convoy["distinct_days"] == 2 and convoy["lead_s"] == 20


def test_docstring_examples_run() -> None:
    assert doctest.testmod(significance, raise_on_error=False).failed == 0


def test_pairs_scored_in_chunks_score_as_at_once(monkeypatch) -> None:
    sightings = random_sightings(11, n=300)
    whole = co_travel_pairs(sightings, 600, 1, 1)
    monkeypatch.setattr(significance, "PAIR_CHUNK", 2)
    chunked = co_travel_pairs(sightings, 600, 1, 1)
    assert whole.height > 4
    assert chunked["significance"].to_list() == pytest.approx(whole["significance"].to_list())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), split=st.integers(1, 4))
def test_scores_from_aggregates_equal_the_scores_from_sightings(seed: int, split: int) -> None:
    """score_habits over habits counted in parts (as another engine would count them, a key
    repeated once per part) gives score_coded's numbers."""
    sightings = random_sightings(seed)
    codes = sightings.with_columns(
        pl.col("subject").rank("dense").cast(pl.Int64).alias("u") - 1,
        pl.col("sensor_id").rank("dense").cast(pl.Int64).alias("s") - 1,
        pl.col("seen_at").dt.epoch("us").alias("t"))
    u, s, t = (codes[c].to_numpy() for c in ("u", "s", "t"))
    pairs = np.array([(x, y) for x in range(u.max() + 1) for y in range(x + 1, u.max() + 1)])
    if len(pairs) == 0:
        return
    meetings = np.arange(len(pairs)) % 4 + 1
    want = significance.score_coded(u, s, t, pairs[:, 0], pairs[:, 1], meetings)
    c = significance.cell_of(t)
    part = np.arange(len(u)) % split
    counted = (pl.DataFrame({"u": u, "s": s, "c": c, "part": part})
               .group_by("u", "s", "c", "part").len())
    habits = tuple(counted[k].to_numpy() for k in ("u", "s", "c", "len"))
    traffic = np.bincount(s * significance.CELLS + c,
                          minlength=(s.max() + 1) * significance.CELLS)
    day = t // (86_400 * 10**6)
    period = tuple((datetime(1970, 1, 1) + timedelta(days=int(d))).date()
                   for d in (day.min(), day.max()))
    got = significance.score_habits(habits, traffic.reshape(-1, significance.CELLS), period,
                                    float(len(t)), pairs[:, 0], pairs[:, 1], meetings)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# The fast path's edge cases against the per-sighting oracle

FRIDAY = datetime(2024, 5, 10, tzinfo=UTC)
# Sensors whose codes fall in different 64-sensor words once the filler's sensors are coded.
SHARED = ["F000", "F001", "F063", "F064", "F127", "F128", "F149"]
FILLER = ("phone", "F")  # passes every sensor once: codes span three words; pairs with all
CLOCK = [timedelta(hours=23, minutes=54), timedelta(hours=23, minutes=57, seconds=30),
         timedelta(hours=23, minutes=59, seconds=50), timedelta(seconds=20),
         timedelta(minutes=4), timedelta(minutes=6, seconds=10), timedelta(hours=8),
         timedelta(hours=8, minutes=5)]


@st.composite
def edge_sightings(draw: st.DrawFn) -> tuple[pl.DataFrame, list[tuple]]:
    """Times around midnight (the slot wrap) on days around the weekend (the day-type
    boundaries), sensors spread over several bitmap words, visits of one cell or many,
    subjects that share no sensor with anyone, one subject in every pair."""
    subjects = [("plate", f"P{i}") for i in range(draw(st.integers(2, 5)))]
    rows = [(*FILLER, f"F{k:03d}", FRIDAY + timedelta(days=k % 4, minutes=7 * k))
            for k in range(150)]
    for i, subject in enumerate(subjects):
        alone = draw(st.booleans()) and i == 0  # only sensors of its own
        for _ in range(draw(st.integers(1, 14))):
            sensor = f"X{i}" if alone else draw(st.sampled_from(SHARED))
            at = (FRIDAY + timedelta(days=draw(st.integers(-1, 4)))
                  + draw(st.sampled_from(CLOCK)) + timedelta(seconds=draw(st.integers(0, 90))))
            rows.append((*subject, sensor, at))
    everyone = [*subjects, FILLER]
    pairs = [(x, y) for k, x in enumerate(everyone) for y in everyone[k + 1:]]
    return frame(rows), pairs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=edge_sightings())
def test_expected_meetings_equal_the_oracle_on_the_fast_paths_edge_cases(drawn) -> None:
    sightings, pairs = drawn
    scored = score_pairs(sightings, pairs_frame(pairs, [2] * len(pairs)), 120)
    flipped = score_pairs(sightings, pairs_frame([(b, a) for a, b in pairs], [2] * len(pairs)),
                          120)
    for (a, b), got, back in zip(pairs, scored["expected_meetings"],
                                 flipped["expected_meetings"], strict=True):
        assert got == pytest.approx(oracle_expected(sightings, a, b, 120), rel=1e-9)
        assert back == pytest.approx(got, rel=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=edge_sightings())
def test_words_found_by_binary_search_score_as_by_table(drawn) -> None:
    """Beyond ``_WORD_TABLE`` subjects x words, a subject's sensor words are found by binary
    search: the same scores."""
    sightings, pairs = drawn
    by_table = score_pairs(sightings, pairs_frame(pairs, [2] * len(pairs)), 120)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(significance, "_WORD_TABLE", 0)
        by_search = score_pairs(sightings, pairs_frame(pairs, [2] * len(pairs)), 120)
    assert by_search["expected_meetings"].to_list() == pytest.approx(
        by_table["expected_meetings"].to_list(), rel=1e-12)
    for (a, b), got in zip(pairs, by_search["expected_meetings"], strict=True):
        assert got == pytest.approx(oracle_expected(sightings, a, b, 120), rel=1e-9)


def test_a_word_missing_from_the_other_subject_shares_no_sensor(monkeypatch) -> None:
    """B passes F001 (word 0) and A F065 (word 1, the same bit) at the same times: a binary
    search for A's word 0 lands on its word 1, which must not count as shared."""
    rows = [(*FILLER, f"F{k:03d}", FRIDAY + timedelta(minutes=7 * k)) for k in range(150)]
    for day in range(5):
        at = T0 + timedelta(days=day)
        rows += [("plate", "B", "F001", at), ("plate", "A", "F065", at + timedelta(seconds=30))]
    pairs = [(("plate", "B"), ("plate", "A"))]
    monkeypatch.setattr(significance, "_WORD_TABLE", 0)
    scored = score_pairs(frame(rows), pairs_frame(pairs, [3]), 120)
    want = oracle_expected(frame(rows), *pairs[0], 120)
    assert scored["expected_meetings"][0] == pytest.approx(want, rel=1e-9)


def test_too_many_subjects_and_sensors_for_the_keys_is_a_clear_error() -> None:
    habits = (np.array([2**50]), np.array([0]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="too many subjects"):
        significance.score_habits(habits, np.zeros((1, significance.CELLS)),
                                  (T0.date(), T0.date()), 1.0, np.array([2**50]),
                                  np.array([0]), np.array([1]))
