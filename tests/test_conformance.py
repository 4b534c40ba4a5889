"""SNIP 1-2 against pyx12 4.0.0 on the shared corpus (skipped when ../shared/corpus is absent)."""

from __future__ import annotations

import pytest

from edi837.checks import conformance as conf

CORPUS = conf.corpus_dir()
pytestmark = pytest.mark.skipif(not (CORPUS / "index.tsv").exists(), reason="no shared corpus")

#: files where we knowingly differ from pyx12, with the reason (also written to docs/conformance.md)
ALLOW = dict(conf.DISAGREE)


@pytest.fixture(scope="module")
def results():
    return list(conf.run(CORPUS))


def test_pyx12_ok_files_get_no_snip12_error(results):
    bad = [(r["file"], dict(r["errors"])) for r in results
           if r["pyx12_class"] == "ok" and r["errors"] and r["file"] not in ALLOW]
    assert bad == []


def test_pyx12_guide_rejections_are_ours_too(results):
    bad = [(r["file"], r["pyx12"][:100]) for r in results
           if r["pyx12_class"] == "guide" and not r["errors"] and r["file"] not in ALLOW]
    assert bad == []


def test_allow_list_is_current(results):
    dis = {r["file"] for r in results if r["verdict"] == "disagree"}
    assert set(ALLOW) <= {r["file"] for r in results}
    assert dis <= set(ALLOW)


def test_docs_written(results, tmp_path):
    out = tmp_path / "conformance.md"
    conf.write(results, out)
    text = out.read_text()
    assert "## Summary" in text and "agree:" in text
    for f in ALLOW:
        assert f in text
