"""Issue 12 (edit pack a billing expert would sign off): the catalog's Pass/Fail
examples of the rules it revised, verbatim, and realistic claims for each item."""

from __future__ import annotations

from edi837.checks import Engine
from edi837.checks.editpack.synth import CRNA_NPI, build
from evs import found  # noqa: E402


def run(kind, claims, **kw):
    opts = {k: kw.pop(k) for k in list(kw) if k in ("profile", "history", "mue", "history_record")}
    return found(Engine(snip="7", **opts).run_file(build(kind, claims, **kw), file="t.x12"))


def hits(fs, rid):
    return [f for f in fs if f.rule == rid]


def P(code, date="2025-03-03", **kw):
    return {"code": code, "date": date, **kw}


IPF = {"fac": "11", "stmt": ("2025-03-01", "2025-03-20"), "adm": "2025-03-01"}
ECT_DAY = {"code": "", "rev": "0901"}


# item 1: ECT-004 ---------------------------------------------------------------

def test_ect004_catalog_pass_0901_un8_one_gzb():
    fs = run("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250310"],
                       "lines": [{**ECT_DAY, "units": 8}]}])
    assert not hits(fs, "ECT-004"), [f.message for f in fs]


def test_ect004_catalog_fail_gzb_without_0901():
    fs = run("837I", [{"id": "A", **IPF, "procs": ["BBQ:GZB2ZZZ:D8:20250310"],
                       "lines": [{"code": "", "rev": "0124", "basis": "DA", "units": 19}]}])
    assert [f.severity.value for f in hits(fs, "ECT-004")] == ["error"]


def test_ect004_catalog_fail_0901_un0():
    fs = run("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250310"],
                       "lines": [{**ECT_DAY, "units": 0}]}])
    assert [f.severity.value for f in hits(fs, "ECT-004")] == ["error"]


def test_ect004_catalog_fail_0901_un1_two_gzb_dates():
    fs = run("837I", [{"id": "A", **IPF, "procs": ["BBR:GZB2ZZZ:D8:20250310", "BBQ:GZB2ZZZ:D8:20250305"],
                       "lines": [{**ECT_DAY, "units": 1}]}])
    assert [f.severity.value for f in hits(fs, "ECT-004")] == ["error"]


def test_ipf_stay_with_ect_is_clean():
    """A 19-day IPF stay (TOB 111, psychiatric unit) with eight ECT treatments: room and
    board 0124 plus one 0901 line of 8 units without HCPCS, one GZB code dated the last
    treatment."""
    fs = run("837I", [{"id": "IPF1", **IPF, "dx": ["ABK:F332", "ABJ:F332"],
                       "procs": ["BBR:GZB2ZZZ:D8:20250318"],
                       "lines": [{"code": "", "rev": "0124", "basis": "DA", "units": 19},
                                 {**ECT_DAY, "units": 8}]}], billing_tax="283Q00000X")
    assert not [f for f in fs if f.rule.startswith("ECT")], [f.message for f in fs]


# item 4: ANE-001 -----------------------------------------------------------------

def test_ane001_catalog_pass_and_fail():
    ok = run("837P", [{"id": "A", "pos": "22", "lines": [P("00104", basis="MJ", units=23, npi=CRNA_NPI,
                                                           tax="367500000X")]}])
    assert not hits(ok, "ANE-001")
    ko = run("837P", [{"id": "A", "pos": "22", "lines": [P("00104", basis="UN", units=2, npi=CRNA_NPI,
                                                           tax="367500000X")]}])
    assert [f.severity.value for f in hits(ko, "ANE-001")] == ["error"]
    assert "MJ" in hits(ko, "ANE-001")[0].message


def test_ane001_01996_in_units_is_not_time_based():
    fs = run("837P", [{"id": "A", "pos": "21", "lines": [P("01996", basis="UN", units=1, npi=CRNA_NPI,
                                                           tax="367500000X")]}])
    assert not hits(fs, "ANE-001"), [f.message for f in fs]


# item 5: EM-001 ------------------------------------------------------------------

def test_em001_catalog_pass_and_fail():
    ok = run("837P", [{"id": "A", "lines": [P("99213", mods=["25"]), P("90868")]}])
    assert not hits(ok, "EM-001")
    ko = run("837P", [{"id": "A", "lines": [P("99214"), P("90870", pos="22")]}])
    assert [f.severity.value for f in hits(ko, "EM-001")] == ["error"]
    assert "add modifier 25 to the 99214 line" in hits(ko, "EM-001")[0].message


