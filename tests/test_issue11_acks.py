"""Issue 11: the gate's acknowledgments (999, TA1, 277CA).

- every 999 and 277CA the gate writes passes pyx12 (X231A1, X214), and every
  TA1 has the structure of one (pyx12 has no map for a TA1-only interchange),
  for every fixture and, when ../shared/corpus is present, a sample of the
  public corpus (all of it with EDI837_ACKS_FULL=1, or ``python
  tests/test_issue11_acks.py``);
- the submitter's ISA01-ISA04 security information is never echoed;
- a 4010 input is answered in a 00501 interchange (ISA11 ``^``);
- AK101 HC and AK103 always present; IK301 names a missing segment;
- values copied from the input stay in the 5010 character set; REF*BLT is a
  plain bill type whatever separator the input's CLM05 used;
- TA1, 999 and 277CA agree: an interchange the TA1 rejects is not accepted by
  the 999 or the 277CA.

Inputs are the synthetic fixtures, edited in memory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import pytest

from edi837.gate import gate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pyx12_check import pyx12_errors  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ALL_FIXTURES = sorted(FIXTURES.glob("*.x12")) + sorted((FIXTURES / "invalid").glob("*.x12"))
CORPUS = ROOT.parent / "shared" / "corpus" / "files"
NOW = dt.datetime(2026, 1, 1, 12, 0)
TMS = (FIXTURES / "837p_tms_course.x12").read_text()
TMS_I = (FIXTURES / "837i_tms_outpatient.x12").read_text()


def run(tmp_path: Path, text: str | bytes, name: str = "in.x12"):
    src = tmp_path / name
    if isinstance(text, str):
        src.write_text(text)
    else:
        src.write_bytes(text)
    res = gate([str(src)], str(tmp_path / "out"), control_number=1, now=NOW)
    return res.files[0]


def segments(path: str) -> list[list[str]]:
    return [s.strip("\r\n").split("*") for s in Path(path).read_text().split("~") if s.strip()]


def read(fg, kind: str) -> str:
    return Path(fg.paths[kind]).read_text()


def ta1_problems(text: str) -> list[str]:
    """What is wrong with a TA1 file (ISA TA1 IEA, repeated): [] = nothing."""
    out = []
    segs = [s.strip("\r\n") for s in text.split("~") if s.strip()]
    if len(segs) % 3:
        return [f"{len(segs)} segments: not ISA TA1 IEA triples"]
    for i in range(0, len(segs), 3):
        isa, ta1, iea = segs[i], segs[i + 1].split("*"), segs[i + 2].split("*")
        out += isa_problems(isa)
        if ta1[0] != "TA1" or len(ta1) != 6:
            out.append(f"not a TA1 with 5 elements: {segs[i + 1]}")
            continue
        if not re.fullmatch(r"\d{9}", ta1[1]):
            out.append(f"TA101 {ta1[1]!r}")
        if not re.fullmatch(r"\d{6}", ta1[2]) or not re.fullmatch(r"\d{4}", ta1[3]):
            out.append(f"TA102/TA103 {ta1[2]!r} {ta1[3]!r}")
        if ta1[4] not in ("A", "E", "R") or not re.fullmatch(r"\d{3}", ta1[5]):
            out.append(f"TA104/TA105 {ta1[4]!r} {ta1[5]!r}")
        if iea != ["IEA", "0", isa.split("*")[13]]:
            out.append(f"IEA {segs[i + 2]}")
    return out


def isa_problems(isa: str) -> list[str]:
    f = isa.split("*")
    out = []
    if len(isa) != 105 or len(f) != 17:
        out.append(f"ISA not fixed-width: {isa!r}")
    elif f[1:5] != ["00", " " * 10, "00", " " * 10]:
        out.append(f"ISA01-04 echo security information: {f[1:5]}")
    elif f[11] != "^" or f[12] != "00501" or f[16] != ":":
        out.append(f"ISA11/12/16 {f[11]!r} {f[12]!r} {f[16]!r}")
    return out


def ack_problems(fg) -> list[str]:
    """pyx12's errors for the 999 and 277CA, our own check of the TA1."""
    out = []
    for kind in ("999", "277ca"):
        if kind in fg.paths:
            data = Path(fg.paths[kind]).read_bytes()
            out += [f"{kind}: {m}" for m in pyx12_errors(data)]
            out += [f"{kind}: {m}" for m in isa_problems(data.decode().split("~")[0])]
    if "ta1" in fg.paths:
        out += [f"ta1: {m}" for m in ta1_problems(read(fg, "ta1"))]
        # agreement: no claim of an interchange the TA1 rejects is accepted; when every
        # claim is in such an interchange and the 999 answers one interchange, it rejects
        rejected = {s[1] for s in segments(fg.paths["ta1"]) if s[0] == "TA1" and s[4] == "R"}
        ics = {r.interchange.strip().rjust(9, "0") for r in fg.results}
        if any(r.verdict == "accepted" and r.interchange.strip().rjust(9, "0") in rejected
               for r in fg.results):
            out.append("a claim of an interchange the TA1 rejects is accepted")
        s999 = segments(fg.paths["999"]) if "999" in fg.paths else []
        if ics and ics <= rejected and sum(s[0] == "ISA" for s in s999) == 1 and any(
                s[0] in ("IK5", "AK9") and s[1] != "R" for s in s999):
            out.append("the TA1 rejects the interchange, the 999 accepts")
    return out


