"""Helpers of the service tests (and benchmarks/service_load.py): a real
``edi837 serve`` on 127.0.0.1 in a subprocess, synthetic uploads, and the
control numbers of X12 files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from edi837.checks.editpack.synth import build  # noqa: E402
from edi837.service.config import hash_token  # noqa: E402

ALPHA, BETA = "alpha-token-0123456789abcdef", "beta-token-0123456789abcdef"
ALPHA_SENDER, BETA_SENDER = "EDI837SYNTH", "BETASENDER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, **service: Any) -> Path:
    lines = ["[service]"] + [f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
                             for k, v in service.items()]
    for name, sender, tok in (("alpha", ALPHA_SENDER, ALPHA), ("beta", BETA_SENDER, BETA)):
        lines += ["", "[[submitters]]", f'name = "{name}"', f'isa06 = ["{sender}"]',
                  f'tokens = ["{hash_token(tok)}"]']
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    """``edi837 serve`` as a subprocess; its log lines go to ``log``."""

    def __init__(self, data: Path, config: Path | None, *extra: str):
        self.data, self.config, self.extra = data, config, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"{data.name}.serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "edi837", "serve", "--data", str(self.data), "--port", str(self.port),
               "--log-format", "json", "--log-level", "info", *self.extra]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"edi837 serve ended ({self.proc.returncode}): {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"edi837 serve did not start: {self.log.read_text()}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def upload(n: int, sender: str = ALPHA_SENDER, claims: int = 2) -> bytes:
    """A synthetic 837P: interchange ISA13 ``n``, ``claims`` claims of member SYN<n>."""
    cs = [{"id": f"U{n}C{k}", "lines": [{"code": "90867", "date": "2025-03-03"},
                                       {"code": "90868", "date": "2025-03-04"}]} for k in range(claims)]
    return build("837P", cs, isa=f"{n:09d}", sender=sender, member=f"SYN{n:06d}")


def generated(path: Path, claims: int, isa13: int, seed: int) -> bytes:
    """A benchmarks/generate.py file of ``claims`` claims under ISA13/GS06 ``isa13``."""
    from generate import generate

    generate(str(path), claims, "837P", seed=seed)
    text = path.read_bytes()
    ctl = f"{isa13:09d}".encode()
    text = text.replace(b"*00501*000000001*", b"*00501*" + ctl + b"*", 1)
    text = text.replace(b"IEA*1*000000001", b"IEA*1*" + ctl)
    text = text.replace(b"*1*X*005010X222A1~", b"*" + str(isa13).encode() + b"*X*005010X222A1~", 1)
    head, _, tail = text.rpartition(b"GE*")
    n_st, _, rest = tail.partition(b"*")
    rest = rest.partition(b"~")[2]
    text = head + b"GE*" + n_st + b"*" + str(isa13).encode() + b"~" + rest
    path.write_bytes(text)
    return text


def segments(data: bytes) -> list[list[str]]:
    text = data.decode("latin-1").replace("\r", "").replace("\n", "")
    return [s.split("*") for s in text.split("~") if s.strip()]


def envelope(data: bytes) -> dict[str, Any]:
    """ISA06/ISA08/ISA13, the GS06s and the ST02s of an X12 text."""
    out: dict[str, Any] = {"isa": [], "gs06": [], "st02": [], "isa06": [], "isa08": []}
    for f in segments(data):
        if f[0] == "ISA" and len(f) > 13:
            out["isa"].append(f[13])
            out["isa06"].append(f[6].strip())
            out["isa08"].append(f[8].strip())
        elif f[0] == "GS" and len(f) > 6:
            out["gs06"].append(f[6])
        elif f[0] == "ST" and len(f) > 2:
            out["st02"].append(f[2])
    return out


def wait_done(c: httpx.Client, id: str, timeout: float = 300) -> dict[str, Any]:
    """Poll an upload until it is done or failed (a bound on the wait, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"/v1/interchanges/{id}", params={"wait": 10, "report": "false"})
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