def test_em001_every_em_family_on_an_ect_day():
    """An ECT day in the hospital: 90870 by the psychiatrist, 00104-QZ by the CRNA and an
    E/M by the psychiatrist; an inpatient visit or a new-patient office visit without -25
    is caught, with -25 it passes."""
    for em in ("99232", "99204", "99223", "99285", "99310", "99345", "99253"):
        day = [P("90870", pos="21"), P("00104", mods=["QZ"], basis="MJ", units=20, npi=CRNA_NPI,
                                        tax="367500000X", pos="21")]
        ko = run("837P", [{"id": "A", "pos": "21", "lines": day + [P(em, pos="21")]}])
        assert [(f.severity.value, f.line_number) for f in hits(ko, "EM-001")] == [("error", 3)], em
        ok = run("837P", [{"id": "A", "pos": "21", "lines": day + [P(em, pos="21", mods=["25"])]}])
        assert not hits(ok, "EM-001"), em
    # the E/M on another claim of the same provider and day, in either order: said on the E/M
    # line, the one to correct (cross-claim verdicts do not depend on arrival order)
    for order in (("E", "T"), ("T", "E")):
        claims = {"E": {"id": "E", "pos": "21", "lines": [P("99232", pos="21")]},
                  "T": {"id": "T", "pos": "21", "lines": [P("90870", pos="21")]}}
        ko = run("837P", [claims[x] for x in order])
        assert [(f.claim_id, f.severity.value) for f in hits(ko, "EM-001")] == [("E", "error")], order
    # another provider's E/M is not this rule's business
    other = run("837P", [{"id": "A", "pos": "21", "lines": [P("90870", pos="21"),
                                                              P("99232", pos="21", npi=CRNA_NPI)]}])
    assert not hits(other, "EM-001")


# item 2: GA/GZ/GY lines ------------------------------------------------------------

MEDICARE_GA = {"id": "M1", "dx": ["ABK:F422"], "lines": [P("90868", "2025-03-04", mods=["GA"])]}


def test_ga_line_with_a_noncovered_diagnosis_warns_as_intended():
    """A Medicare TMS line for OCD with GA (ABN on file): the payer will deny it as intended."""
    fs = run("837P", [{"id": "M0", "lines": [P("90867", "2025-03-03")]}, MEDICARE_GA], profile="medicare")
    cov = [f for f in fs if f.rule in ("DX-001", "DX-002") and f.claim_id == "M1"]
    assert cov and all(f.severity.value == "warning" for f in cov), [(f.rule, f.severity) for f in cov]
    assert all("deny it as intended" in f.message for f in cov)
    assert not [f for f in fs if f.claim_id == "M1" and f.severity.value == "error"], \
        [(f.rule, f.message) for f in fs if f.claim_id == "M1"]


def test_gz_gy_lines_turn_every_coverage_edit_into_a_warning():
    for mod in ("GA", "GZ", "GY"):
        # DX-002 (unspecified depression), TMS-009 (age), PA-001, PA-002 to NY Medicaid
        fs = run("837P", [{"id": "N", "dx": ["ABK:F329"], "lines": [P("90868", "2025-10-15", mods=[mod])]}],
                 profile="ny-medicaid", dob="2012-05-05")
        got = {f.rule: f.severity.value for f in fs if f.rule in ("DX-001", "DX-002", "TMS-009", "PA-001",
                                                                   "PA-002")}
        assert set(got) >= {"DX-002", "TMS-009", "PA-002"}, (mod, got)
        assert set(got.values()) == {"warning"}, (mod, got)
        # DX-001 (anxiety only) and PA-001 after NY Medicaid's start
        fs = run("837P", [{"id": "N", "dx": ["ABK:F419"], "lines": [P("90868", "2025-12-01", mods=[mod])]}],
                 profile="ny-medicaid")
        got = {f.rule: f.severity.value for f in fs if f.rule in ("DX-001", "PA-001")}
        assert got == {"DX-001": "warning", "PA-001": "warning"}, (mod, got)
        # TMS-005: the 37th session of a course
        lines = [P("90867", "2025-01-01")] + [P("90868", f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}", mods=[mod])
                                              for d in range(1, 37)]
        fs = run("837P", [{"id": "A", "lines": lines}])
        assert {f.severity.value for f in hits(fs, "TMS-005")} == {"warning"}


