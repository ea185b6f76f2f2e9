"""``proof.keyFile``: the proof key read at load, errors at its key and line, shared by loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from kenner.app.state import Snapshot, process_proof_key
from kenner.config.errors import ConfigError
from kenner.config.load import load_config

BASE = "validators: [{name: default, type: static, approve: true}]\npolicy: [{pattern: '*:*'}]\n"


def _with_key_file(path: object) -> str:
    return BASE + f"proof:\n  keyFile: {path}\n"


def _problem(text: str) -> tuple[str, int | None, str]:
    with pytest.raises(ConfigError) as caught:
        load_config(text, "kenner.yaml")
    (problem,) = caught.value.problems
    return problem.path, problem.line, problem.message


def test_the_key_file_is_read_at_load_and_shared_by_every_load(tmp_path: Path) -> None:
    key = tmp_path / "proof.key"
    key.write_bytes(bytes(range(32)))
    first, second = load_config(_with_key_file(key)), load_config(_with_key_file(key))
    assert first.proof.key_file is not None
    assert first.proof.key_file.secret == bytes(range(32))
    assert repr(bytes(range(32))) not in repr(first)  # the key is never shown
    # Two replicas (or a restart) with the same key file make the same proofs.
    assert Snapshot(first, {}).prover == Snapshot(second, {}).prover
    assert Snapshot(first, {}).prover.key != process_proof_key()


def test_without_a_key_file_the_process_key_is_used() -> None:
    config = load_config(BASE)
    assert config.proof.key_file is None
    assert Snapshot(config, {}).prover.key == process_proof_key()


def test_a_missing_key_file_is_an_error_at_its_key_and_line(tmp_path: Path) -> None:
    path, line, message = _problem(_with_key_file(tmp_path / "absent"))
    assert (path, line) == ("proof.keyFile", 4)
    assert message == "cannot read the key file: No such file or directory"


def test_a_short_key_file_is_an_error(tmp_path: Path) -> None:
    key = tmp_path / "proof.key"
    key.write_bytes(b"short\n")
    path, line, message = _problem(_with_key_file(key))
    assert (path, line) == ("proof.keyFile", 4)
    assert message.endswith("holds 6 bytes; a key needs at least 32")


def test_a_huge_key_file_is_an_error(tmp_path: Path) -> None:
    key = tmp_path / "proof.key"
    key.write_bytes(b"k" * 5000)
    assert _problem(_with_key_file(key))[2].endswith("more than 4096 bytes; not a key file")


@pytest.mark.parametrize("value", ["5", "[a]", "{a: b}", "''"])
def test_a_key_file_that_is_not_a_path_is_an_error(value: str) -> None:
    path, _, message = _problem(_with_key_file(value))
    assert path == "proof.keyFile"
    assert message.startswith("must be the path of a key file")


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    assert _problem(_with_key_file(tmp_path))[2].startswith("cannot read the key file")
