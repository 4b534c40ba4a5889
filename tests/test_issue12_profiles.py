"""Issue 12 items 6 and 7: payer profiles as strict as their sources (every
value with its source and effective date; the medicare profile per LCDs
L34522/L34998), and each claim's profile chosen by --profile, the payer id
table, then SBR09 (MA/MB: medicare; MC: the payer state's Medicaid profile),
shown per claim in the JSON and text reports."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from edi837.checks import Engine
from edi837.checks.editpack.profiles import PROFILE_DIR, is_meta, load_profile, shipped_profiles
from edi837.checks.editpack.synth import build
from edi837.cli import main
from edi837.events import ClaimVerdict, FileStart, Found
from edi837.outputs.report import TextReport, write_events

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())

# a weekly TMS claim: sessions Monday to Friday after the course's 90867
WEEK = [{"code": "90868", "date": f"2025-12-{d:02d}"} for d in (1, 2, 3, 4, 5)]


def claim_file(claims, *, payer="SYNUNKNOWN77", sbr09="CI", state=None, kind="837P", **kw) -> bytes:
    """A synthetic 837 whose subscriber SBR09 is ``sbr09`` and whose payer loop
    (2010BB) has an address in ``state`` (N3/N4; SE01 kept right)."""
    kw.setdefault("created", "20251208")  # created after the week it bills
    text = build(kind, claims, payer=payer, **kw).decode()
    text = text.replace("SBR*P*18*GRP1******CI~", f"SBR*P*18*GRP1******{sbr09}~")
    if state:
        text = re.sub(r"(NM1\*PR\*2\*[^~]*~\n)", rf"\1N3*PO BOX 1~\nN4*CAPITAL CITY*{state}*12203~\n", text)
        text = re.sub(r"SE\*(\d+)\*0001", lambda m: f"SE*{int(m.group(1)) + 2}*0001", text)
    return text.encode()


def run(data, **opts):
    evs = list(Engine(snip="7", **opts).run_file(data, file="t.x12"))
    findings = [e.finding for e in evs if isinstance(e, Found)]
    claims = [e.result for e in evs if isinstance(e, ClaimVerdict)]
    return findings, claims


def hits(fs, rule, severity=None):
    return [(f.claim_id, f.line_number) for f in fs
            if f.rule == rule and (severity is None or f.severity.value == severity)]


# -- item 6: every value with its source and effective date -----------------

STRUCTURAL = {"name", "description", "extends"}


def _values(table, where):
    """(where, key, table) for every value key of a profile table, recursing
    into sub-tables; [[prior_auth]] entries and [coverage_start] are records."""
    for k, v in table.items():
        if is_meta(k) or (where == "" and k in STRUCTURAL):
            continue
        if k == "prior_auth" and isinstance(v, list) and v:
            for i, entry in enumerate(v):
                yield f"{where}prior_auth[{i}]", None, entry
        elif k == "coverage_start" and isinstance(v, dict):
            yield f"{where}coverage_start", None, v
        elif isinstance(v, dict):
            yield from _values(v, f"{where}{k}.")
        else:
            yield where, k, table


@pytest.mark.parametrize("name", shipped_profiles())
def test_every_shipped_profile_value_names_its_source_and_effective_date(name):
    data = tomllib.loads((PROFILE_DIR / f"{name}.toml").read_text())
    assert isinstance(data.get("source"), str) and isinstance(data.get("date"), dt.date)
    n = 0
    for where, key, table in _values(data, ""):
        n += 1
        if key is None:  # a record: its source and its own effective date
            assert table.get("source"), f"{name}: {where} has no source"
            eff = table.get("from", table.get("date"))
            assert isinstance(eff, dt.date), f"{name}: {where} has no effective date"
            continue
        src, date = table.get(f"{key}_source"), table.get(f"{key}_date")
        assert isinstance(src, str) and src.strip(), f"{name}: {where}{key} has no {key}_source"
        assert isinstance(date, dt.date), f"{name}: {where}{key} has no {key}_date"
        # sources are read by billers in findings: public titles, never shorthand
        assert not re.search(r"\bS[012]\b|unverified|catalog|article not found", src, re.I), src
    assert n, f"{name} has no values"


def test_loader_ignores_source_and_date_keys(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nsource = "x"\ndate = 2026-01-01\n[tms]\ncourse_cap = 30\n'
                 'course_cap_source = "my payer"\ncourse_cap_date = 2026-01-01\n'
                 '[units_per_day]\n"90868" = 2\n"90868_source" = "my payer"\n"90868_date" = 2026-01-01\n')
    prof = load_profile(str(p))
    assert prof.course_cap == 30 and prof.units_per_day["90868"] == 2
    assert not [k for k in prof.units_per_day if is_meta(k)]


def test_medicare_profile_follows_the_lcds():
    prof = load_profile("medicare")
    assert sorted(prof.covered_dx) == ["F322", "F332"]
    assert not prof.ocd_warning and prof.medicare
    assert "L34522" in prof.covered_dx_source and "L34998" in prof.covered_dx_source


@pytest.mark.parametrize("dx,severity", [("F321", "error"), ("F331", "error"), ("F422", "error"),
                                         ("F332", None)])
def test_medicare_moderate_mdd_and_ocd_are_errors(dx, severity):
    data = claim_file([{"id": "W1", "dx": [f"ABK:{dx}"], "lines": WEEK}], payer="SYNMCR")
    fs, claims = run(data)
    got = {f.severity.value for f in fs if f.rule == "DX-001"}
    assert got == ({severity} if severity else set())
    assert claims[0].verdict == ("rejected" if severity else "accepted")


def test_default_profile_still_covers_moderate_mdd_and_warns_on_ocd():
    fs, _ = run(claim_file([{"id": "W1", "dx": ["ABK:F321"], "lines": WEEK}], payer="SYNHP1"))
    assert not hits(fs, "DX-001")
    fs, _ = run(claim_file([{"id": "W1", "dx": ["ABK:F422"], "lines": WEEK}], payer="SYNHP1"))
    assert hits(fs, "DX-001", "warning") and not hits(fs, "DX-001", "error")


# -- item 7: the profile chosen by --profile, payer id, then SBR09 ----------

def notes(c):
    return dict(c.notes)


def test_medicare_part_b_to_an_unknown_payer_id_runs_under_medicare():
    """The audit's claim: SBR09 MB, a payer id not in payers.toml, F32.1 on a weekly TMS claim."""
    data = claim_file([{"id": "MCR1", "dx": ["ABK:F321"], "lines": WEEK}], sbr09="MB")
    fs, claims = run(data)
    assert notes(claims[0]) == {"profile": "medicare", "profile_reason": "SBR09 MB (Medicare Part B)"}
    assert hits(fs, "DX-001", "error") == [("MCR1", i) for i in range(1, 6)]
    assert claims[0].verdict == "rejected"


