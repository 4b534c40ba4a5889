"""Mutation fuzzing of 837 files through every face (validate, lines, parse, gate), in-process.

Used by tests/test_fuzz.py (bounded, in the default suite) and benchmarks/fuzz.py (longer;
keeps crashing inputs under tests/regressions/).  Only our synthetic fixtures are mutated
for stored regressions; corpus files may be fuzzed but never stored.
"""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path

from click.testing import CliRunner
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted(p for p in (ROOT / "fixtures").glob("*.x12"))

#: values that broke edi837 before or that stress number/date/time parsing
NASTY = ["", " ", "1E+999999999", "-1E-999999999", "NaN", "Infinity", "1²", "09²0", "٠١٢٣", "1e5",
         "99999999999999999999.99", "-0", ".", "20250230", "2561", "*", "~", ":", "^", "\n", "\x00",
         "ISA", "IEA*1*000000001", "SE*1*0001", "HL*1**20*1", "CLM*X*1", "LX*1", "\ufeff", "é", "A" * 300]

#: crashes known and not fixed yet: traceback signature -> cause.  A crash whose traceback holds
#: one is left to the regression tests (strict xfail) instead of failing the fuzz test.  Empty:
#: the three the fuzzer first found (issue 11 item 9) are fixed; keep it empty.
KNOWN_CRASHES: dict[str, str] = {}


@st.composite
def mutated(draw, sources=None) -> tuple[str, bytes]:
    """(source name, mutated bytes): one to three edits of one file."""
    srcs = sources or FIXTURES
    src = draw(st.sampled_from(srcs))
    data = bytearray(Path(src).read_bytes())
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace_element", "insert", "delete", "truncate", "dup_segment",
                                   "drop_segment", "byte"]))
        n = len(data)
        if n == 0:
            break
        i = draw(st.integers(0, n - 1))
        if op == "replace_element":
            # the element around byte i becomes a nasty or random value
            text = data.decode("utf-8", "replace")
            i = min(i, len(text) - 1)
            a = max(text.rfind("*", 0, i), text.rfind("~", 0, i)) + 1
            b = min([x for x in (text.find("*", i), text.find("~", i)) if x >= 0] or [len(text)])
            val = draw(st.one_of(st.sampled_from(NASTY), st.text(
                alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)))
            data = bytearray((text[:a] + val + text[b:]).encode("utf-8"))
        elif op == "insert":
            data[i:i] = draw(st.sampled_from(NASTY)).encode("utf-8")
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[i:]
        elif op == "byte":
            data[i] = draw(st.integers(0, 255))
        else:
            segs = bytes(data).split(b"~")
            k = draw(st.integers(0, max(0, len(segs) - 2)))
            if op == "dup_segment":
                segs.insert(k, segs[k])
            else:
                del segs[k]
            data = bytearray(b"~".join(segs))
    return Path(src).name, bytes(data)


def crashes(data: bytes) -> list[str]:
    """Run every face on the bytes; the problems found (tracebacks, bad exit codes, claims lost)."""
    from edi837.cli import main
    from edi837.gate import gate

    problems: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "in.x12"
        p.write_bytes(data)
        runner = CliRunner()
        for args in (["validate", str(p)], ["validate", "--snip", "1-5", "--format", "json", str(p)],
                     ["lines", "--format", "csv", str(p)], ["parse", "--format", "jsonl", str(p)],
                     ["parse", "--format", "json", str(p)], ["gate", str(p), "--out", str(Path(d) / "cli")]):
            r = runner.invoke(main, args)
            if r.exception is not None and not isinstance(r.exception, SystemExit):
                tb = "".join(traceback.format_exception(r.exception))
                problems.append(f"{args[0]}: {tb}")
            elif r.exit_code not in (0, 1, 2):
                problems.append(f"{args[0]}: exit code {r.exit_code}: {r.output[-300:]}")
            elif "Traceback (most recent call last)" in r.output:
                problems.append(f"{args[0]}: traceback printed: {r.output[-600:]}")
        try:
            res = gate([str(p)], str(Path(d) / "api"))
        except Exception as e:  # noqa: BLE001 - that is what we look for
            problems.append("gate(): " + "".join(traceback.format_exception(e)))
        else:
            for fg in res.files:
                acc, rej = list(fg.accepted_ids), list(fg.rejected_ids)
                if len(acc) + len(rej) != fg.result.claims or fg.result.claims != (
                        fg.result.accepted + fg.result.rejected):
                    problems.append(f"gate(): claims {fg.result.claims} != accepted {len(acc)} + rejected {len(rej)}")
    return problems


def known(problem: str) -> str | None:
    return next((why for sig, why in KNOWN_CRASHES.items() if sig in problem), None)
