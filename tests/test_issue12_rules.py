"""Issue 12 (edit pack a billing expert would sign off): the catalog's Pass/Fail
examples of the rules it revised, verbatim, and realistic claims for each item."""

from __future__ import annotations

from edi837.checks import Engine
from edi837.checks.editpack.synth import CRNA_NPI, PSYCH_NPI, build
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
    # the E/M on an earlier claim of the same provider and day: said on the 90870
    ko = run("837P", [{"id": "E", "pos": "21", "lines": [P("99232", pos="21")]},
                      {"id": "T", "pos": "21", "lines": [P("90870", pos="21")]}])
    assert [(f.claim_id, f.severity.value) for f in hits(ko, "EM-001")] == [("T", "error")]
    # another provider's E/M is not this rule's business
    other = run("837P", [{"id": "A", "pos": "21", "lines": [P("90870", pos="21"),
                                                              P("99232", pos="21", npi=CRNA_NPI)]}])
    assert not hits(other, "EM-001")
