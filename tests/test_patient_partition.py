"""The cross-claim rules read one patient's claims only: a run cut by patient (member id and
payer, the start of every patient key) gives, part by part, the findings and verdicts of the
whole run.  This is what a ``--jobs`` split by patient would rest on (benchmarks/README.md,
"A split by patient, measured").  A cross-claim rule that came to read other patients'
claims would make the parts differ from the whole wherever these batches give it such a claim
to read."""

from __future__ import annotations

import collections
import random
import re
import sys
import zlib
from pathlib import Path

import pytest

from edi837.checks.engine import Engine
from edi837.checks.options import RunOptions
from edi837.events import ClaimVerdict, Found

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

CROSS = ("DUP-001", "EM-001", "MUE-001", "ANE-001", "TMS-001", "TMS-003", "TMS-004", "TMS-006", "TMS-009",
         "TMS-010", "ECT-004", "ECT-008")
# DUP-001 names where the first copy is (its file and ordinal), which the cut moves
_PLACE = re.compile(r"first sent in this run: .*?, claim \d+")


def _outcome(path: str, opts: RunOptions) -> tuple[collections.Counter, collections.Counter]:
    found: collections.Counter = collections.Counter()
    claims: collections.Counter = collections.Counter()
    for ev in Engine(opts).run([path]):
        if isinstance(ev, Found):
            f = ev.finding
            found[(f.claim_id, f.rule, _PLACE.sub("first sent in this run: (place)", f.message),
                   f.element, f.segment_id)] += 1
        elif isinstance(ev, ClaimVerdict):
            claims[(ev.result.claim_id, ev.result.verdict)] += 1
    return found, claims


@pytest.mark.parametrize("kind", ["837P", "837I"])
def test_generated_file_cut_by_patient(tmp_path, kind):
    """benchmarks/patient_split.py's cut of a generated file (subscriber loops by member id and
    payer, three parts): the parts' findings and verdicts are the whole file's, TMS course
    findings across claims included."""
    import generate
    from patient_split import cut

    whole = tmp_path / "whole.x12"
    generate.generate(str(whole), 1200, kind, 3, 400, 1)
    parts = cut(whole.read_text(), 3)
    want = _outcome(str(whole), RunOptions())
    found: collections.Counter = collections.Counter()
    claims: collections.Counter = collections.Counter()
    for k, text in enumerate(parts):
        p = tmp_path / f"part{k}.x12"
        p.write_text(text)
        f, c = _outcome(str(p), RunOptions())
        assert sum(c.values()) > 200, k  # (every part holds a share of the claims)
        found += f
        claims += c
    assert sum(want[1].values()) == 1200
    assert (found, claims) == want
    assert {k[1] for k in want[0]} & {"TMS-004", "TMS-009"}


@pytest.mark.parametrize("seed", [0, 3])
def test_random_batches_cut_by_patient(tmp_path, seed):
    """The random cross-claim batches of the split tests (TMS, ECT, anesthesia, E/M, IPF stays,
    replacements, voids, claims sent twice; four members, two payers) cut by (member, payer):
    one run per patient gives the whole batch's findings and verdicts, with --profile medicare
    too."""
    from edi837.checks.editpack.synth import build
    from test_parallel_split_file import _random_batch

    rng = random.Random(seed)
    items = _random_batch(rng)
    payers = [rng.choice(["SYNHP1", "SYNHP1", "MEDICARE01"]) for _ in items]

    def write(path: Path, keep) -> str:
        path.write_bytes(b"".join(build(kind, claims, member=member, isa=f"{300 + i:09d}", payer=payers[i])
                                  for i, (kind, member, claims) in enumerate(items) if keep(i)))
        return str(path)

    whole = write(tmp_path / "whole.x12", lambda i: True)
    keys = sorted({(items[i][1], payers[i]) for i in range(len(items))})
    assert len(keys) > 2
    for opts in (RunOptions(), RunOptions(profile="medicare")):
        want = _outcome(whole, opts)
        found: collections.Counter = collections.Counter()
        claims: collections.Counter = collections.Counter()
        for k in keys:
            # (a patient's claims in a part of their own: crc32 only names the file)
            name = f"p{zlib.crc32(repr(k).encode())}.x12"
            f, c = _outcome(write(tmp_path / name, lambda i: (items[i][1], payers[i]) == k), opts)
            found += f
            claims += c
        assert (found, claims) == want, opts.profile
        fired = {k[1] for k in want[0]} & set(CROSS)
        assert len(fired) >= 5, fired
