"""Suite-wide rules: lab tests run only inside the isolated test namespace, as root."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_OWN_CACHE: str | None = None


def _lab_allowed() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if not os.environ.get("CAMSCAN_IN_TEST_NETNS"):
        return "lab tests run only inside scripts/test's empty namespace"
    return None


def pytest_configure(config: pytest.Config) -> None:
    """The variable alone proves nothing: check the namespace really has no way out."""
    global _OWN_CACHE
    # camscan caches checked fingerprint data in the user's cache directory; the suite loads
    # many edited libraries, and a test run must leave the user's cache as it found it.
    _OWN_CACHE = tempfile.mkdtemp(prefix="camscan-test-cache-")
    os.environ["XDG_CACHE_HOME"] = _OWN_CACHE
    if not os.environ.get("CAMSCAN_IN_TEST_NETNS"):
        return
    from isolation import current_problems

    found = current_problems()
    if found:
        raise pytest.UsageError(
            "CAMSCAN_IN_TEST_NETNS is set but this network namespace is "
            "not isolated: " + "; ".join(found)
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _lab_allowed()
    if reason is None:
        return
    if os.environ.get("CI"):
        # In CI a lab test that cannot run is a failure, never a silent skip.
        raise pytest.UsageError(f"lab tests cannot run in CI: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def compiled_patterns(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The patterns RE2 compiles from here on, in order (deferred ones at their first use)."""
    from camscan import linre

    compiled: list[object] = []
    real = linre.Regex._compile

    def spy(self: linre.Regex) -> None:
        compiled.append(self.pattern)
        real(self)

    monkeypatch.setattr(linre.Regex, "_compile", spy)
    return compiled
