"""The edit pack's per-claim indexes (events by date, TMS courses) give the same
answers as scanning the patient's events: multi-day lines, lines across claims
and lines later on the same claim (synthetic 837s)."""

from __future__ import annotations

from edi837.checks import Engine
from edi837.checks.editpack.synth import build
from evs import found  # noqa: E402


def run(claims, kind="837P", **opts):
    eng = Engine(snip="7", **opts)
    return found(eng.run_file(build(kind, claims), file="t.x12"))


def hits(fs, rule):
    return [(f.claim_id, f.line_number) for f in fs if f.rule == rule]


def test_same_day_pair_against_an_earlier_multi_day_line():
    # 90868 billed over 3-5 March on claim A; 90869 on 4 March (claim B) falls inside it
    fs = run([{"id": "A", "lines": [{"code": "90867", "date": "2025-03-01"},
                                    {"code": "90868", "date": ("2025-03-03", "2025-03-05")}]},
              {"id": "B", "lines": [{"code": "90869", "date": "2025-03-04"}]}])
    assert hits(fs, "TMS-001") == [("B", 1)]
    # outside the span: no pair
    fs = run([{"id": "A", "lines": [{"code": "90868", "date": ("2025-03-03", "2025-03-05")}]},
              {"id": "B", "lines": [{"code": "90869", "date": "2025-03-06"}]}])
    assert hits(fs, "TMS-001") == []


def test_same_day_pair_only_with_earlier_lines_of_the_claim():
    fs = run([{"id": "A", "lines": [{"code": "90869", "date": "2025-03-04"},
                                    {"code": "90868", "date": "2025-03-04"}]}])
    assert hits(fs, "TMS-001") == [("A", 2)]  # the second line, not the first


def test_mue_sums_earlier_lines_and_claims_of_the_date_only():
    fs = run([{"id": "A", "lines": [{"code": "90868", "date": "2025-03-04"},
                                    {"code": "90868", "date": "2025-03-05"}]},
              {"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"}]}])
    assert hits(fs, "MUE-001") == [("B", 1)]


def test_em_without_25_seen_from_either_side():
    # the E/M line is the one to correct, whichever claim comes first
    em_first = run([{"id": "A", "lines": [{"code": "99213", "date": "2025-03-04"}]},
                    {"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"}]}])
    assert hits(em_first, "EM-001") == [("A", 1)]
    em_last = run([{"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"}]},
                   {"id": "A", "lines": [{"code": "99213", "date": "2025-03-04"}]}])
    assert hits(em_last, "EM-001") == [("A", 1)]
    same_claim = run([{"id": "A", "lines": [{"code": "90868", "date": "2025-03-04"},
                                            {"code": "99213", "date": "2025-03-04"}]}])
    assert hits(same_claim, "EM-001") == [("A", 2)]
    other_day = run([{"id": "A", "lines": [{"code": "99213", "date": "2025-03-03"}]},
                     {"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"}]}])
    assert hits(other_day, "EM-001") == []


def test_courses_split_by_the_gap_with_a_tiny_cache():
    claims = [{"id": "A", "lines": [{"code": "90867", "date": "2025-01-02"}]},
              {"id": "B", "lines": [{"code": "90867", "date": "2025-01-25"}]},  # < 30 days: same course
              {"id": "C", "lines": [{"code": "90867", "date": "2025-08-01"}]},  # >= 30 days: new course
              {"id": "D", "lines": [{"code": "90868", "date": "2025-08-02"}]}]
    for opts in ({}, {"editpack_cache": 1}):
        fs = run(claims, **opts)
        assert hits(fs, "TMS-003") == [("B", 1)]
        assert hits(fs, "TMS-004") == []
