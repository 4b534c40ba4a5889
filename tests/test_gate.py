"""The clearinghouse gate: split files, 999, 277CA, TA1, report, conservation, atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import edi837.gate as gate_mod
from edi837.findings import Finding, Severity
from edi837.gate import gate, gate_command
from edi837.model.build import iter_claims
from edi837.outputs.ack999 import GroupInfo, TxInfo, build_999

from pyx12_check import pyx12_errors  # noqa: E402
from test_parallel import tms_course_files  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
VALID = sorted(FIXTURES.glob("*.x12"))
INVALID = sorted((FIXTURES / "invalid").glob("*.x12"))
CORPUS = ROOT.parent / "shared" / "corpus" / "files"
NOW = gate_mod._dt.datetime(2026, 1, 1, 12, 0)




def segs(path: Path) -> list[list[str]]:
    return [s.strip().split("*") for s in path.read_text().split("~") if s.strip()]


def claim_ids(source) -> list[str]:
    return [c.claim_id for c in iter_claims(source)]


def run(tmp_path: Path, src: Path | str, **kw):
    out = tmp_path / "out"
    res = gate([str(src)], str(out), control_number=1, now=NOW, **kw)
    return res, out


# -- pyx12 validates what we write ----------------------------------------------------------
@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: p.name)
def test_outputs_validate_with_pyx12(tmp_path, path):
    res, out = run(tmp_path, path)
    fg = res.files[0]
    kinds = ["999", "277ca", "accepted"]
    if path.name != "truncated.x12":  # its rejected claim is cut mid-segment, as received
        kinds.append("rejected")
    for kind in kinds:
        if kind in fg.paths:
            assert pyx12_errors(Path(fg.paths[kind]).read_bytes()) == [], (kind, fg.paths[kind])
    if fg.result.claims:
        assert "999" in fg.paths and "277ca" in fg.paths


# -- conservation -------------------------------------------------------------------------
def _conserved(tmp_path: Path, path: Path) -> None:
    res, out = run(tmp_path, path)
    fg = res.files[0]
    try:
        ids_in = claim_ids(str(path))
    except Exception:  # noqa: BLE001 - unreadable input: nothing to conserve
        ids_in = []
    got = []
    for kind in ("accepted", "rejected"):
        if kind in fg.paths:
            ids = claim_ids(fg.paths[kind])
            assert ids == (fg.accepted_ids if kind == "accepted" else fg.rejected_ids)
            got.extend(ids)
    assert sorted(got) == sorted(ids_in)
    assert fg.result.claims == len(ids_in) == fg.result.accepted + fg.result.rejected
    assert len(fg.accepted_ids) == fg.result.accepted and len(fg.rejected_ids) == fg.result.rejected
    for kind in ("accepted", "rejected"):  # a split file with no claim is not written
        assert (kind in fg.paths) == bool(getattr(fg.result, kind))
        assert (out / f"{Path(path).stem}.{kind}.x12").exists() == bool(getattr(fg.result, kind))


@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: p.name)
def test_conservation_fixtures(tmp_path, path):
    _conserved(tmp_path, path)


def _corpus_files():
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared corpus absent")
def test_conservation_corpus(tmp_path):
    files = _corpus_files()
    assert files
    for i, p in enumerate(files):
        _conserved(tmp_path / str(i), p)


# -- HL rebuild -------------------------------------------------------------------------------
def test_split_rebuilds_hierarchy(tmp_path):
    """Reject the middle claims of a transaction: both halves are valid 837s with HLs renumbered."""
    text = (FIXTURES / "multi_envelope.x12").read_text()
    src = tmp_path / "in.x12"
    src.write_text(text)
    res, out = run(tmp_path, src)
    # force a split by verdict: the splitter itself, with pass-1 verdicts replaced
    from edi837.outputs.split import ControlCounter, Splitter, output_paths
    from edi837.model.build import stream
    import contextlib
    verdicts = {i: ("rejected" if i in (3, 6, 11) else "accepted") for i in range(1, 13)}
    d = tmp_path / "split"
    d.mkdir()
    hl = {"accepted": set(), "rejected": set()}
    # ME2A claims sit under a 2000C patient HL (transaction 4, subscriber HL 2)
    hl["accepted"].add((4, "2"))
    hl["rejected"].add((4, "2"))
    for tx in (1, 2, 3, 4):
        for v in hl:
            hl[v].add((tx, "1"))
    with contextlib.ExitStack() as st:
        sp = Splitter(output_paths(str(d), "x"), verdicts, hl, ControlCounter(7), st)
        sp.run(stream(str(src)))
    for v in ("accepted", "rejected"):
        p = d / f"x.{v}.x12"
        assert pyx12_errors(p.read_bytes()) == [], v
        hls = [s for s in segs(p) if s[0] == "HL"]
        assert hls[0][1] == "1"
    assert sp.written["rejected"] == ["ME1B01", "ME1C02", "ME2A01"]


# -- 999 ---------------------------------------------------------------------------------------
def _ak(out: Path, name: str) -> list[list[str]]:
    return segs(out / f"{name}.999.x12")


def test_999_se_count_wrong_is_rejected(tmp_path):
    res, out = run(tmp_path, FIXTURES / "invalid" / "se_count_wrong.x12")
    s = _ak(out, "se_count_wrong")
    ik5 = [x for x in s if x[0] == "IK5"]
    assert ik5 and ik5[0][1] == "R"
    assert [x for x in s if x[0] == "AK9"][0][1] == "R"
    assert res.files[0].result.rejected == res.files[0].result.claims == 4
    assert res.exit_code == 1


def test_999_partial_ak9_p(tmp_path):
    """ST 0002 of multi_envelope gets a wrong SE01: that transaction R, its group P."""
    text = (FIXTURES / "multi_envelope.x12").read_text()
    lines = text.split("~")
    # find SE of ST*837*0002 in the first interchange
    st = next(i for i, l in enumerate(lines) if l.strip().startswith("ST*837*0002"))
    se = next(i for i in range(st, len(lines)) if lines[i].strip().startswith("SE*"))
    f = lines[se].strip().split("*")
    lines[se] = lines[se].replace(f"SE*{f[1]}*", f"SE*{int(f[1]) + 1}*")
    src = tmp_path / "mixed.x12"
    src.write_text("~".join(lines))
    res, out = run(tmp_path, src)
    s = _ak(out, "mixed")
    blocks: dict[str, str] = {}
    cur = None
    ak9 = []
    for x in s:
        if x[0] == "AK1":
            grp = x[2]
        if x[0] == "AK2":
            cur = (grp, x[2])
        if x[0] == "IK5":
            blocks[cur] = x[1]
        if x[0] == "AK9":
            ak9.append((grp, x[1]))
    assert blocks[("2001", "0002")] == "R"
    assert blocks[("2001", "0001")] == "A"
    assert dict(ak9)["2001"] == "P"
    assert dict(ak9)["2002"] == "A"
    assert pyx12_errors((out / "mixed.999.x12").read_bytes()) == []
    # the rejected transaction's claims are rejected, the others accepted; all conserved
    fg = res.files[0]
    assert sorted(fg.rejected_ids) == ["ME1B01", "ME1B02", "ME1C01", "ME1C02"]
    assert fg.result.accepted == 8


def test_999_ik3_ik4_codes_from_findings():
    """Guide errors land under the IK3/IK4 of their segment and element."""
    g = GroupInfo(gs=["GS", "HC", "A", "B", "20260101", "1200", "77", "X", "005010X222A1"],
                  isa=None, gs_seq=2)
    t1 = TxInfo(st=["ST", "837", "0001", "005010X222A1"], st_seq=3, tx_no=1, end_seq=40)
    t2 = TxInfo(st=["ST", "837", "0002", "005010X222A1"], st_seq=41, tx_no=2, end_seq=80)
    g.txs = [t1, t2]
    fs = [
        Finding(rule="X1", severity=Severity.ERROR, message="m", snip=2, segment_seq=25,
                segment_id="CLM", element="CLM05-1", ik3="8", ik4="7", value="99", claim_seq=1,
                claim_id="C1", loop="2000A/2000B/2300"),
        Finding(rule="X2", severity=Severity.ERROR, message="m", snip=2, segment_seq=26,
                segment_id="ZZZ", ik3="2", claim_seq=1, claim_id="C1"),
        Finding(rule="X3", severity=Severity.ERROR, message="m", snip=1, segment_seq=80,
                segment_id="SE", element="SE01", ik3="8", ik4="6", value="9"),
        Finding(rule="X4", severity=Severity.ERROR, message="m", snip=5, segment_seq=60,
                segment_id="SV1", element="SV101-2", ik3="8", ik4="7"),  # SNIP 5: not in 999
    ]

    class C:
        def __init__(self, tx, v):
            self.tx_no, self.verdict = tx, v

    (gi, body, ak9), = build_999([g], fs, [C(1, "accepted"), C(1, "rejected"), C(2, "rejected")])
    assert body[0] == ["AK1", "HC", "77", "005010X222A1"]
    assert ["IK3", "CLM", "23", "2300", "8"] in body
    assert ["CTX", "CLM01:C1"] in body
    assert ["IK4", "5:1", "", "7", "99"] in body
    assert ["IK3", "ZZZ", "24", "", "2"] in body
    assert ["IK3", "SE", "40", "", "8"] in body
    assert ["IK4", "1", "", "6", "9"] in body
    assert not any(x[0] == "IK3" and x[1] == "SV1" for x in body)
    ik5 = [x for x in body if x[0] == "IK5"]
    assert ik5[0][1] == "E"  # claim-level errors, one claim accepted
    assert ik5[1][:3] == ["IK5", "R", "4"]  # envelope error
    assert ak9 == "P" and body[-1][:5] == ["AK9", "P", "2", "2", "1"]


# -- TA1 ---------------------------------------------------------------------------------------
def test_ta1_for_missing_iea_and_isa14(tmp_path):
    res, out = run(tmp_path, FIXTURES / "invalid" / "missing_iea.x12")
    s = segs(out / "missing_iea.ta1.x12")
    assert [x[0] for x in s] == ["ISA", "TA1", "IEA"]
    assert s[1][4] == "R" and s[1][1] == "000001001"
    text = (FIXTURES / "837p_tms_course.x12").read_text()
    isa = text.split("~", 1)[0]
    f = isa.split("*")
    f[14] = "1"
    src = tmp_path / "ack.x12"
    src.write_text("*".join(f) + "~" + text.split("~", 1)[1])
    res, out = run(tmp_path / "b", src)
    s = segs(out / "ack.ta1.x12")
    assert s[1][4:6] == ["A", "000"]
    assert not (tmp_path / "out" / "837p_tms_course.ta1.x12").exists()
    res, out = run(tmp_path / "c", FIXTURES / "837p_tms_course.x12")
    assert "ta1" not in res.files[0].paths


# -- 277CA ------------------------------------------------------------------------------------
def test_277ca_claim_status(tmp_path):
    res, out = run(tmp_path, FIXTURES / "invalid" / "se_count_wrong.x12")
    s = segs(out / "se_count_wrong.277ca.x12")
    assert s[3][:3] == ["BHT", "0085", "08"]
    trn = [x[2] for x in s if x[0] == "TRN" and x[1] == "2"][1:]
    assert trn == claim_ids(str(FIXTURES / "invalid" / "se_count_wrong.x12"))
    stc = [x for x in s if x[0] == "STC" and x[1].startswith("A3")]
    assert len(stc) == 4 and all(x[3] == "U" and x[12].startswith("rejected by ") for x in stc)
    assert any(x[:3] == ["DTP", "472", "RD8"] for x in s)
    res, out = run(tmp_path / "b", FIXTURES / "837i_ect_inpatient.x12")
    s = segs(out / "837i_ect_inpatient.277ca.x12")
    assert ["STC", "A1:20", "20260101", "WQ", "12900"] in s or any(
        x[0] == "STC" and x[1] == "A1:20" for x in s)
    assert ["DTP", "472", "RD8", "20260202-20260209"] in s or any(
        x[:3] == ["DTP", "472", "RD8"] for x in s)
    assert any(x[:2] == ["REF", "BLT"] for x in s)


# -- atomicity, reproducibility, CLI ----------------------------------------------------------
def test_failure_half_way_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gate_mod, "write_999", boom)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        gate([str(FIXTURES / "multi_envelope.x12")], str(out), control_number=1, now=NOW)
    assert sorted(os.listdir(out)) == []


def test_killed_subprocess_leaves_no_output(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    big = tmp_path / "big.x12"
    text = (FIXTURES / "multi_envelope.x12").read_text()
    big.write_text(text * 300)
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "edi837.gate", str(big), "--out", str(out),
                          "--control-number", "1", "--now", "2026-01-01T12:00"], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(
            n.endswith(".part") for n in os.listdir(out))):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = [n for n in os.listdir(out) if not n.startswith(".")] if out.exists() else []
    assert left == []  # temporaries may remain as hidden .part files, never an output


def test_reproducible_byte_for_byte(tmp_path):
    r = CliRunner()
    outs = []
    for i in (1, 2):
        d = tmp_path / f"o{i}"
        res = r.invoke(gate_command, [str(FIXTURES / "multi_envelope.x12"),
                                      str(FIXTURES / "invalid" / "se_count_wrong.x12"),
                                      str(FIXTURES / "invalid" / "missing_iea.x12"),
                                      "--out", str(d), "--control-number", "1",
                                      "--now", "2026-01-01T12:00"])
        assert res.exit_code == 1, res.output
        outs.append({n: (d / n).read_bytes() for n in sorted(os.listdir(d))})
    assert outs[0] == outs[1]
    assert any(n.endswith(".ta1.x12") for n in outs[0])


def test_cli_exit_codes_and_summary(tmp_path):
    r = CliRunner()
    res = r.invoke(gate_command, [str(tmp_path / "missing.x12"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "missing.x12" in res.output and "Traceback" not in res.output
    res = r.invoke(gate_command, [str(FIXTURES / "837p_tms_course.x12"), "--out",
                                  str(tmp_path / "o"), "--snip", "1-2"])
    assert res.exit_code == 0, res.output
    assert "4 claims in, 4 accepted, 0 rejected" in res.output
    res = r.invoke(gate_command, [str(FIXTURES / "invalid" / "se_count_wrong.x12"), "--out",
                                  str(tmp_path / "o")])
    assert res.exit_code == 1
    res = r.invoke(gate_command, ["--out", str(tmp_path / "o")])
    assert res.exit_code == 2


def test_report_json(tmp_path):
    import json
    res, out = run(tmp_path, FIXTURES / "invalid" / "se_count_wrong.x12")
    rep = json.loads((out / "se_count_wrong.report.json").read_text())
    assert {"files", "claims", "findings"} <= set(rep)
    assert [c["claim_id"] for c in rep["claims"]] == claim_ids(
        str(FIXTURES / "invalid" / "se_count_wrong.x12"))
    assert all(c["verdict"] == "rejected" for c in rep["claims"])
    assert rep["findings"]


def test_gate_bad_profile_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from edi837.gate import gate_command

    res = CliRunner().invoke(gate_command, [str(FIXTURES / "837p_tms_course.x12"), "--out",
                                            str(tmp_path / "o"), "--profile", "nosuch"])
    assert res.exit_code == 2 and "nosuch" in res.output and "Traceback" not in res.output


# -- --jobs N: the outputs of one job ----------------------------------------------------------
def _gate_cli(out: Path, args: list[str], jobs: int, *extra: str):
    res = CliRunner().invoke(gate_command, [*args, "--out", str(out), "--now", "2026-01-01T12:00",
                                            "--jobs", str(jobs), *extra])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output
    files = {n: (out / n).read_bytes() for n in sorted(os.listdir(out))} if out.exists() else {}
    return res.exit_code, res.output, files


def test_jobs2_outputs_identical_to_jobs1_all_fixtures(tmp_path, monkeypatch):
    import tempfile

    parts = tmp_path / "parts"
    parts.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(parts))  # where the workers' part files go
    (tmp_path / "tms").mkdir()
    tms = tms_course_files(tmp_path / "tms")
    args = [tms[0], *map(str, VALID), *map(str, INVALID), tms[1]]
    one = _gate_cli(tmp_path / "one", args, 1, "--control-number", "41")
    two = _gate_cli(tmp_path / "two", args, 2, "--control-number", "41")
    code, summary, files = one
    assert two == one  # exit code, summary lines, every output byte for byte
    assert code == 1
    assert summary.splitlines() == [f"{a}: " + line.split(": ", 1)[1]
                                    for a, line in zip(args, summary.splitlines())]
    assert any(n.endswith(".ta1.x12") for n in files)
    assert any(n.endswith(".rejected.x12") for n in files)
    # cross-claim rules saw claims of earlier files: C2's second 90867 (TMS-003), which the
    # file alone does not give
    assert b"TMS-003" in files["b.report.json"]
    assert b"CLM*C2*" in files["b.rejected.x12"]
    alone = _gate_cli(tmp_path / "alone", [tms[1]], 1, "--control-number", "41")[2]
    assert b"TMS-003" not in alone["b.report.json"]
    # control numbers run on from file to file, as with one job
    isa13 = [int(s[13]) for n, b in files.items() if n.endswith(".x12")
             for s in (x.split("*") for x in b.decode().replace("\n", "").split("~")) if s[0] == "ISA"]
    assert min(isa13) == 41 and len(set(isa13)) == len(isa13)
    # the workers' part files go to DIR's scratch folder (a killed run's are removed by the
    # next run), not to the system's temporary folder; removed at the end
    assert list(parts.iterdir()) == [] and ".edi837-gate-tmp" not in files


def test_jobs2_counter_file_and_folder(tmp_path):
    """Without --control-number the counter kept in the output folder runs on the same way."""
    one = _gate_cli(tmp_path / "one", [str(FIXTURES)], 1)
    two = _gate_cli(tmp_path / "two", [str(FIXTURES)], 2)
    assert two == one and one[0] == 1
    assert int(one[2][".edi837-gate-control"]) > 1
    again = [_gate_cli(tmp_path / d, [str(FIXTURES)], j)[2] for d, j in (("one", 1), ("two", 2))]
    assert again[0] == again[1] and again[0] != one[2]


def test_jobs2_bad_input(tmp_path):
    empty, binary, truncated = (str(FIXTURES / "invalid" / n)
                                for n in ("empty.x12", "binary.x12", "truncated.x12"))
    good = str(FIXTURES / "837p_tms_course.x12")
    args = [empty, good, binary, truncated]
    one = _gate_cli(tmp_path / "one", args, 1, "--control-number", "1")
    code, out, files = _gate_cli(tmp_path / "two", args, 2, "--control-number", "1")
    assert (code, out, files) == one
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == args
    assert "4 claims in, 4 accepted, 0 rejected" in out
    assert "empty.report.json" in files and "837p_tms_course.accepted.x12" in files
    assert not any(n.startswith(".") and n.endswith(".part") for n in files)
    # a missing file, or a bad option, stops the run before anything is written
    for extra, word in (([str(tmp_path / "missing.x12")], "missing.x12"),
                        (["--profile", "nosuch"], "nosuch")):
        code, out, files = _gate_cli(tmp_path / "three", [good, truncated, *extra], 2)
        assert code == 2 and word in out and files == {}
    res = CliRunner().invoke(gate_command, [good, good, "--out", str(tmp_path / "four"),
                                            "--jobs", "0"])
    assert res.exit_code == 2 and "--jobs" in res.output


def test_jobs2_failure_half_way_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def boom(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return real(*a, **k)

    real = gate_mod.write_999
    monkeypatch.setattr(gate_mod, "write_999", boom)
    out = tmp_path / "out"
    files = [str(FIXTURES / "multi_envelope.x12"), str(FIXTURES / "837p_tms_course.x12"),
             str(FIXTURES / "invalid" / "se_count_wrong.x12")]
    with pytest.raises(RuntimeError):
        gate(files, str(out), control_number=1, now=NOW, jobs=2)
    # the first file's outputs were complete; nothing of the second, no temporary
    assert all(n.startswith("multi_envelope.") for n in os.listdir(out))
    assert "multi_envelope.999.x12" in os.listdir(out)


def test_jobs2_with_history_identical(tmp_path):
    """--history lives in the parent: the same outputs as one job, run after run."""
    (tmp_path / "tms").mkdir()
    args = [*tms_course_files(tmp_path / "tms"), str(FIXTURES / "837p_tms_course.x12"),
            str(FIXTURES / "837i_tms_outpatient.x12")]
    for run_no in (1, 2):
        one, two = (_gate_cli(tmp_path / f"j{j}.{run_no}", args, j, "--control-number", "5",
                              "--history", str(tmp_path / f"h{j}.sqlite")) for j in (1, 2))
        assert two == one and one[0] == 1
        assert b"TMS-003" in one[2]["b.report.json"]
