"""Every edit-pack rule: a claim that passes and a claim that fails (synthetic 837s)."""

from __future__ import annotations

import pytest

from edi837.checks import RULES, Engine
from edi837.checks.editpack.synth import CRNA_NPI, PSYCH_NPI, build
from evs import found  # noqa: E402

CATALOG_IDS = (
    [f"TMS-00{i}" for i in range(1, 10)] + ["TMS-010"] + [f"DX-00{i}" for i in range(1, 6)]
    + [f"ECT-{i:03d}" for i in range(1, 11)] + ["EM-001", "MUE-001", "TEL-001", "POS-001"]
    + [f"ANE-00{i}" for i in range(1, 5)] + [f"MOD-00{i}" for i in range(1, 5)] + ["PA-001", "PA-002"])


def run(kind, claims, **kw):
    opts = {k: kw.pop(k) for k in list(kw) if k in ("profile", "history", "mue", "history_record")}
    eng = Engine(snip="7", **opts)
    data = build(kind, claims, **kw)
    return found(eng.run_file(data, file="t.x12"))


def rules_of(fs):
    return {f.rule for f in fs}


def P(code, date="2025-03-03", **kw):
    return {"code": code, "date": date, **kw}


def I(code, rev="0901", date="2025-03-03", **kw):
    return {"code": code, "rev": rev, "date": date, **kw}


TMS_START = [P("90867", "2025-03-02")]
IPF = {"fac": "11", "stmt": ("2025-03-01", "2025-03-20"), "adm": "2025-03-01"}

