"""Issue 2 acceptance on the public corpus: every valid 5010 837 reads, one row
group per CLM, and no input makes `parse` or `lines` print a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import edi837
from edi837.cli import main
from edi837.findings import Severity
from edi837.model import stream

from shared_corpus import has_isa, ids, is_5010_837, needs_corpus, path, rows
from edi837.events import ClaimRead, Found  # noqa: E402

READABLE = [r for r in rows() if is_5010_837(r) and has_isa(r) and r["source_says"] != "invalid"]
ALL = rows()


@needs_corpus
@pytest.mark.parametrize("row", READABLE, ids=ids(READABLE))
def test_valid_5010_file_reads_without_error(row):
    # A missing envelope trailer (GRM-004: a docs example cut after its last
    # claim) and indented segments (RDR-008: the segments read, the spaces are
    # the finding) are SNIP 1 findings for the validator, not failures to read.
    errors = []
    claims = 0
    for ev in stream(path(row)):
        if isinstance(ev, Found) and (obj := ev.finding).severity is Severity.ERROR \
                and obj.rule not in ("GRM-004", "RDR-008"):
            errors.append(str(obj))
        elif isinstance(ev, ClaimRead):
            obj = ev.claim
            claims += 1
    assert errors == []
    assert claims == int(row["claims"])


@needs_corpus
@pytest.mark.parametrize("row", READABLE, ids=ids(READABLE))
def test_lines_gives_one_claim_seq_per_clm(row):
    seqs = {r["claim_seq"] for r in edi837.lines(path(row))}
    assert seqs == set(range(1, int(row["claims"]) + 1))


@needs_corpus
def test_corpus_selection_is_not_empty():
    assert len(READABLE) >= 90


@needs_corpus
@pytest.mark.parametrize("row", ALL, ids=ids(ALL))
def test_no_traceback_on_any_corpus_file(row):
    p = str(path(row))
    runner = CliRunner()
    for args in (["parse", p, "--format", "jsonl"], ["parse", p, "--format", "json"],
                 ["lines", p, "--format", "csv"]):
        res = runner.invoke(main, args)
        assert res.exit_code in (0, 1, 2), (args, res.output[-2000:])
        assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), \
            (args, repr(res.exception))
        assert "Traceback" not in res.output
        if res.exit_code:
            # every problem message names the file
            msgs = [ln for ln in res.stderr.splitlines() if "error" in ln]
            assert msgs and all(p in ln for ln in msgs), msgs[:3]
        if args[-1] == "json" and res.exit_code != 2:
            json.loads(res.stdout)
