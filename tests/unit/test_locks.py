"""Reproducible installs (issue 16, item 8): every lock pins every package, direct and indirect, with
its hashes; each is made from the current .in lists (./scripts/lock); the test and mutation venvs carry
the bot's exact pins; and everything that installs does so with --require-hashes."""
from __future__ import annotations

import hashlib
import re

import pytest

from harness import ROOT

pytestmark = pytest.mark.in_process

LOCKS = {"requirements.txt": "requirements.in", "requirements-test.txt": "requirements-test.in",
         "requirements-mutants.txt": "requirements-mutants.in"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock: str) -> dict[str, tuple[str, list[str]]]:
    """name → (version, its hashes): each requirement and its continuation lines."""
    found, current = {}, None
    for line in (ROOT / lock).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pinned = PIN.match(line)
        if pinned:
            current = normalized(pinned.group(1))
            found[current] = (pinned.group(3), [])
        elif line.startswith("    --hash=sha256:") and current:
            found[current][1].append(line.split("sha256:", 1)[1].rstrip(" \\"))
        else:
            raise AssertionError(f"{lock}: not a pinned requirement or its hash: {line!r}")
    return found


def direct(requirements_in: str) -> dict[str, str]:
    """The pins an .in file names itself, and those of the files it includes with -r."""
    pins = {}
    for line in (ROOT / requirements_in).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(direct(line[3:].strip()))
        elif line:
            pinned = PIN.match(line)
            assert pinned, f"{requirements_in}: pin every direct requirement with ==: {line!r}"
            pins[normalized(pinned.group(1))] = pinned.group(3)
    return pins


@pytest.mark.parametrize("lock", LOCKS)
def test_every_package_of_a_lock_is_pinned_with_its_hashes(lock):
    found = entries(lock)
    assert len(found) > len(direct(LOCKS[lock]))  # the indirect ones are there too
    assert not [name for name, (_version, hashes) in found.items() if not hashes]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _version, hashes in found.values() for h in hashes)


@pytest.mark.parametrize("lock", LOCKS)
def test_a_lock_is_made_from_the_current_lists(lock):
    found = entries(lock)
    assert {name: found.get(name, ("missing",))[0] for name in direct(LOCKS[lock])} == direct(LOCKS[lock])
    inputs = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in LOCKS.values())).hexdigest()[:16]
    header = (ROOT / lock).read_text().splitlines()[0]
    assert f"(inputs sha256:{inputs})" in header, "an .in file changed since: run ./scripts/lock"


@pytest.mark.parametrize("lock", ["requirements-test.txt", "requirements-mutants.txt"])
def test_the_test_venvs_carry_the_bots_exact_pins(lock):
    bot, other = entries("requirements.txt"), entries(lock)
    assert {name: other.get(name) for name in bot} == bot


def test_everything_that_installs_requires_the_hashes():
    for script, lock in (("scripts/setup", "requirements-test.txt"), ("scripts/mutants", "requirements-mutants.txt")):
        installs = [line for line in (ROOT / script).read_text().splitlines() if "pip install" in line]
        assert installs and all(f"--require-hashes -r {lock}" in line for line in installs), (script, installs)
    # ./scripts/run and ./scripts/test install through ./scripts/setup, CI through ./scripts/test.
    assert "./scripts/setup" in (ROOT / "scripts/run").read_text()
    assert "./scripts/setup" in (ROOT / "scripts/test").read_text()
    assert "./scripts/test" in (ROOT / ".ci/run").read_text()
    # Cloud Functions installs requirements.txt from the uploaded source: the lock itself is uploaded.
    ignored = (ROOT / ".gcloudignore").read_text().splitlines()
    assert "requirements.txt" not in ignored and "requirements-test.txt" in ignored