# rule -> list of (kind, passing claims, failing claims, extra options)
CASES = {
    "TMS-001": [("837P", [{"id": "A", "lines": TMS_START + [P("90869")]}],
                 [{"id": "A", "lines": TMS_START + [P("90868"), P("90869")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-03-02"), I("90869")]}],
                 [{"id": "A", "lines": [I("90867", date="2025-03-02"), I("90868")]},
                  {"id": "B", "lines": [I("90869")]}], {})],
    "TMS-002": [("837P", [{"id": "A", "lines": [P("90867", "2025-03-01"), P("90868", "2025-03-02")]}],
                 [{"id": "A", "lines": [P("90867", "2025-03-01"), P("90868", "2025-03-01")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-03-01"), I("90868", date="2025-03-02")]}],
                 [{"id": "A", "lines": [I("90867", date="2025-03-01")]},
                  {"id": "B", "lines": [I("90868", date="2025-03-01")]}], {})],
    "TMS-003": [("837P", [{"id": "A", "lines": [P("90867", "2025-01-02")] +
                           [P("90868", f"2025-01-{d:02d}") for d in range(3, 10)]}],
                 [{"id": "A", "lines": [P("90867", "2025-01-02")] + [P("90868", f"2025-01-{d:02d}") for d in range(3, 10)]},
                  {"id": "B", "lines": [P("90867", "2025-01-20")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-01-02"), I("90868", date="2025-01-03")]}],
                 [{"id": "A", "lines": [I("90867", date="2025-01-02"), I("90868", date="2025-01-03"),
                                        I("90867", date="2025-01-20")]}], {})],
    "TMS-010": [("837P", [{"id": "A", "lines": [P("90867", "2025-01-02"), P("90868", "2025-01-10")]},
                          {"id": "B", "lines": [P("90867", "2025-06-01")]}],
                 [{"id": "A", "lines": [P("90867", "2025-01-02"), P("90868", "2025-01-10")]},
                  {"id": "B", "lines": [P("90867", "2025-03-24")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-01-02"), I("90868", date="2025-01-10")]},
                          {"id": "B", "lines": [I("90867", date="2025-06-01")]}],
                 [{"id": "A", "lines": [I("90867", date="2025-01-02"), I("90868", date="2025-01-10")]},
                  {"id": "B", "lines": [I("90867", date="2025-03-24")]}], {})],
    "TMS-004": [("837P", [{"id": "A", "lines": [P("90867", "2025-02-01"), P("90868", "2025-02-02")]}],
                 [{"id": "A", "lines": [P("90868", "2025-02-02")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-02-01"), I("90868", date="2025-02-02")]}],
                 [{"id": "A", "lines": [I("90868", date="2025-02-02")]}], {})],
    "TMS-005": [("837P", [{"id": "A", "lines": [P("90867", "2025-01-01")] + [P("90868", f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}") for d in range(1, 30)]}],
                 [{"id": "A", "lines": [P("90867", "2025-01-01")] + [P("90868", f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}") for d in range(1, 41)]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-01-01")] + [I("90868", date=f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}") for d in range(1, 30)]}],
                 [{"id": "A", "lines": [I("90867", date="2025-01-01")] + [I("90868", date=f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}") for d in range(1, 40)]}], {})],
    "TMS-006": [("837P", [{"id": "A", "lines": [P("90867", "2025-01-01"), P("90869", "2025-01-10")]}],
                 [{"id": "A", "lines": [P("90867", "2025-01-01")] + [P("90869", f"2025-01-1{d}") for d in range(5)]}], {}),
                ("837I", [{"id": "A", "lines": [I("90867", date="2025-01-01"), I("90869", date="2025-01-10")]}],
                 [{"id": "A", "lines": [I("90867", date="2025-01-01"), I("90869", date="2025-01-10", units=5)]}], {})],
    "TMS-007": [("837P", [{"id": "A", "pos": "11", "lines": [P("90867")]}],
                 [{"id": "A", "pos": "31", "lines": [P("90867")]}], {})],
    "TMS-008": [("837P", [{"id": "A", "tax": "2084P0800X", "lines": [P("90867")]}],
                 [{"id": "A", "tax": "363LP0808X", "lines": [P("90867")]}], {})],
    "TMS-009": [("837P", [{"id": "A", "lines": [P("90867")]}], [{"id": "A", "lines": [P("90867")]}],
                 {"fail": {"dob": "2012-05-05"}}),
                ("837I", [{"id": "A", "lines": [I("90867")]}], [{"id": "A", "lines": [I("90867")]}],
                 {"fail": {"dob": "2012-05-05"}})],
    "DX-001": [("837P", [{"id": "A", "dx": ["ABK:F332"], "lines": [P("90867")]}],
                [{"id": "A", "dx": ["ABK:F419"], "lines": [P("90867")]}], {}),
               ("837I", [{"id": "A", "dx": ["ABK:F332"], "lines": [I("90867")]}],
                [{"id": "A", "dx": ["ABK:F419"], "lines": [I("90867")]}], {})],
    "DX-002": [("837P", [{"id": "A", "dx": ["ABK:F332", "ABF:F411"], "lines": [P("90867", ptr=[1, 2])]}],
                [{"id": "A", "dx": ["ABK:F329"], "lines": [P("90867")]}], {}),
               ("837I", [{"id": "A", "dx": ["ABK:F332", "ABF:F411"], "lines": [I("90867")]}],
                [{"id": "A", "dx": ["ABK:F329"], "lines": [I("90867")]}], {})],
    "DX-003": [("837P", [{"id": "A", "lines": [P("90870", pos="22")]}],
                [{"id": "A", "dx": ["ABK:Z1331"], "lines": [P("90870", pos="22")]}], {}),
               ("837I", [{"id": "A", "lines": [I("90870")]}],
                [{"id": "A", "dx": ["ABK:Z1331"], "lines": [I("90870")]}], {})],
    "DX-004": [("837P", [{"id": "A", "lines": [P("90867", "2024-05-01")]}],
                [{"id": "A", "dx": ["BK:29623"], "lines": [P("90867", "2024-05-01")]}], {}),
               ("837I", [{"id": "A", "lines": [I("90870", date="2024-05-01")]}],
                [{"id": "A", "dx": ["BK:29623"], "lines": [I("90870", date="2024-05-01")]}], {})],
    "DX-005": [("837P", [{"id": "A", "dx": ["ABK:F332", "ABF:F411"], "lines": [P("90867")]}],
                [{"id": "A", "dx": ["ABK:F332", "BF:3000"], "lines": [P("90867")]}], {}),
               ("837I", [{"id": "A", "dx": ["ABK:F332", "ABF:F411"], "lines": [I("90870")]}],
                [{"id": "A", "dx": ["ABK:F332", "BF:3000"], "lines": [I("90870")]}], {})],
    "ECT-001": [("837P", [{"id": "A", "lines": [P("90870", pos="22")]}], [{"id": "A", "lines": [P("90871", pos="22")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90870")]}], [{"id": "A", "lines": [I("90871")]}], {})],
    "ECT-002": [("837P", [{"id": "A", "lines": [P("90870", pos="22")]}],
                 [{"id": "A", "lines": [P("90870", pos="22", npi=PSYCH_NPI, tax="363LP0808X")]}], {})],
    "ECT-003": [("837I", [{"id": "A", "lines": [I("90870"), I("00104", rev="0370", charge=300)]}],
                 [{"id": "A", "lines": [I("90870"), I("00104", rev="0370", charge=0)]}], {})],
    "ECT-004": [("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250310"],  # the catalog's: UN 8
                           "lines": [{"code": "", "rev": "0901", "units": 8}]}],
                 [{"id": "A", **IPF, "procs": ["BBQ:GZB2ZZZ:D8:20250310"],
                   "lines": [{"code": "", "rev": "0124", "basis": "DA", "units": 19}]}], {})],
    "ECT-005": [("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250318"],
                           "lines": [{"code": "", "rev": "0901", "units": 1}]}],
                 [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250325"],
                   "lines": [{"code": "", "rev": "0901", "units": 1}]}], {})],
    "ECT-006": [("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB0ZZZ:D8:20250310"],
                           "lines": [{"code": "", "rev": "0901", "units": 1}]}],
                 [{"id": "A", **IPF, "dx": ["ABK:F332"], "procs": ["BR:9427:D8:20250310"],
                   "lines": [{"code": "", "rev": "0901", "units": 1}]}], {})],
    "ECT-007": [("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250305"],
                           "lines": [{"code": "", "rev": "0901", "units": 1}]}],
                 [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250305"],
                   "lines": [{"code": "", "rev": "0901", "units": 1}]},
                  {"id": "B", "lines": [I("90870", date="2025-03-05")]}], {})],
    "ECT-008": [("837I", [{"id": "A", "bg": ["BG:41"], "lines": [I("", rev="0912", date="2025-04-02"),
                                                                 I("90870", date="2025-04-02")]}],
                 [{"id": "A", "bg": ["BG:41"], "lines": [I("", rev="0912", date="2025-04-02")]},
                  {"id": "B", "lines": [I("90870", date="2025-04-02")]}], {})],
    "ECT-009": [("837P", [{"id": "A", "lines": [P("90870", "2025-03-03", pos="22")]}],
                 [{"id": "A", "dx": ["BK:29623"], "lines": [P("90870", "2012-03-03", pos="22")]}], {}),
                ("837I", [{"id": "A", "lines": [I("90870")]}],
                 [{"id": "A", "dx": ["BK:29623"], "lines": [I("90870", date="2012-03-03")]}], {})],
    "ECT-010": [("837I", [{"id": "A", "lines": [I("90870", date="2025-05-01"), I("90870", date="2025-05-03")]}],
                 [{"id": "A", "lines": [I("90870", date="2025-05-01", units=2)]}], {})],
    "EM-001": [("837P", [{"id": "A", "lines": [P("99213", mods=["25"]), P("90868")]}],
                [{"id": "A", "lines": [P("99214"), P("90870", pos="22")]}], {})],
    "MUE-001": [("837P", [{"id": "A", "lines": [P("90867")]}], [{"id": "A", "lines": [P("90867", units=2)]}], {}),
                ("837I", [{"id": "A", "lines": [I("90870")]}], [{"id": "A", "lines": [I("90870"), I("90870")]}], {})],
    "TEL-001": [("837P", [{"id": "A", "lines": [P("90867", pos="11")]}],
                 [{"id": "A", "lines": [P("90867", pos="10", mods=["95"])]}], {}),
                ("837I", [{"id": "A", "lines": [I("90870")]}], [{"id": "A", "lines": [I("90870", mods=["GT"])]}], {})],
    "POS-001": [("837P", [{"id": "A", "pos": "22", "lines": [P("90870")]}],
                 [{"id": "A", "pos": "22", "lines": [P("90870", pos="11")]}], {})],
    "ANE-001": [("837P", [{"id": "A", "pos": "22", "lines": [P("00104", basis="MJ", units=23, npi=CRNA_NPI, tax="367500000X")]}],
                 [{"id": "A", "pos": "22", "lines": [P("00104", basis="UN", units=2, npi=CRNA_NPI, tax="367500000X")]}], {})],
    "ANE-002": [("837P", [{"id": "A", "pos": "21", "lines": [P("01952", basis="MJ", units=95), P("01953", basis="UN", units=2)]}],
                 [{"id": "A", "pos": "21", "lines": [P("01953", basis="MJ", units=40)]}], {})],
    "ANE-003": [("837P", [{"id": "A", "pos": "21", "lines": [P("01967", basis="MJ", units=180), P("01968", basis="MJ", units=60)]}],
                 [{"id": "A", "pos": "21", "lines": [P("01968", basis="UN", units=1)]}], {})],
    "ANE-004": [("837P", [{"id": "A", "pos": "22", "lines": [P("90870"), P("00104", mods=["QZ"], basis="MJ", units=20, npi=CRNA_NPI, tax="367500000X")]}],
                 [{"id": "A", "pos": "22", "lines": [P("90870"), P("00104", basis="MJ", units=20)]}], {})],
    "MOD-001": [("837P", [{"id": "A", "lines": [P("90867", mods=["GA"])]}], [{"id": "A", "lines": [P("90867", mods=["GA", "GZ"])]}], {}),
                ("837I", [{"id": "A", "bh": ["BH:32:D8:20250228"], "lines": [I("90870", mods=["GA"])]}],
                 [{"id": "A", "lines": [I("90870", mods=["GA", "GY"])]}], {})],
    "MOD-002": [("837P", [{"id": "A", "lines": [P("90867", mods=["GY", "GX"])]}], [{"id": "A", "lines": [P("90867", mods=["GA", "GX"])]}], {}),
                ("837I", [{"id": "A", "lines": [I("90870", mods=["GX"], charge=100, noncovered=100)]}],
                 [{"id": "A", "lines": [I("90870", mods=["GX"], charge=100)]}], {})],
    "MOD-003": [("837I", [{"id": "A", "bh": ["BH:32:D8:20250228"], "lines": [I("90870", mods=["GA"])]}],
                 [{"id": "A", "lines": [I("90870", mods=["GA"])]}], {}),
                ("837P", [{"id": "A", "lines": [P("90867", mods=["GA"])]}], [{"id": "A", "lines": [P("90867", mods=["GZ"])]}], {})],
    "MOD-004": [("837P", [{"id": "A", "dx": ["ABK:F422"], "lines": [P("90867", mods=["GA"])]}],
                 [{"id": "A", "lines": [P("90867", mods=["GY"])]}], {"profile": "medicare"}),
                ("837I", [{"id": "A", "lines": [I("90870", mods=["GA"])]}],
                 [{"id": "A", "lines": [I("90870", mods=["GY"])]}], {"profile": "medicare"})],
    "PA-001": [("837P", [{"id": "A", "g1": "A12345", "lines": [P("90868", "2025-12-01")]}],
                [{"id": "A", "lines": [P("90868", "2025-12-01")]}], {"payer": "SYNNYMCD"}),
               ("837P", [{"id": "A", "lines": [P("90868", "2025-12-01")]}],
                [{"id": "A", "lines": [P("90868", "2026-05-02")]}], {"profile": "highmark"}),
               ("837I", [{"id": "A", "g1": "A12345", "lines": [I("90868", date="2025-12-01")]}],
                [{"id": "A", "lines": [I("90868", date="2025-12-01")]}], {"profile": "ny-medicaid"})],
    "PA-002": [("837P", [{"id": "A", "g1": "X", "lines": [P("90868", "2025-11-03")]}],
                [{"id": "A", "g1": "X", "lines": [P("90868", "2025-10-15")]}], {"profile": "ny-medicaid"}),
               ("837I", [{"id": "A", "g1": "X", "lines": [I("90868", date="2025-11-03")]}],
                [{"id": "A", "g1": "X", "lines": [I("90868", date="2025-10-15")]}], {"profile": "ny-medicaid"})],
}


def test_every_catalog_rule_is_registered_with_citation():
    Engine(snip="7")
    for rid in CATALOG_IDS:
        r = RULES[rid]
        assert r.snip == 7 and r.func is not None and r.citation, rid
    assert set(CASES) == set(CATALOG_IDS)


PARAMS = [pytest.param(rid, i, id=f"{rid}-{case[0]}-{i}") for rid, cases in CASES.items()
          for i, case in enumerate(cases)]


@pytest.mark.parametrize("rid,i", PARAMS)
def test_rule_pass_and_fail(rid, i):
    kind, good, bad, opts = CASES[rid][i]
    opts = dict(opts)
    fail_kw = opts.pop("fail", {})
    ok = run(kind, good, **opts)
    assert rid not in rules_of(ok), [f.message for f in ok if f.rule == rid]
    ko = run(kind, bad, **{**opts, **fail_kw})
    hits = [f for f in ko if f.rule == rid]
    assert hits, [f.rule for f in ko]
    for f in hits:
        assert f.citation and rid in f.message and "source:" in f.message
        assert f.claim_seq is not None


def test_dx001_ocd_is_a_warning():
    fs = [f for f in run("837P", [{"id": "A", "dx": ["ABK:F422"], "lines": [P("90867")]}]) if f.rule == "DX-001"]
    assert [f.severity.value for f in fs] == ["warning"]


def test_ny_medicaid_covers_only_severe():
    fs = run("837P", [{"id": "A", "g1": "X", "dx": ["ABK:F331"], "lines": [P("90867", "2025-12-01")]}],
             profile="ny-medicaid")
    assert "DX-001" in rules_of(fs)
    fs = run("837P", [{"id": "A", "dx": ["ABK:F331"], "lines": [P("90867", "2025-12-01")]}])
    assert "DX-001" not in rules_of(fs)


def test_nm_medicaid_needs_no_prior_auth():
    fs = run("837P", [{"id": "A", "lines": [P("90868", "2025-12-01")]}], profile="nm-medicaid")
    assert "PA-001" not in rules_of(fs)


def test_user_profile_file(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\n[tms]\nmin_age = 15\n')
    fs = run("837P", [{"id": "A", "lines": [P("90867")]}], dob="2008-01-01", profile=str(p))
    assert "TMS-009" not in rules_of(fs)
    fs = run("837P", [{"id": "A", "lines": [P("90867")]}], dob="2008-01-01")
    assert "TMS-009" in rules_of(fs)


def test_many_rules_at_once_each_reported_once_with_claim_and_line():
    claims = [{"id": "OK1", "lines": [P("90867", "2025-03-01")]},
              {"id": "BAD", "pos": "31", "dx": ["ABK:F329"], "tax": "363LP0808X",
               "lines": [P("90868", "2025-03-03"), P("90869", "2025-03-03", mods=["95", "GA", "GZ"], units=2)]}]
    fs = [f for f in run("837P", claims) if f.claim_id == "BAD"]
    keys = [(f.rule, f.line_number) for f in fs]
    assert len(keys) == len(set(keys))
    got = set(keys)
    for want in [("TMS-001", 2), ("TEL-001", 2), ("MOD-001", 2), ("MUE-001", 2), ("DX-002", 1), ("DX-002", 2),
                 ("TMS-007", 1), ("TMS-008", 1)]:
        assert want in got, (want, sorted(got))
    assert not any(r == "DX-001" for r, _ in got)  # F32.9: one cause, one finding (DX-002, issue 12 item 10)
    assert all(f.claim_seq == 2 for f in fs)


def test_line_sources_follow_the_claim_kind():
    from edi837.model.claims import Claim, ServiceLine

    def line(kind, service=None):
        return ServiceLine(claim=Claim(loop=None, kind=kind), loop=None, service=service)  # type: ignore[arg-type]

    p, i = line("837P"), line("837I")
    assert [p.source(f) for f in ("procedure_code", "modifiers", "unit_basis", "units", "diagnoses")] == \
        ["SV101-2", "SV101-3", "SV103", "SV104", "SV107-1"]
    assert [i.source(f) for f in ("revenue_code", "procedure_code", "modifiers", "charge", "units")] == \
        ["SV201", "SV202-2", "SV202-3", "SV203", "SV205"]
    assert line(None).source("procedure_code") == "SV101-2"
    assert p.source("place_of_service") == "CLM05-1"  # no SV105: the claim's


def test_tms_course_bounds():
    import datetime as dt

    from edi837.checks.editpack.tms_course import course_bounds

    ds = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in (0, 10, 100, 250, 260)]
    assert course_bounds(ds, ds[1], 90) == (ds[0], ds[2])
    assert course_bounds(ds, ds[4], 90) == (ds[3], ds[4])
    assert course_bounds(ds, ds[3], 9) == (ds[3], ds[3])


@pytest.mark.parametrize("few", [0, 10_000])
def test_the_claim_view_reads_a_course_outwards_from_its_date_as_course_bounds_defines_it(monkeypatch, few):
    """ClaimView.tms_course walks the date-sorted peers outwards from a date (work in the size of
    the course, not of the patient's history): the same course as course_bounds over every TMS
    date of the patient, with its events in the same order (random patients)."""
    import datetime as dt
    import random

    from edi837.checks.editpack import run_state
    from edi837.checks.editpack.history import Event
    from edi837.checks.editpack.run_state import ClaimView, _order
    from edi837.checks.editpack.tms_course import course_bounds

    # (few: every patient indexed whole for each claim, as before; 0: every one searched outwards)
    monkeypatch.setattr(run_state, "_FEW", few)

    tms = frozenset({"90867", "90868", "90869"})
    day0 = dt.date(2025, 1, 1)
    rng = random.Random(7)
    for trial in range(300):
        def ev(uid: int, seq: int) -> Event:
            d = None if rng.random() < 0.05 else day0 + dt.timedelta(days=rng.randint(0, 200))
            code = rng.choice(["90868", "90867", "90834", "90870"])
            return Event(("S", "1", "1", "1", f"C{uid}"), f"C{uid}", "837P", "", code, "", (), d, d, 1.0, "N",
                         False, seq, uid)
        peers = sorted((ev(rng.randint(0, 40), s) for s in range(rng.randint(0, 60))), key=_order)
        own = [ev(99, s) for s in range(rng.randint(0, 4))]
        cv = ClaimView(None, None, 99)  # type: ignore[arg-type]
        cv.__dict__.update(peers=peers, events=own)
        gap = rng.choice([0, 3, 10, 29])
        for d in [day0 + dt.timedelta(days=rng.randint(-5, 205)) for _ in range(3)] + \
                [e.date for e in own if e.date is not None]:
            evs = [e for e in peers + own if e.code in tms and e.date]
            dates = sorted({e.date for e in evs} | {d})
            start, end = course_bounds(dates, d, gap)
            assert cv.tms_course(d, gap, tms) == ([e for e in evs if start <= e.date <= end], start, end), trial
            # the patient's events of that date, peers first (ClaimView.on_date's)
            assert cv._day(d) == [e for e in peers + own if e.date == d]


def test_profile_read_once_per_process_and_again_when_changed(tmp_path, monkeypatch):
    import os

    from edi837.checks.editpack import profiles
    from edi837.checks.options import RunOptions

    reads = []
    load = profiles.tomllib.load
    monkeypatch.setattr(profiles.tomllib, "load", lambda fh: reads.append(fh.name) or load(fh))
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\n[tms]\nmin_age = 15\n')
    opts = RunOptions.build(snip="7", profile=str(p))
    opts.check()
    claims = [{"id": "A", "lines": [P("90867")]}]
    assert "TMS-009" not in rules_of(run("837P", claims, dob="2008-01-01", profile=str(p)))
    assert reads.count(str(p)) == 1  # the options' check and the run share one read
    p.write_text('name = "mine"\n[tms]\nmin_age = 21\n')
    os.utime(p, ns=(1, 1))  # a changed file is read again, whatever its clock
    assert "TMS-009" in rules_of(run("837P", claims, dob="2008-01-01", profile=str(p)))
    assert reads.count(str(p)) == 2


def test_ect008_undated_90870_after_a_php_day_is_no_crash():
    """A 90870 line with no line date on a claim without statement dates, after a
    dated PHP line of the same patient: ECT-008 has no day to compare (the missing
    statement dates are the SNIP 2 error S2-SEG-003); it used to raise TypeError."""
    from edi837.checks.engine import Engine
    from edi837.events import Found

    data = build("837I", [
        {"id": "C1", "fac": "13", "stmt": ("2025-01-01", "2025-01-05"), "bg": ["BG:41"],
         "lines": [{"code": "", "rev": "0912", "date": "2025-01-02"}]},
        {"id": "C2", "fac": "13", "lines": [{"code": "90870", "rev": "0901"}]},
    ])
    got = {(e.finding.rule, e.finding.claim_id) for e in Engine().run_file(data, "x.x12") if isinstance(e, Found)}
    assert ("S2-SEG-003", "C2") in got
    assert not any(r == "ECT-008" for r, _ in got)


def test_ordered_keeps_a_patients_events_in_order_key_order_whatever_order_they_come_in():
    # run_state._ordered writes _order and _spans out inline (it runs for every event): its
    # result must stay what they define, for events that come in any order
    import datetime as dt
    import random

    from edi837.checks.editpack import run_state as rs
    from edi837.checks.editpack.history import Event

    rnd = random.Random(5)
    for _ in range(50):
        evs = []
        for i in range(rnd.randint(1, 40)):
            d = dt.date(2026, 1, 1) + dt.timedelta(days=rnd.randint(0, 20)) if rnd.random() < 0.9 else None
            end = d + dt.timedelta(days=rnd.choice([0, 0, 1, 3])) if d is not None and rnd.random() < 0.3 else None
            key = (rnd.choice(["S1", "S2"]), "1", "1", "1", rnd.choice(["C1", "C2", "C3"]))
            evs.append(Event(key, key[4], "837P", "", "90868", "", (), d, end, 1.0, "", False, i % 3,
                             rnd.choice([0, 1, 2, 3]), rnd.choice(["1", "7", "8"])))
        ent = [[], [], 0, 0, None, [], 0, 0, None]
        for k in range(0, len(evs), 7):  # (a few claims' events at a time)
            ent[0].extend(evs[k:k + 7])
            hist, run = rs._ordered(ent)
        assert run == sorted(evs, key=rs._order)
        assert ent[8][6] == sum(map(rs._spans, evs))
        assert ent[8][3] == any(e.freq in ("7", "8") for e in evs)
