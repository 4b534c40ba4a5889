"""The service's configuration: ``service.toml``.

::

    [service]
    max_body = 104857600     # bytes of one upload (413 past it)
    queue = 64               # uploads waiting for the gate (429 past it)
    jobs = 1                 # the gate's worker processes (pass 1 of a batch)
    batch = 16               # uploads gated together in one gate run at most
    redact = false           # mask PHI in reports, the page and the logs
    retry_after = 5          # seconds, the Retry-After of a 429

    [[submitters]]
    name = "acme"
    isa06 = ["ACMEBILLING"]  # the ISA06 sender ids this submitter may send ("*": any)
    tokens = ["sha256:9f86d0..."]  # hashes of its bearer tokens (edi837 serve --hash-token)

Checked strictly, like the profile files: an unknown key, a value of the wrong
type or two submitters with one name or one token is a :class:`ConfigError`
naming the key (``edi837 serve`` exits 2 with it).  Tokens are never stored:
only ``sha256:`` + the hex SHA-256 of each (a token is a long random string,
so a plain hash cannot be reversed by guessing).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tomllib
from typing import Any

import attrs

from ..outputs.atomic import atomic_write

CONFIG_NAME = "service.toml"


class ConfigError(ValueError):
    """A service.toml that cannot be used (the message names the key)."""


def hash_token(token: str) -> str:
    """What service.toml stores for ``token``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (256 bits)."""
    return secrets.token_urlsafe(32)


@attrs.frozen
class Submitter:
    name: str
    isa06: tuple[str, ...]  # sender ids it may send ("*": any)
    tokens: tuple[str, ...]  # hashes

    def owns(self, isa06: str) -> bool:
        return "*" in self.isa06 or isa06.strip() in self.isa06


@attrs.frozen
class ServiceConfig:
    submitters: tuple[Submitter, ...] = ()
    max_body: int = 100 * 1024 * 1024
    queue: int = 64
    jobs: int = 1
    batch: int = 16
    redact: bool = False
    retry_after: int = 5
    path: str | None = None

    def submitter_for(self, token: str) -> Submitter | None:
        """The submitter whose token this is (hashes compared in constant time)."""
        h = hash_token(token)
        found = None
        for s in self.submitters:
            for t in s.tokens:
                if hmac.compare_digest(t, h):
                    found = s
        return found


SERVICE_KEYS: dict[str, type] = {"max_body": int, "queue": int, "jobs": int, "batch": int, "redact": bool,
                                 "retry_after": int}
SUBMITTER_KEYS: dict[str, type] = {"name": str, "isa06": list, "tokens": list}


def _typed(where: str, v: Any, kind: type) -> Any:
    if kind is int and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise ConfigError(f"{where}: must be a whole number of at least 1, not {v!r}")
    if kind is bool and not isinstance(v, bool):
        raise ConfigError(f"{where}: must be true or false, not {v!r}")
    if kind is str and (not isinstance(v, str) or not v.strip()):
        raise ConfigError(f"{where}: must be a non-empty string, not {v!r}")
    if kind is list and (not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip()
                                                                     for x in v)):
        raise ConfigError(f"{where}: must be a non-empty list of strings, not {v!r}")
    return v


def parse(data: dict[str, Any], path: str = CONFIG_NAME) -> ServiceConfig:
    """The configuration of a parsed service.toml (strict: see the module doc)."""
    for k in data:
        if k not in ("service", "submitters"):
            raise ConfigError(f"{path}: unknown key {k!r} (known: service, submitters)")
    svc = data.get("service", {})
    if not isinstance(svc, dict):
        raise ConfigError(f"{path}: service: must be a table")
    opts: dict[str, Any] = {}
    for k, v in svc.items():
        if k not in SERVICE_KEYS:
            raise ConfigError(f"{path}: unknown key service.{k} (known: {', '.join(SERVICE_KEYS)})")
        opts[k] = _typed(f"{path}: service.{k}", v, SERVICE_KEYS[k])
    subs = data.get("submitters", [])
    if not isinstance(subs, list):
        raise ConfigError(f"{path}: submitters: must be an array of tables ([[submitters]])")
    out: list[Submitter] = []
    names: set[str] = set()
    hashes: set[str] = set()
    for i, s in enumerate(subs, 1):
        where = f"{path}: submitters[{i}]"
        if not isinstance(s, dict):
            raise ConfigError(f"{where}: must be a table")
        for k in s:
            if k not in SUBMITTER_KEYS:
                raise ConfigError(f"{where}: unknown key {k!r} (known: {', '.join(SUBMITTER_KEYS)})")
        for k, kind in SUBMITTER_KEYS.items():
            if k not in s:
                raise ConfigError(f"{where}: missing key {k!r}")
            _typed(f"{where}.{k}", s[k], kind)
        if s["name"] in names:
            raise ConfigError(f"{where}.name: {s['name']!r} is given twice")
        names.add(s["name"])
        for t in s["tokens"]:
            if not t.startswith("sha256:") or len(t) != 71 or any(c not in "0123456789abcdef" for c in t[7:]):
                raise ConfigError(f"{where}.tokens: {t[:12]!r}... is not 'sha256:' and 64 hex digits "
                                  "(store the hash of a token: edi837 serve --hash-token TOKEN)")
            if t in hashes:
                raise ConfigError(f"{where}.tokens: a token is given to two submitters")
            hashes.add(t)
        out.append(Submitter(s["name"], tuple(x.strip() for x in s["isa06"]), tuple(s["tokens"])))
    return ServiceConfig(submitters=tuple(out), path=path, **opts)


def load(path: str) -> ServiceConfig:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    return parse(data, path)


def load_or_create(data_dir: str, config: str | None) -> tuple[ServiceConfig, str | None]:
    """The configuration: ``config`` when given, else DATA/service.toml; on a
    fresh data folder that file is made with one submitter ``local`` that may
    send any ISA06, and its token is returned (the only time it is shown)."""
    if config is not None:
        return load(config), None
    path = os.path.join(data_dir, CONFIG_NAME)
    if os.path.exists(path):
        return load(path), None
    token = new_token()
    text = ("# made by the first `edi837 serve` on this data folder; see docs/service.md\n"
            "[service]\nmax_body = 104857600\nqueue = 64\njobs = 1\nbatch = 16\n\n"
            f'[[submitters]]\nname = "local"\nisa06 = ["*"]\ntokens = ["{hash_token(token)}"]\n')
    os.makedirs(data_dir, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return load(path), token
