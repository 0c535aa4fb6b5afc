"""Deferred RE2 patterns and sets compile on first use and match as ones compiled at once."""

from __future__ import annotations

import pytest

from camscan import linre

PATTERNS = [r"(?i)hik(?P<model>vision)?", r"^DS-(?P<model>\d+)", r"dahua|dh-", r"\bx\b"]
TEXTS: list[str | bytes] = [
    "HIKVISION DS-2CD",
    "DS-2385 cam",
    "a dh-ipc",
    "é x é",
    b"dahua bytes",
    "nothing",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_deferred_pattern_matches_as_one_compiled_at_once(pattern: str) -> None:
    eager = linre.compile(pattern)
    for text in TEXTS:
        deferred = linre.Regex.deferred(pattern, dict(eager.groupindex))
        for method in ("search", "match", "fullmatch"):
            a, b = getattr(eager, method)(text), getattr(deferred, method)(text)
            assert (a is None) == (b is None)
            if a is not None and b is not None:
                assert (a.span() if hasattr(a, "span") else (a.start(), a.end())) == (
                    b.span() if hasattr(b, "span") else (b.start(), b.end())
                )
                assert a.groupdict() == b.groupdict()
        if isinstance(text, str):
            fresh = linre.Regex.deferred(pattern, dict(eager.groupindex))
            assert fresh.sub("_", text) == eager.sub("_", text)
            fresh = linre.Regex.deferred(pattern, dict(eager.groupindex))
            assert [m.group(0) for m in fresh.finditer(text)] == [
                m.group(0) for m in eager.finditer(text)
            ]


def test_a_deferred_set_matches_as_one_built_at_once() -> None:
    eager = linre.RegexSet(PATTERNS)
    for text in TEXTS:
        assert linre.RegexSet.deferred(PATTERNS).matching(text) == eager.matching(text)


def test_a_deferred_pattern_compiles_once_and_only_when_used() -> None:
    r = linre.Regex.deferred("a+", {})
    with pytest.raises(AttributeError):
        object.__getattribute__(r, "_match")  # nothing compiled yet
    assert r.search("baa") is not None
    compiled = object.__getattribute__(r, "_match")
    assert r.search("a") is not None and object.__getattribute__(r, "_match") is compiled
    with pytest.raises(AttributeError):
        r.no_such_attribute  # noqa: B018


def test_a_deferred_pattern_that_does_not_compile_says_why_when_used() -> None:
    r = linre.Regex.deferred("(?<=a)b", {})
    with pytest.raises(linre.PatternError):
        r.search("ab")