def test_structural_edits_still_apply_on_ga_lines():
    fs = run("837P", [{"id": "A", "dx": ["ABK:F419"], "lines": [P("90868", mods=["GA", "GZ"], units=2)]}])
    sev = {f.rule: f.severity.value for f in fs}
    assert sev["MOD-001"] == "error" and sev["MUE-001"] == "error"
    fs = run("837P", [{"id": "A", "dx": ["ABK:F419"], "lines": [P("90868", mods=["GA"])]}])
    assert {f.rule: f.severity.value for f in fs}["DX-001"] == "warning"
    fs = run("837P", [{"id": "A", "dx": ["ABK:F419"], "lines": [P("90868")]}])
    assert {f.rule: f.severity.value for f in fs}["DX-001"] == "error"


# item 10: one cause, one finding ---------------------------------------------------

def test_dx_catalog_examples():
    ok = run("837P", [{"id": "A", "dx": ["ABK:F332"], "lines": [P("90867")]}])
    assert not hits(ok, "DX-001")
    ko = run("837P", [{"id": "A", "dx": ["ABK:F419"], "lines": [P("90867")]}])
    assert [f.severity.value for f in hits(ko, "DX-001")] == ["error"]
    ok = run("837P", [{"id": "A", "dx": ["ABK:F332", "ABF:F411"], "lines": [P("90867", ptr=[1, 2])]}])
    assert not hits(ok, "DX-002") and not hits(ok, "DX-001")
    ko = run("837P", [{"id": "A", "dx": ["ABK:F329"], "lines": [P("90867")]}])
    assert [f.severity.value for f in hits(ko, "DX-002")] == ["error"]


def test_f339_gives_one_finding_per_line():
    """A weekly TMS claim pointing every line to F33.9: DX-002 once per line, no DX-001;
    the message says what to change (point SV107 to the specified code on the claim)."""
    lines = [P("90867", "2025-03-03")] + [P("90868", f"2025-03-{d:02d}") for d in (4, 5, 6, 7)]
    fs = run("837P", [{"id": "W1", "dx": ["ABK:F339", "ABF:F332"], "lines": lines}])
    assert [(f.rule, f.line_number) for f in fs if f.rule.startswith("DX-")] == \
        [("DX-002", n) for n in range(1, 6)], [(f.rule, f.line_number) for f in fs]
    assert "point SV107 to F33.2 (HI position 2)" in hits(fs, "DX-002")[0].message


def test_pos02_gives_tel001_only():
    for claim in ({"id": "A", "pos": "02", "lines": [P("90868")]}, {"id": "A", "lines": [P("90868", pos="02")]}):
        fs = run("837P", [{"id": "Z", "lines": [P("90867", "2025-03-02")]}, claim])
        assert sorted(f.rule for f in fs if f.claim_id == "A") == ["TEL-001"], [f.message for f in fs]


def test_tel001_catalog_examples():
    assert not hits(run("837P", [{"id": "A", "lines": [P("90868", pos="11")]}]), "TEL-001")
    ko = run("837P", [{"id": "A", "lines": [P("90868", pos="10", mods=["95"])]}])
    assert [f.severity.value for f in hits(ko, "TEL-001")] == ["error"]


def test_icd9_9427_on_a_2026_ipf_claim_gives_one_finding():
    data = build("837I", [{"id": "A", "fac": "11", "stmt": ("2026-03-01", "2026-03-20"), "adm": "2026-03-01",
                           "dx": ["ABK:F332"], "procs": ["ABJ:F332", "BR:9427:D8:20260310"],
                           "lines": [{**ECT_DAY, "units": 3}]}], billing_tax="283Q00000X")
    fs = found(Engine().run_file(data.replace(b"*20260101*0930*CH", b"*20261201*0930*CH"), file="t.x12"))
    errors = [(f.rule, f.element) for f in fs if f.severity.value == "error"]
    assert errors == [("ECT-006", "HI01-1")], [(f.rule, f.message) for f in fs]


# item 3: TMS-003 / TMS-010 (retreatment) --------------------------------------------