def test_medicare_part_a_and_gy_line_to_an_unknown_payer_id():
    data = claim_file([{"id": "MCR2", "dx": ["ABK:F332"],
                        "lines": [{"code": "90868", "date": "2025-12-01", "mods": ["GY"]}]}], sbr09="MA")
    fs, claims = run(data)
    assert notes(claims[0])["profile_reason"] == "SBR09 MA (Medicare Part A)"
    assert hits(fs, "MOD-004") == [("MCR2", 1)]


def test_ny_medicaid_chosen_by_sbr09_mc_and_payer_state_ny():
    data = claim_file([{"id": "NY1", "dx": ["ABK:F332"], "lines": WEEK}], sbr09="MC", state="NY")
    fs, claims = run(data)
    assert notes(claims[0]) == {"profile": "ny-medicaid",
                                "profile_reason": "SBR09 MC (Medicaid), payer state NY (2010BB N402)"}
    assert hits(fs, "PA-001") == [("NY1", i) for i in range(1, 6)]  # no REF*G1 from 2025-11-01
    fs, claims = run(claim_file([{"id": "NY1", "g1": "NYPA778812", "dx": ["ABK:F332"], "lines": WEEK}],
                                sbr09="MC", state="NY"))
    assert not hits(fs, "PA-001") and claims[0].verdict == "accepted"


def test_medicaid_of_a_state_without_a_profile_uses_default_and_says_why():
    _, claims = run(claim_file([{"id": "TX1", "lines": WEEK}], sbr09="MC", state="TX"))
    n = notes(claims[0])
    assert n["profile"] == "default"
    assert n["profile_reason"] == ("default: payer id SYNUNKNOWN77 not in payers.toml, "
                                   "SBR09 MC (Medicaid), no Medicaid profile for payer state TX")
    _, claims = run(claim_file([{"id": "C1", "lines": WEEK}], sbr09="CI"))
    assert notes(claims[0]) == {"profile": "default",
                                "profile_reason": "default: payer id SYNUNKNOWN77 not in payers.toml, SBR09 CI"}


def test_payer_id_table_comes_before_sbr09():
    data = claim_file([{"id": "HP1", "dx": ["ABK:F321"], "lines": WEEK}], payer="SYNHP1", sbr09="MB")
    fs, claims = run(data)
    assert notes(claims[0]) == {"profile": "default",
                                "profile_reason": "payer id SYNHP1 (2010BB NM109) in payers.toml"}
    assert not hits(fs, "DX-001")


