"""Issue 13 item 11: profile files and options are checked strictly.

An unknown key or a bad value in a profile TOML, or in the options of a run,
is an error naming the key: exit 2 with a clear message and no traceback on
the command line (validate and gate), a ValueError naming it in the library.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import edi837
from edi837.checks.editpack.profiles import (ProfileError, check_profile, load_profile, payers,
                                             shipped_profiles)
from edi837.checks.engine import Engine
from edi837.checks.options import RunOptions
from edi837.cli import main

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "fixtures" / "837p_tms_course.x12"

# (profile text, the words the message must hold)
BAD_PROFILES = [
    ('name = "mine"\n[tms]\ncourse_capp = 30\n', ["unknown key 'tms.course_capp'", "course_cap"]),
    ('name = "mine"\ncourse_cap = 30\n', ["unknown key 'course_cap'", "tms"]),  # value outside [tms]
    ('name = "mine"\n[tms]\ncourse_cap = "thirty"\n', ["tms.course_cap = 'thirty'", "whole number"]),
    ('name = "mine"\n[tms]\ncourse_cap = 0\n', ["tms.course_cap = 0", "at least 1"]),
    ('name = "mine"\n[tms]\nocd_warning = "yes"\n', ["tms.ocd_warning = 'yes'", "true or false"]),
    ('name = "mine"\n[tms]\ncovered_dx = "F32.2"\n', ["tms.covered_dx", "ICD-10-CM"]),
    ('name = "mine"\n[tms]\ncovered_dx = ["F32.2", "depression"]\n', ["tms.covered_dx", "ICD-10-CM"]),
    ('name = "mine"\n[tms]\ncourse_cap = 30\ncourse_cap_source = 12\n', ["tms.course_cap_source = 12", "text"]),
    ('name = "mine"\n[tms]\ncourse_cap = 30\ncourse_cap_date = "2026-01-01"\n',
     ["tms.course_cap_date = '2026-01-01'", "TOML date"]),
    ('name = "mine"\n[tms]\ncap_source = "x"\n', ["unknown key 'tms.cap_source'"]),
    ('name = "mine"\nmedicare = 1\n', ["medicare = 1", "true or false"]),
    ('name = "mine"\ntms = 5\n', ["tms must be a table"]),
    ('name = "mine"\n[units_per_day]\n"90868" = "two"\n', ["units_per_day.90868 = 'two'", "whole number"]),
    ('name = "mine"\n[units_per_day]\nTMS = 2\n', ["units_per_day.TMS", "procedure code"]),
    ('name = "mine"\n[units_per_day]\n"90868" = 2\n"90867_source" = "x"\n', ["unknown key 'units_per_day.90867_source'"]),
    ('name = "mine"\n[[prior_auth]]\ncodes = ["90868"]\nfrom = "2026-05-01"\n',
     ["prior_auth[0].from = '2026-05-01'", "TOML date"]),
    ('name = "mine"\n[[prior_auth]]\ncode = ["90868"]\n', ["unknown key 'prior_auth[0].code'"]),
    ('name = "mine"\n[[prior_auth]]\nfrom = 2026-05-01\n', ["prior_auth[0]: codes is missing"]),
    ('name = "mine"\n[coverage_start]\ncodes = ["90868"]\n', ["coverage_start: date is missing"]),
    ('name = "mine"\nextends = "nosuch"\n', ["extends = 'nosuch'", "no such profile", "medicare"]),
    ('name = "mine"\n[tms\n', ["not valid TOML", "line 2"]),
]


@pytest.mark.parametrize("text,words", BAD_PROFILES, ids=[w[0] for _, w in BAD_PROFILES])
def test_a_bad_profile_is_exit_2_naming_the_key(tmp_path, text, words):
    p = tmp_path / "mine.toml"
    p.write_text(text)
    for args in (["validate", str(COURSE), "--profile", str(p)],
                 ["gate", str(COURSE), "--out", str(tmp_path / "out"), "--profile", str(p)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 2, (args[0], res.output)
        assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
        assert f"--profile {p}" in res.output, res.output
        for w in words:
            assert w in res.output, (w, res.output)
        assert res.stdout.strip() == ""  # no report, no summary line
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    with pytest.raises(ValueError) as e:
        edi837.validate(COURSE, profile=str(p))
    assert all(w in str(e.value) for w in words)


def test_an_error_in_the_profile_it_extends_names_that_file(tmp_path):
    (tmp_path / "base.toml").write_text('name = "base"\n[tms]\nmin_agee = 21\n')
    (tmp_path / "mine.toml").write_text(f'name = "mine"\nextends = "{tmp_path / "base.toml"}"\n')
    res = CliRunner().invoke(main, ["validate", str(COURSE), "--profile", str(tmp_path / "mine.toml")])
    assert res.exit_code == 2
    assert f"{tmp_path / 'base.toml'}: unknown key 'tms.min_agee'" in res.output


def test_a_good_user_profile_with_sources_and_dates_still_loads(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\ndescription = "my payer"\nsource = "contract"\ndate = 2026-01-01\n'
                 'medicare_advantage = true\nmedicare_advantage_source = "MA plan"\n'
                 '[tms]\ncourse_cap = 30\ncourse_cap_source = "contract"\ncourse_cap_date = 2026-01-01\n'
                 'covered_dx = ["F32.2", "F332"]\nmin_age = 15\n'
                 '[units_per_day]\nsource = "contract"\n"90868" = 2\n"90868_source" = "contract"\n'
                 '[[prior_auth]]\ncodes = ["90867", "90868"]\nfrom = 2026-05-01\nto = 2026-12-31\nsource = "x"\n'
                 '[coverage_start]\ndate = 2026-01-01\ncodes = ["90867"]\nsource = "x"\n')
    prof = load_profile(str(p))
    assert (prof.course_cap, prof.min_age, prof.units_per_day["90868"], prof.medicare_advantage) == (30, 15, 2, True)
    res = CliRunner().invoke(main, ["validate", str(COURSE), "--profile", str(p), "--format", "json"])
    assert res.exit_code in (0, 1) and json.loads(res.stdout)["claims"]


@pytest.mark.parametrize("name", shipped_profiles())
def test_every_shipped_profile_passes_the_strict_check(name):
    import tomllib

    from edi837.checks.editpack.profiles import PROFILE_DIR

    path = PROFILE_DIR / f"{name}.toml"
    check_profile(path, tomllib.loads(path.read_text()))
    assert load_profile(name).name == name


def test_every_profile_the_payer_table_names_loads():
    for pid, name in payers().items():
        assert load_profile(name).name == name, pid


def test_check_profile_raises_profile_error_with_path_and_detail(tmp_path):
    with pytest.raises(ProfileError) as e:
        check_profile(tmp_path / "x.toml", {"tms": {"course_capp": 1}})
    assert e.value.path == str(tmp_path / "x.toml") and e.value.detail.startswith("unknown key 'tms.course_capp'")


# -- run options --------------------------------------------------------------------------
@pytest.mark.parametrize("opts,words", [
    ({"profle": "medicare"}, ["unknown option 'profle'", "profile"]),
    ({"snip": "9"}, ["snip", "1-7"]),
    ({"snip": ["a"]}, ["snip", "'a'"]),
    ({"rules": ["NOPE-001"]}, ["rules", "'NOPE-001'"]),
    ({"rules": 5}, ["rules", "5"]),
    ({"editpack_cache": "many"}, ["editpack_cache", "'many'"]),
    ({"editpack_cache": -3}, ["editpack_cache", "-3"]),
    ({"history_record": "some"}, ["history_record", "'some'"]),
    ({"on_verdict": "print"}, ["on_verdict", "function"]),
    ({"profile": 42}, ["profile", "int"]),
    ({"profile": "nosuch"}, ["--profile nosuch", "unknown payer profile"]),
    ({"jobs": 0}, ["jobs", "at least 1"]),
    ({"jobs": "2"}, ["jobs", "'2'"]),
])
def test_a_bad_option_is_a_value_error_naming_it(opts, words):
    with pytest.raises(ValueError) as e:
        edi837.validate(COURSE, **opts)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    if "jobs" not in opts:  # the same check for every face that builds RunOptions
        with pytest.raises(ValueError) as e2:
            RunOptions.build(**opts).check()
        assert str(e2.value) == str(e.value)


def test_good_options_still_pass():
    o = RunOptions.build(snip=[1, 2], rules=["S1-ENV-008"], editpack_cache="5", history_record="all")
    o.check()
    assert (o.snip, o.rules, o.editpack_cache) == (frozenset({1, 2}), frozenset({"S1-ENV-008"}), 5)
    assert RunOptions.build(editpack_cache=0).editpack_cache is None  # 0 / "": the default
    prof = load_profile("medicare")
    RunOptions.build(profile=prof).check()  # a loaded Profile is accepted as it is
    assert [e for e in Engine(RunOptions.build(profile=prof, snip="7")).run([str(COURSE)])]


def test_gate_library_jobs_must_be_at_least_one(tmp_path):
    from edi837.gate import GateError, gate

    with pytest.raises(GateError, match="jobs"):
        gate([str(COURSE)], str(tmp_path / "o"), jobs=0)
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []
