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