def test_profile_option_overrides_payer_id_and_sbr09():
    data = claim_file([{"id": "O1", "dx": ["ABK:F321"], "lines": WEEK}], payer="SYNMCR", sbr09="MC", state="NY")
    fs, claims = run(data, profile="nm-medicaid")
    assert notes(claims[0]) == {"profile": "nm-medicaid", "profile_reason": "--profile nm-medicaid"}
    assert not hits(fs, "DX-001") and not hits(fs, "PA-001")


def test_claims_of_one_file_each_get_their_own_profile():
    """Two subscribers' claims in one batch file: the profile is per claim, not per payer id."""
    a = claim_file([{"id": "MB1", "dx": ["ABK:F321"], "lines": WEEK[:1]}], sbr09="MB")
    b = claim_file([{"id": "CI1", "dx": ["ABK:F321"], "lines": WEEK[:1]}], sbr09="CI", member="SYN0002")
    eng = Engine(snip="7")
    got = {}
    for name, data in (("a.x12", a), ("b.x12", b)):
        for e in eng.run_file(data, file=name):
            if isinstance(e, ClaimVerdict):
                got[e.result.claim_id] = (notes(e.result)["profile"], e.result.verdict)
    assert got == {"MB1": ("medicare", "rejected"), "CI1": ("default", "accepted")}


def test_no_profile_note_without_the_edit_pack():
    evs = list(Engine(snip="1-5").run_file(claim_file([{"id": "A", "lines": WEEK}], sbr09="MB"), file="t.x12"))
    res = [e.result for e in evs if isinstance(e, ClaimVerdict)]
    assert res and all(not r.notes and "profile" not in r.to_dict() for r in res)


# -- the reports --------------------------------------------------------------

def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_json_report_claims_carry_profile_and_reason_and_match_the_schema(tmp_path):
    mb = _write(tmp_path, "mb.x12", claim_file([{"id": "MCR1", "dx": ["ABK:F321"], "lines": WEEK}], sbr09="MB"))
    ny = _write(tmp_path, "ny.x12", claim_file([{"id": "NY1", "g1": "NYPA778812", "dx": ["ABK:F332"],
                                                  "lines": WEEK}], sbr09="MC", state="NY", member="SYNNY0002", isa="000000102"))
    res = CliRunner().invoke(main, ["validate", str(mb), str(ny), "--format", "json"])
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    got = {c["claim_id"]: (c["profile"], c["profile_reason"], c["verdict"]) for c in doc["claims"]}
    assert got == {"MCR1": ("medicare", "SBR09 MB (Medicare Part B)", "rejected"),
                   "NY1": ("ny-medicaid", "SBR09 MC (Medicaid), payer state NY (2010BB N402)", "accepted")}
    res = CliRunner().invoke(main, ["validate", str(mb), "--format", "json", "--profile", "ny-medicaid"])
    doc = json.loads(res.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert [(c["profile"], c["profile_reason"]) for c in doc["claims"]] == [("ny-medicaid", "--profile ny-medicaid")]


def test_schema_requires_profile_and_reason_together():
    doc = {"schema_version": "1.0", "files": [], "findings": [],
           "summary": {"files": 0, "claims": 1, "accepted": 1, "rejected": 0, "errors": 0, "warnings": 0,
                       "infos": 0},
           "claims": [{"file": "a", "claim_seq": 1, "claim_id": "A", "verdict": "accepted", "profile": "medicare"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_json_report_parallel_run_carries_the_same_profiles(tmp_path):
    files = [_write(tmp_path, f"f{i}.x12", claim_file([{"id": f"C{i}", "dx": ["ABK:F321"], "lines": WEEK}],
                                                      sbr09=s, member=f"SYN000{i}"))
             for i, s in enumerate(("MB", "CI", "MA"))]
    one = CliRunner().invoke(main, ["validate", *map(str, files), "--format", "json"])
    two = CliRunner().invoke(main, ["validate", *map(str, files), "--format", "json", "--jobs", "2"])
    d1, d2 = json.loads(one.stdout), json.loads(two.stdout)
    jsonschema.validate(d2, SCHEMA)
    assert d1["claims"] == d2["claims"]
    assert [c["profile"] for c in d1["claims"]] == ["medicare", "default", "medicare"]


def test_text_report_shows_the_profile_under_each_listed_claim():
    data = claim_file([{"id": "MCR1", "dx": ["ABK:F321"], "lines": WEEK}], sbr09="MB")
    out = io.StringIO()
    write_events([FileStart("mb.x12"), *Engine(snip="7").run_file(data, file="mb.x12")], TextReport(out))
    text = out.getvalue()
    head, prof_line = text.splitlines()[1:3]
    assert head.startswith("  claim #1 'MCR1': REJECTED")
    assert prof_line == "    payer profile: medicare (SBR09 MB (Medicare Part B))"