def test_tms003_catalog_pass_and_fail():
    ok = run("837P", [{"id": "A", "lines": [P("90867", "2025-01-02")] +
                       [P("90868", f"2025-01-{d:02d}") for d in range(3, 20)]}])
    assert not hits(ok, "TMS-003")
    ko = run("837P", [{"id": "A", "lines": [P("90867", "2025-01-02")] +
                       [P("90868", f"2025-01-{d:02d}") for d in range(3, 20)] + [P("90867", "2025-01-20")]}])
    assert [f.severity.value for f in hits(ko, "TMS-003")] == ["error"]
    assert not hits(ko, "TMS-010")


def _course(first, last_day, month="01"):
    return [P("90867", f"2025-{month}-{first:02d}")] + [P("90868", f"2025-{month}-{d:02d}")
                                                      for d in range(first + 1, last_day + 1)]


def test_tms010_catalog_pass_last_session_jan10_new_90867_jun1():
    fs = run("837P", [{"id": "A", "lines": _course(2, 10)}, {"id": "B", "lines": [P("90867", "2025-06-01")]}])
    assert not hits(fs, "TMS-010") and not hits(fs, "TMS-003")


def test_tms010_catalog_warn_last_session_jan10_new_90867_mar24():
    """The audit's retreatment 73 days after the last session: a new course (TMS-003 passes),
    an early retreatment warning (never an error)."""
    fs = run("837P", [{"id": "A", "lines": _course(2, 10)}, {"id": "B", "lines": [P("90867", "2025-03-24")]}])
    assert not hits(fs, "TMS-003")
    w = hits(fs, "TMS-010")
    assert [(f.severity.value, f.claim_id) for f in w] == [("warning", "B")]
    assert "73 days" in w[0].message and "L37086" in w[0].message
    assert not [f for f in fs if f.severity.value == "error"]


def test_course_ends_after_30_days_without_a_session():
    # 29 days after the last session the course is still open; 30 days ends it
    open_ = run("837P", [{"id": "A", "lines": _course(2, 10)}, {"id": "B", "lines": [P("90867", "2025-02-08")]}])
    assert hits(open_, "TMS-003") and not hits(open_, "TMS-010")
    new = run("837P", [{"id": "A", "lines": _course(2, 10)}, {"id": "B", "lines": [P("90867", "2025-02-09")]}])
    assert not hits(new, "TMS-003") and hits(new, "TMS-010")
    # the retreatment course has its own session count and needs its own 90867
    retreat = run("837P", [{"id": "A", "lines": _course(2, 10)},
                           {"id": "B", "lines": [P("90868", "2025-03-24")]}])
    assert hits(retreat, "TMS-004")


def test_tms010_profile_window(tmp_path):
    p = tmp_path / "short.toml"
    p.write_text('name = "short"\n[tms]\nretreatment_warn_days = 60\n')
    fs = run("837P", [{"id": "A", "lines": _course(2, 10)}, {"id": "B", "lines": [P("90867", "2025-03-24")]}],
             profile=str(p))
    assert not hits(fs, "TMS-010")


# item 11: TMS-004 once per claim ---------------------------------------------------

def test_tms004_catalog_pass_and_fail():
    ok = run("837P", [{"id": "A", "lines": [P("90867", "2025-02-01"), P("90868", "2025-02-02")]}])
    assert not hits(ok, "TMS-004")
    ko = run("837P", [{"id": "A", "lines": [P("90868", "2025-02-02")]}])
    assert [f.severity.value for f in hits(ko, "TMS-004")] == ["warning"]


def test_tms004_weekly_claim_of_a_course_begun_before_the_batch_warns_once():
    """Week 3 of a TMS course (Mon-Fri 90868) whose 90867 was billed in an earlier batch:
    without --history, one warning for the claim that says how to supply the start."""
    week = [P("90868", f"2025-03-{d:02d}") for d in (17, 18, 19, 20, 21)]
    fs = run("837P", [{"id": "WK3", "lines": week}, {"id": "WK4", "lines": [
        P("90868", f"2025-03-{d:02d}") for d in (24, 25, 26, 27, 28)]}])
    w = hits(fs, "TMS-004")
    assert [(f.claim_id, f.line_number) for f in w] == [("WK3", 1), ("WK4", 1)]
    assert "--history" in w[0].message and "4 more TMS line(s)" in w[0].message