# -- the measurement: every acknowledgment passes pyx12 ---------------------------------------
@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_acks_pass_pyx12(tmp_path, path):
    fg = run(tmp_path, path.read_bytes(), path.name)
    assert ack_problems(fg) == []


def corpus_files(full: bool) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    return files if full else files[::5]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared corpus absent")
def test_corpus_acks_pass_pyx12(tmp_path):
    """A fifth of the corpus (all of it with EDI837_ACKS_FULL=1): ~15 s."""
    bad = measure(corpus_files(bool(os.environ.get("EDI837_ACKS_FULL"))), tmp_path)
    assert bad == []


def measure(files: list[Path], tmp: Path) -> list[str]:
    bad = []
    for i, p in enumerate(files):
        res = gate([str(p)], str(tmp / str(i)), control_number=1, now=NOW)
        bad += [f"{p.name}: {m}" for m in ack_problems(res.files[0])]
    return bad


# -- item 7: security information is not echoed -------------------------------------------------
def test_isa_security_information_not_echoed(tmp_path):
    text = TMS.replace("ISA*00*          *00*          *", "ISA*01*SECRETUSER*01*PASSWORD99*", 1)
    text = text.replace("*00501*000001001*0*T*", "*00501*000001001*1*T*", 1)  # ask for a TA1
    fg = run(tmp_path, text)
    assert {"999", "277ca", "ta1"} <= set(fg.paths)
    for kind in ("999", "277ca", "ta1"):
        ack = read(fg, kind)
        assert "SECRETUSER" not in ack and "PASSWORD99" not in ack, kind
        assert segments(fg.paths[kind])[0][1:5] == ["00", " " * 10, "00", " " * 10], kind
    assert ack_problems(fg) == []
    # the split 837 keeps the submitter's ISA as it came
    assert "PASSWORD99" in read(fg, "accepted" if "accepted" in fg.paths else "rejected")


# -- item 6: a 4010 interchange is answered in a 00501 one ---------------------------------------
def test_00401_input_gets_00501_acknowledgments(tmp_path):
    text = TMS.replace("*^*00501*000001001*0*T*", "*U*00401*000001001*1*T*", 1)
    fg = run(tmp_path, text)
    for kind in ("999", "277ca", "ta1"):
        isa = segments(fg.paths[kind])[0]
        assert (isa[11], isa[12]) == ("^", "00501"), kind
    assert ack_problems(fg) == []  # pyx12 had no map for a 999 in a 00401 interchange


def test_isa_not_fixed_width_gives_fixed_width_acks(tmp_path):
    text = TMS.replace("*ZZ*SYNTHPAYER     *", "*ZZ*SYNTHPAYER*", 1).replace("*XX*", "*XX*", 1)
    fg = run(tmp_path, text)
    isa = segments(fg.paths["999"])[0]
    assert isa[6] == "SYNTHPAYER     " and isa_problems("*".join(isa)) == []
    assert ack_problems(fg) == []


# -- item 6: AK1 ------------------------------------------------------------------------------------
def test_ak103_from_st03_when_gs08_is_empty(tmp_path):
    text = TMS.replace("*1001*X*005010X222A1~", "*1001*X*~", 1)
    fg = run(tmp_path, text)
    ak1 = next(s for s in segments(fg.paths["999"]) if s[0] == "AK1")
    assert ak1 == ["AK1", "HC", "1001", "005010X222A1"]
    assert ack_problems(fg) == []


def test_ak101_is_hc_whatever_gs01(tmp_path):
    fg = run(tmp_path, TMS.replace("GS*HC*", "GS*XX*", 1))
    ak1 = next(s for s in segments(fg.paths["999"]) if s[0] == "AK1")
    assert ak1[1] == "HC"
    assert ack_problems(fg) == []


