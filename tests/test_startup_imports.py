"""Start-up costs only what the command uses (issue 16 item 2): `edi837 validate` on a
small file does not import the process pool, importlib.metadata, importlib.resources or the
XML parser (each tens of milliseconds on every start, for nothing a one-job run needs)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pyx12

from edi837.cache import dist_version

ROOT = Path(__file__).resolve().parents[1]
UNWANTED = ("concurrent.futures", "multiprocessing", "importlib.metadata", "importlib.resources",
            "xml.etree.ElementTree", "email")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_validate_does_not_import_what_it_does_not_use(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from edi837.cli import main\n"
        f"sys.argv = ['edi837', 'validate', {str(ROOT / 'fixtures' / '837p_tms_course.x12')!r}, '--format', 'json',"
        f" '-o', {str(tmp_path / 'r.json')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, 1, None), e.code\n"
    )
    mods = _modules_after(code)
    assert json.loads((tmp_path / "r.json").read_text())  # the run did happen
    assert not [m for m in UNWANTED if m in mods]


def test_dist_version_reads_the_dist_info_folder() -> None:
    assert dist_version("pyx12", Path(pyx12.__file__).parent) == importlib.metadata.version("pyx12")


def test_dist_version_falls_back_to_importlib_metadata(tmp_path: Path) -> None:
    pkg = tmp_path / "pyx12"
    pkg.mkdir()  # no dist-info beside it: the installed metadata answers
    assert dist_version("pyx12", pkg) == importlib.metadata.version("pyx12")
    (tmp_path / "pyx12-9.9.dist-info").mkdir()
    assert dist_version("pyx12", pkg) == "9.9"
    (tmp_path / "pyx12-9.8.dist-info").mkdir()  # two of them: ambiguous, ask the metadata
    assert dist_version("pyx12", pkg) == importlib.metadata.version("pyx12")