def test_tms004_with_history_finds_the_start(tmp_path):
    h = str(tmp_path / "h.sqlite")
    run("837P", [{"id": "WK1", "lines": [P("90867", "2025-03-03")] +
                  [P("90868", f"2025-03-{d:02d}") for d in (4, 5, 6, 7)]}], history=h, isa="000000201")
    fs = run("837P", [{"id": "WK2", "lines": [P("90868", f"2025-03-{d:02d}") for d in (10, 11, 12, 13, 14)]}],
             history=h, isa="000000202")
    assert not hits(fs, "TMS-004"), [f.message for f in fs]


# the other catalog examples of the rules this issue touched, as written ------------

def test_ect006_catalog_2024_discharge():
    stay = {"fac": "11", "stmt": ("2024-03-01", "2024-03-20"), "adm": "2024-03-01"}
    ok = run("837I", [{"id": "A", **stay, "procs": ["BBR:GZB0ZZZ:D8:20240310"], "lines": [{**ECT_DAY, "units": 1}]}])
    assert not hits(ok, "ECT-006")
    ko = run("837I", [{"id": "A", **stay, "procs": ["BR:9427:D8:20240310"], "lines": [{**ECT_DAY, "units": 1}]}])
    assert [f.severity.value for f in hits(ko, "ECT-006")] == ["error"]


def test_tms007_catalog_90868():
    base = [P("90867", "2025-03-02")]
    ok = run("837P", [{"id": "A", "pos": "11", "lines": base + [P("90868")]}])
    assert not hits(ok, "TMS-007")
    ko = run("837P", [{"id": "A", "pos": "31", "lines": base + [P("90868")]}])
    assert {f.severity.value for f in hits(ko, "TMS-007")} == {"warning"}


def test_tms005_catalog_session_30_and_41():
    days = [f"2025-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(41)]
    ok = run("837P", [{"id": "A", "lines": [P("90867", days[0])] + [P("90868", x) for x in days[1:30]]}])
    assert not hits(ok, "TMS-005")
    ko = run("837P", [{"id": "A", "lines": [P("90867", days[0])] + [P("90868", x) for x in days[1:41]]}])
    assert hits(ko, "TMS-005") and hits(ko, "TMS-005")[-1].value == "41"
    assert "new authorization" in hits(ko, "TMS-005")[0].message


def test_tms009_catalog_dob():
    assert not hits(run("837P", [{"id": "A", "lines": [P("90867")]}], dob="1980-01-01"), "TMS-009")
    assert hits(run("837P", [{"id": "A", "lines": [P("90867")]}], dob="2012-05-05"), "TMS-009")


def test_pa_catalog_examples():
    ok = run("837P", [{"id": "A", "g1": "A12345", "lines": [P("90868", "2025-12-01")]}], profile="ny-medicaid")
    assert not hits(ok, "PA-001")
    ko = run("837P", [{"id": "A", "lines": [P("90868", "2025-12-01")]}], profile="ny-medicaid")
    assert [f.severity.value for f in hits(ko, "PA-001")] == ["error"]
    assert not hits(run("837P", [{"id": "A", "lines": [P("90868", "2025-12-01")]}], profile="nm-medicaid"),
                    "PA-001")
    assert not hits(run("837P", [{"id": "A", "g1": "X", "lines": [P("90868", "2025-11-03")]}],
                        profile="ny-medicaid"), "PA-002")
    ko = run("837P", [{"id": "A", "g1": "X", "lines": [P("90868", "2025-10-15")]}], profile="ny-medicaid")
    assert [f.severity.value for f in hits(ko, "PA-002")] == ["warning"]


def test_messages_name_articles_not_shorthand():
    """Messages of the touched rules name sources by title (issue 12 item 9)."""
    import re

    fs = run("837P", [{"id": "A", "dx": ["ABK:F339"], "pos": "31",
                       "lines": [P("90868", "2025-02-02"), P("00104", basis="UN", units=2, npi=CRNA_NPI,
                                                             tax="367500000X"),
                                 P("99214"), P("90870", pos="22")]}], dob="2012-05-05")
    assert {"DX-002", "TMS-004", "TMS-007", "TMS-009", "ANE-001", "EM-001"} <= {f.rule for f in fs}
    for f in fs:
        assert not re.search(r"\bS[012]\b(?!-)|unverified|catalog", f.message), f.message
        assert not re.search(r"\bS[012]\b(?!-)|unverified|catalog", f.citation or ""), f.citation