# -- item 6: IK301 names the missing segment ----------------------------------------------------------
def _drop(text: str, seg: str) -> str:
    assert seg + "~" in text
    return text.replace(seg + "~\n", "", 1)


def test_ik3_names_missing_segment_like_pyx12(tmp_path):
    # 2010AA without its N4: pyx12 says IK3*N4*10**3 (the REF*EI standing in its place)
    fg = run(tmp_path, _drop(TMS, "N4*SPRINGFIELD*IL*627040123"))
    ik3 = [s for s in segments(fg.paths["999"]) if s[0] == "IK3"]
    assert ["IK3", "N4", "10", "", "3"] in ik3
    assert not any(s[1] == "NM1" and s[4] == "3" for s in ik3)
    assert ack_problems(fg) == []


def test_ik3_names_missing_loop_like_pyx12(tmp_path):
    # 2000B without its 2010BB payer: pyx12 says IK3*NM1*18**3 (the CLM after the 2000B)
    fg = run(tmp_path, _drop(TMS, "NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*SYNHP1"))
    ik3 = [s for s in segments(fg.paths["999"]) if s[0] == "IK3"]
    assert ["IK3", "NM1", "18", "", "3"] in ik3


# -- item 6: copied values: character set, REF*BLT ------------------------------------------------------
def test_non_ascii_input_values_are_cleaned(tmp_path):
    text = TMS.replace("SYNAPSE PSYCHIATRY ASSOCIATES", "SYNAPSE\u2019S PSYCHIATRIE ÉTÉ", 1)
    text = text.replace("SYNTHETIC CLEARINGHOUSE", "JEN & BARRY\u2019S CLEARINGHOUSE", 1)
    fg = run(tmp_path, text.encode("utf-8"))
    ack = read(fg, "277ca")
    assert "NM1*85*2*SYNAPSE'S PSYCHIATRIE ETE" in ack
    assert ack_problems(fg) == []


def test_ref_blt_is_plain_whatever_separator_the_input_used(tmp_path):
    clm05 = re.search(r"CLM\*[^*]*\*[^*]*\*\*\*([^*]*)\*", TMS_I).group(1)
    assert clm05 == "13:A:1"
    fg = run(tmp_path, TMS_I.replace("***13:A:1*", "***13>A>1*", 1))
    blt = [s for s in segments(fg.paths["277ca"]) if s[:2] == ["REF", "BLT"]]
    assert blt == [["REF", "BLT", "131"]]
    assert ack_problems(fg) == []


# -- item 5: TA1, 999 and 277CA agree --------------------------------------------------------------
def _agree(fg) -> None:
    """The TA1 rejects the (only) interchange: no 999 group or transaction accepted,
    no claim accepted by the 277CA, nothing in an accepted output."""
    ta1 = [s for s in segments(fg.paths["ta1"]) if s[0] == "TA1"]
    assert [s[4] for s in ta1] == ["R"]
    s999 = segments(fg.paths["999"])
    assert [s[1] for s in s999 if s[0] == "IK5"] and all(s[1] == "R" for s in s999 if s[0] == "IK5")
    assert all(s[1] == "R" and s[4] == "0" for s in s999 if s[0] == "AK9")
    stc = [s[1] for s in segments(fg.paths["277ca"]) if s[0] == "STC" and s[1].startswith("A")]
    assert not [c for c in stc if c == "A1:20"] and "A3:21" in stc
    assert "accepted" not in fg.paths and fg.result.accepted == 0


def test_no_gs_ge_acks_agree(tmp_path):
    text = "".join(ln for ln in TMS.splitlines(keepends=True) if not ln.startswith(("GS*", "GE*")))
    fg = run(tmp_path, text)
    _agree(fg)  # before: TA1 R but IK5*A and AK9*A
    assert ack_problems(fg) == []


def test_missing_iea_acks_agree(tmp_path):
    fg = run(tmp_path, (FIXTURES / "invalid" / "missing_iea.x12").read_text())
    _agree(fg)


def test_iea_control_mismatch_acks_agree(tmp_path):
    fg = run(tmp_path, TMS.replace("IEA*1*000001001", "IEA*1*000009999"))
    _agree(fg)


if __name__ == "__main__":  # the full run over the corpus, with a count
    import tempfile

    files = corpus_files(True) + ALL_FIXTURES
    with tempfile.TemporaryDirectory() as d:
        problems = measure(files, Path(d))
    print("\n".join(problems))
    print(f"{len(files)} inputs, {len(problems)} acknowledgment problems")
    sys.exit(1 if problems else 0)
