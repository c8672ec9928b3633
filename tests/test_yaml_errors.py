"""Malformed config files and mapping profiles end in a located error (file:line), never a traceback."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.cli import main
from connector.config import ConfigError, load_settings
from connector.mapping.loader import ProfileError, load_profile

REPO = Path(__file__).resolve().parents[1]
CONFIG = (REPO / "config.example.yaml").read_bytes()
PROFILE = (REPO / "mappings" / "salesforce" / "complete.yaml").read_bytes()
NASTY = [b"\x00", b"\x07", b"\x1b", b"\xff", b"\xc3", b"!!python/name:os.system ", b"!!python/object/apply:os.system [ls] ",
         b"? [a, b]\n", b"? {a: 1}\n", b"&a ", b"*a ", b"*missing ", b"!!binary ", b"!!timestamp x", b"{", b"[", b"'", b'"\\x', b"\t", b":", b"- ", b"\n  "]


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """The file with a few random edits: nasty fragments or random bytes inserted, slices removed or replaced."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=8)))
        if edit == "insert":
            data[at:at] = piece
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


def assert_located(problems: list, path: Path) -> None:
    assert problems
    for problem in problems:
        assert re.fullmatch(re.escape(str(path)) + r":\d+", problem.where), str(problem)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=mutated(CONFIG))
def test_config_loader_fuzz(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(text)
    try:
        load_settings(path, environ={})
    except ConfigError as exc:
        assert_located(exc.problems, path)


@FUZZ
@given(text=mutated(PROFILE))
def test_profile_loader_fuzz(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "profile.yaml"
    path.write_bytes(text)
    try:
        load_profile(path)
    except ProfileError as exc:
        assert_located(exc.problems, path)


BROKEN = {
    "nul": (b"a: 1\nb: x\x00y\n", 2),
    "control": (b"a: 1\nb: 2\nc: \x07\n", 3),
    "python tag": (b"a: 1\nb: !!python/name:os.system\n", 2),
    "unhashable key": (b"a: 1\n? [x, y]\n: 2\n", 2),
    "not utf-8": (b"a: 1\nb: \xff\n", 2),
    "nested too deeply": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_config_check_locates_broken_yaml(tmp_path: Path, case: str) -> None:
    text, line = BROKEN[case]
    path = tmp_path / "config.yaml"
    path.write_bytes(text)
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_mappings_check_locates_broken_yaml(tmp_path: Path, case: str) -> None:
    text, line = BROKEN[case]
    shutil.copy(REPO / "config.example.yaml", tmp_path / "config.yaml")
    path = tmp_path / "profile.yaml"
    path.write_bytes(text)
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "mappings", "check", "--offline", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: " in result.output


def test_config_check_reports_a_broken_profile(tmp_path: Path) -> None:
    config = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    profile = (REPO / "mappings" / "salesforce" / "complete.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "mappings" / "salesforce" / "complete.yaml"
    broken.parent.mkdir(parents=True)
    lines = profile.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("- module:"))
    lines[at] = lines[at].replace("module:", "module: nosuchmodule #")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(REPO / "mappings" / "hubspot", tmp_path / "mappings" / "hubspot")
    (tmp_path / "config.yaml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "config.yaml"), "config", "check"])
    assert result.exit_code == 2, result.output
    assert f"{broken}:{at + 1}: objects." in result.output
    assert "unknown UPM module 'nosuchmodule'" in result.output


@pytest.mark.parametrize("value", ["!!timestamp soon", "!!int x", "!!float nope", "!!bool maybe"])
def test_a_value_its_explicit_tag_cannot_read_is_a_located_error(tmp_path: Path, value: str) -> None:
    """Found by the fuzz test: PyYAML's constructors raise plain Python errors for these."""
    from connector.config.located_yaml import LocatedYamlError, parse_located_yaml

    with pytest.raises(LocatedYamlError) as exc:
        parse_located_yaml(f"database:\n  url: {value}\n", "config.yaml")
    assert str(exc.value.problem).startswith("config.yaml:2: database.url: YAML value:")
