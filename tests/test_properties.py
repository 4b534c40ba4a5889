"""Property tests: mutated 837 files never crash the engine, and a mutation
inside one transaction does not change the verdicts of claims elsewhere."""

from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edi837.checks import Engine
from evs import verdicts as verdicts_of  # noqa: E402

FX = Path(__file__).resolve().parent.parent / "fixtures"
VALID = sorted(p.name for p in FX.glob("*.x12"))
ENVELOPE_IDS = ("ISA", "IEA", "GS", "GE", "ST", "SE")
SAFE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-", max_size=12)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run_all(data: bytes):
    return list(Engine().run_file(data))


def verdicts(events):
    return {(c.interchange, c.group, c.transaction, c.claim_id): c.verdict for c in verdicts_of(events)}


def _segments(data: bytes) -> list[bytes]:
    return data.split(b"~")


def mutate_segments(segs: list[bytes], lo: int, hi: int, data) -> list[bytes]:
    """One mutation of segments lo..hi-1 (drop, duplicate, swap, change an element, cut a segment)."""
    segs = list(segs)
    i = data.draw(st.integers(lo, hi - 1), label="segment")
    op = data.draw(st.sampled_from(["drop", "dup", "swap", "element", "cut"]), label="op")
    if op == "drop":
        del segs[i]
    elif op == "dup":
        segs.insert(i, segs[i])
    elif op == "swap":
        j = data.draw(st.integers(lo, hi - 1), label="other")
        segs[i], segs[j] = segs[j], segs[i]
    elif op == "element":
        els = segs[i].split(b"*")
        if len(els) > 1:
            k = data.draw(st.integers(1, len(els) - 1), label="element")
            els[k] = data.draw(SAFE, label="value").encode()
            segs[i] = b"*".join(els)
    else:
        n = len(segs[i])
        segs[i] = segs[i][: data.draw(st.integers(0, max(n - 1, 0)), label="cut")]
    return segs


@SETTINGS
@given(name=st.sampled_from(VALID), data=st.data())
def test_segment_mutations_never_crash(name, data):
    raw = (FX / name).read_bytes()
    term = b"~" if b"~" in raw else b"\n"
    segs = raw.split(term)
    n = max(len(segs) - 1, 1)  # last piece is what follows the last terminator
    out = mutate_segments(segs, 0, n, data)
    run_all(term.join(out))


@SETTINGS
@given(name=st.sampled_from(VALID), data=st.data())
def test_byte_mutations_never_crash(name, data):
    raw = bytearray((FX / name).read_bytes())
    op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    i = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[i] ^= data.draw(st.integers(1, 255))
    elif op == "truncate":
        raw = raw[:i]
    elif op == "insert":
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del raw[i:i + data.draw(st.integers(1, 40))]
    run_all(bytes(raw))


# -- locality: mutations inside one ST..SE leave other transactions' verdicts alone

MULTI = (FX / "multi_envelope.x12").read_bytes()
MULTI_SEGS = _segments(MULTI)
BASE = verdicts(run_all(MULTI))


def _seg_id(s: bytes) -> bytes:
    return s.strip().split(b"*", 1)[0]


def _transactions():
    """(st index, se index, (ISA13, GS06, ST02)) of each transaction in multi_envelope.x12."""
    out, isa, gs, st_i = [], "", "", None
    for i, s in enumerate(MULTI_SEGS):
        sid = _seg_id(s).decode()
        els = s.strip().split(b"*")
        if sid == "ISA":
            isa = els[13].decode().strip()
        elif sid == "GS":
            gs = els[6].decode()
        elif sid == "ST":
            st_i = i
        elif sid == "SE" and st_i is not None:
            out.append((st_i, i, (isa, gs, MULTI_SEGS[st_i].strip().split(b"*")[2].decode())))
            st_i = None
    return out


TXS = _transactions()


def test_multi_envelope_baseline():
    assert len(TXS) == 4 and len(BASE) == 12 and set(BASE.values()) == {"accepted"}


@SETTINGS
@given(t=st.integers(0, len(TXS) - 1), data=st.data())
def test_mutation_in_one_transaction_is_local(t, data):
    st_i, se_i, key = TXS[t]
    segs = mutate_segments(MULTI_SEGS, st_i + 1, se_i, data)
    region = segs[st_i + 1: se_i + (len(segs) - len(MULTI_SEGS))]
    # a mutation that writes an envelope segment is not "inside" the transaction any more
    assume(not any(_seg_id(s) in {e.encode() for e in ENVELOPE_IDS} for s in region))
    got = verdicts(run_all(b"~".join(segs)))
    for k, v in BASE.items():
        if k[:3] != key:
            assert got.get(k) == v, (k, got.get(k))


@SETTINGS
@given(t=st.integers(0, len(TXS) - 1), data=st.data())
def test_byte_flip_in_one_transaction_is_local(t, data):
    st_i, se_i, key = TXS[t]
    start = sum(len(s) + 1 for s in MULTI_SEGS[: st_i + 1])
    end = sum(len(s) + 1 for s in MULTI_SEGS[:se_i])
    raw = bytearray(MULTI)
    i = data.draw(st.integers(start, end - 1))
    new = data.draw(st.sampled_from(b"ABCXYZ0123456789 .-"))
    assume(raw[i] not in b"~*:^\r\n" and new != raw[i])
    raw[i] = new
    segs = bytes(raw).split(b"~")
    assume(not any(_seg_id(s) in {e.encode() for e in ENVELOPE_IDS} for s in segs[st_i + 1: se_i]))
    got = verdicts(run_all(bytes(raw)))
    for k, v in BASE.items():
        if k[:3] != key:
            assert got.get(k) == v, (k, got.get(k))
