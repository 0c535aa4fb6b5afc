"""The session's lab: the default office spec, up once, under a namespace prefix of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from camscan_lab.network import DEFAULT_SPEC, Lab, default_prefix


@pytest.fixture(scope="session")
def lab_prefix() -> str:
    """A prefix no other session uses ("<base>t<pid>-"); derived labs append to its stem."""
    return f"{default_prefix()}t{os.getpid()}-"


@pytest.fixture(scope="session")
def lab(lab_prefix: str) -> Iterator[Lab]:
    """The default office lab, up for the whole session and removed at its end."""
    office = Lab(DEFAULT_SPEC, lab_prefix, owner_pid=os.getpid())
    try:
        office.up()
        yield office
    finally:
        office.down()
