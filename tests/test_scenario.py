"""`fusion generate`: the scenario's own invariants, checked by an independent reading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from fusion.commands.generate import generate
from fusion.scenario.generate import generate_scenario
from fusion.scenario.regions import period_for_seed
from loaders.normalize import normalize_id_no, normalize_phone, normalize_plate
from tests.scenario_check import read_rows, replay

CANONICAL_COLUMNS = {
    "persons": {"id_no", "name", "phone", "plate", "address"},
    "cases": {"case_id", "case_type", "reported_at", "id_no", "name", "phone", "role",
              "location", "lat", "lon", "summary"},
    "calls": {"caller", "callee", "start_time", "duration_s", "call_type", "cell_id", "imei"},
    "waybills": {"waybill_no", "carrier", "sender_name", "receiver_name", "sender_phone",
                 "receiver_phone", "sender_address", "receiver_address", "shipped_at",
                 "delivered_at", "item", "declared_value", "weight_kg"},
    "sightings": {"subject_type", "subject", "sensor_id", "seen_at", "lat", "lon",
                  "speed_kmh", "direction"},
}


@pytest.fixture(scope="module")
def truth(scenario_dir: Path) -> dict:
    return json.loads((scenario_dir / "truth.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def replayed(scenario_dir: Path):
    return replay(scenario_dir)


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path):
    generate_scenario(tmp_path / "a", regions=4, scale=0.02, seed=11)
    generate_scenario(tmp_path / "b", regions=4, scale=0.02, seed=11)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a == b
    assert len(a) == 4 * 5 + 5 + 1  # five sources per region, five GBK profiles, truth
    regions = json.loads((tmp_path / "a" / "truth.json").read_text("utf-8"))["regions"]
    assert [r["dialect"] for r in regions] == ["canonical", "gbk", "columnar", "canonical"]


def test_reference_date_comes_from_the_seed_not_the_clock(truth: dict):
    other = period_for_seed(8).reference
    assert truth["generated_at_reference"] == period_for_seed(7).reference != other
    assert truth["seed"] == 7 and truth["scale"] == 0.05


def test_layout_and_dialects(scenario_dir: Path, truth: dict):
    dialects = {r["code"]: r["dialect"] for r in truth["regions"]}
    assert dialects == {"330100": "canonical", "440300": "gbk", "510100": "columnar"}
    files = {e["file"] for e in truth["load_order"]}
    assert {"330100/calls.csv", "440300/calls.csv", "510100/calls.parquet",
            "510100/sightings.jsonl.gz", "330100/sightings.csv.gz"} <= files
    assert all((scenario_dir / f).is_file() for f in files)
    kinds = [e["kind"] for e in truth["load_order"]]
    assert kinds == sorted(kinds, key=["persons", "cases", "calls", "waybills",
                                       "sightings"].index)


def test_gbk_files_decode_and_profiles_map_every_chinese_header(scenario_dir: Path,
                                                                truth: dict):
    for entry in (e for e in truth["load_order"] if e["region"] == "440300"):
        profile = yaml.safe_load((scenario_dir / entry["profile"]).read_text("utf-8"))
        assert profile["source"] == entry["kind"] and profile["encoding"] == "gbk"
        header = (scenario_dir / entry["file"]).read_bytes().decode("gbk").splitlines()[0]
        columns = header.split(",")
        mapped = {c for c in columns if c in profile["columns"]}
        unmapped = set(columns) - mapped
        assert all(not c.isascii() for c in columns)
        assert set(profile["columns"].values()) <= CANONICAL_COLUMNS[entry["kind"]]
        assert unmapped <= {"运营商", "车道编号"}
        with pytest.raises(UnicodeDecodeError):
            (scenario_dir / entry["file"]).read_bytes().decode("utf-8")


def test_some_files_carry_unmapped_extra_columns(scenario_dir: Path, truth: dict):
    extras = set()
    for entry in truth["load_order"]:
        rows, _ = read_rows(scenario_dir, entry)
        extras |= set(rows[0]) - CANONICAL_COLUMNS[entry["kind"]]
    assert {"operator", "运营商", "车道编号", "route_code"} <= extras


def test_accounting_in_truth_matches_an_independent_load(truth: dict, replayed):
    for entry, account in zip(truth["load_order"], replayed.accounts, strict=True):
        expected = {k: entry[k] for k in ("read", "loaded", "duplicates",
                                          "quarantined_by_reason")}
        assert account == expected, entry["file"]
        assert entry["read"] == entry["loaded"] + entry["duplicates"] + entry["quarantined"]


def test_expected_nodes_match_an_independent_load(truth: dict, replayed):
    assert truth["expected_nodes"] == {k: len(v) for k, v in replayed.nodes.items()}


def test_every_bad_row_fails_for_exactly_one_reason(replayed):
    assert replayed.bad_rows
    assert [(f, r.reasons) for f, r in replayed.bad_rows if len(r.reasons) != 1] == []


def test_every_applicable_reason_is_planted_in_each_source(truth: dict):
    by_kind: dict[str, set] = {}
    for entry in truth["load_order"]:
        by_kind.setdefault(entry["kind"], set()).update(entry["quarantined_by_reason"])
    assert by_kind["sightings"] == {"MISSING_FIELD", "BAD_PLATE", "BAD_PHONE",
                                    "BAD_TIMESTAMP", "BAD_COORDINATE", "UNKNOWN_VALUE"}
    assert by_kind["calls"] == {"MISSING_FIELD", "BAD_PHONE", "BAD_TIMESTAMP", "BAD_NUMBER",
                                "UNKNOWN_VALUE"}
    assert by_kind["cases"] >= {"BAD_ID_NO", "BAD_PHONE", "UNKNOWN_VALUE", "MISSING_FIELD"}
    assert by_kind["persons"] == {"BAD_ID_NO", "MISSING_FIELD"}


def test_raw_identifiers_come_in_every_accepted_spelling(scenario_dir: Path, truth: dict):
    raw = {"phone": set(), "plate": set(), "id": set()}
    for entry in truth["load_order"]:
        rows, _ = read_rows(scenario_dir, entry)
        for row in rows:
            for col in ("phone", "caller", "callee", "sender_phone", "receiver_phone"):
                if row.get(col):
                    raw["phone"].add(str(row[col]))
            if row.get("plate"):
                raw["plate"].add(row["plate"])
            if row.get("id_no"):
                raw["id"].add(row["id_no"])
    phones, plates, ids = raw["phone"], raw["plate"], raw["id"]
    assert any(p.startswith("+86 ") for p in phones) and any(p.startswith("0086") for p in phones)
    assert any("-" in p for p in phones) and any(p.startswith("86") for p in phones)
    assert any("·" in p for p in plates) and any(p != p.upper() for p in plates)
    assert any(any("\uff10" <= ch <= "\uff5a" for ch in p) for p in plates)
    assert any(i.endswith("x") for i in ids) and any(len(i) == 15 for i in ids)


def test_loaded_rows_are_valid_and_planted_identifiers_canonical(truth: dict, replayed):
    for gang in truth["gangs"]:
        assert 5 <= len(gang["members"]) <= 12
        assert all(normalize_id_no(i) == i for i in gang["members"])
        assert all(normalize_phone(p) == p for p in gang["phones"])
        assert all(normalize_plate(p) == p for p in gang["plates"])
    assert replayed.loaded["persons"]
    assert any(len(g["regions"]) == 2 for g in truth["gangs"])
    assert {g["kind"] for g in truth["gangs"]} == {"gang", "pickpocket", "gambling", "fraud"}


def test_the_same_call_is_reported_by_two_regions(replayed, truth: dict):
    canonical = {c[1:] for c in replayed.calls if c[0] == "330100"}
    gbk_dups = sum(e["duplicates"] for e in truth["load_order"]
                   if e["kind"] == "calls" and e["region"] == "440300")
    assert gbk_dups > 0
    calls = {c[1:] for c in replayed.calls}
    assert len(calls) == len(replayed.calls)  # loaded calls are distinct by natural key
    assert canonical


def test_gang_members_call_each_other_densely(truth: dict, replayed):
    pairs: dict[frozenset, int] = {}
    for _, caller, callee, *_ in replayed.calls:
        pairs[frozenset((caller, callee))] = pairs.get(frozenset((caller, callee)), 0) + 1
    for gang in truth["gangs"]:
        phones = gang["phones"]
        tied = [p for p in pairs if p <= set(phones) and len(p) == 2]
        assert len(tied) >= len(phones), gang["id"]  # at least a ring


def test_fraud_chain_is_in_the_files(truth: dict, replayed):
    chain = truth["fraud_chain"]
    assert chain["victim_region"] != chain["gang_member_region"]
    parcels = {row.values["waybill_no"].strip().upper(): (region, row)
               for region, row in replayed.loaded["waybills"]}
    region, row = parcels[chain["waybill_no"]]
    assert region == chain["victim_region"]
    assert normalize_phone(str(row.values["receiver_phone"])) == chain["mule_phone"]
    assert normalize_phone(str(row.values["sender_phone"])) == chain["victim_phone"]
    calls = [c for c in replayed.calls
             if c[1] == chain["gang_member_phone"] and c[2] == chain["mule_phone"]]
    assert len(calls) == chain["calls"] >= 5
    victims = [r for reg, r in replayed.loaded["cases"]
               if r.values["case_id"] == chain["case_id"]]
    assert normalize_id_no(victims[0].values["id_no"]) == chain["victim"]


def test_cli_rejects_bad_input_with_exit_status_2(tmp_path: Path):
    app = typer.Typer()
    app.command("generate")(generate)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    bad = runner.invoke(app, ["generate", str(tmp_path / "x"), "--regions", "2"])
    assert bad.exit_code == 2 and "between 3" in bad.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    busy = runner.invoke(app, ["generate", str(tmp_path / "full")])
    assert busy.exit_code == 2 and "not empty" in busy.output
    ok = runner.invoke(app, ["generate", str(tmp_path / "ok"), "--scale", "0.01"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "ok" / "440300" / "calls.profile.yaml").is_file()
    assert "Wrote 15 files" in ok.output
