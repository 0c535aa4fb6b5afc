"""Linear-time regular expressions (RE2) for everything that reads device text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import re2

_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
_ANCHOR_START = re2._re2.RE2.Anchor.ANCHOR_START
_ANCHOR_BOTH = re2._re2.RE2.Anchor.ANCHOR_BOTH


class PatternError(ValueError):
    """A pattern RE2 cannot compile (look-around, back-reference, bad syntax)."""


class Match(Protocol):
    """The part of a match object camscan reads (both `re` and RE2 matches have it)."""

    def group(self, __group: int | str = 0) -> Any: ...
    def groups(self) -> tuple[Any, ...]: ...
    def groupdict(self) -> dict[str, Any]: ...
    def start(self, __group: int | str = 0) -> int: ...
    def end(self, __group: int | str = 0) -> int: ...


def _options(max_mem: int | None = None) -> Any:
    opts = re2.Options()
    opts.log_errors = False  # the error becomes a PatternError, not a line on stderr
    if max_mem is not None:
        opts.max_mem = max_mem
    return opts


class _SpanMatch:
    """A match in bytes or ASCII text, where RE2's byte offsets are the text's offsets."""

    __slots__ = ("_names", "_spans", "_text")

    def __init__(self, text: Any, spans: list[tuple[int, int]], names: dict[str, int]) -> None:
        self._text, self._spans, self._names = text, spans, names

    def _index(self, group: int | str) -> int:
        return self._names[group] if isinstance(group, str) else group

    def group(self, group: int | str = 0) -> Any:
        start, end = self._spans[self._index(group)]
        return None if start < 0 else self._text[start:end]

    def groups(self) -> tuple[Any, ...]:
        return tuple(self.group(i) for i in range(1, len(self._spans)))

    def groupdict(self) -> dict[str, Any]:
        text, spans = self._text, self._spans
        return {
            name: None if spans[i][0] < 0 else text[spans[i][0] : spans[i][1]]
            for name, i in self._names.items()
        }

    def start(self, group: int | str = 0) -> int:
        return self._spans[self._index(group)][0]

    def end(self, group: int | str = 0) -> int:
        return self._spans[self._index(group)][1]


NO_GROUPS: Match = _SpanMatch("", [(0, 0)], {})  # stands for a match without captures


class Regex:
    """One compiled RE2 pattern with the `re` methods camscan uses."""

    __slots__ = ("_match", "_re", "groupindex", "pattern")

    def __init__(self, pattern: str | bytes) -> None:
        self.pattern = pattern
        self._compile()
        self.groupindex: dict[str, int] = dict(self._re.groupindex)  # named groups' numbers

    @staticmethod
    def deferred(pattern: str | bytes, groupindex: dict[str, int]) -> Regex:
        """A pattern known to compile, with its named groups: RE2 compiles it on first use."""
        self = _DeferredRegex.__new__(_DeferredRegex)
        self.pattern, self.groupindex = pattern, groupindex
        return self

    def _compile(self) -> None:
        try:
            self._re = re2.compile(self.pattern, _options())
        except re2.error as exc:
            raise PatternError(_message(exc)) from None
        self._match = self._re._regexp.Match  # the bindings' own call, looked up once

    def _spans(self, anchor: Any, text: Any) -> Match | None:
        # Bytes and ASCII text skip the bindings' offset translation (several times faster).
        data = text if isinstance(text, bytes) else text.encode("ascii")
        spans = self._match(anchor, data, 0, len(data))
        return None if spans[0][0] < 0 else _SpanMatch(text, spans, self.groupindex)

    def search(self, text: Any) -> Match | None:
        """The first match anywhere in `text`, or None."""
        if isinstance(text, str) and text.isascii():  # _spans inlined: fingerprints' hot path
            data = text.encode("ascii")
            spans = self._match(_UNANCHORED, data, 0, len(data))
            return None if spans[0][0] < 0 else _SpanMatch(text, spans, self.groupindex)
        if isinstance(text, bytes):
            return self._spans(_UNANCHORED, text)
        m: Match | None = self._re.search(text)
        return m

    def match(self, text: Any) -> Match | None:
        """A match anchored at the start of `text`, or None."""
        if isinstance(text, bytes) or text.isascii():
            return self._spans(_ANCHOR_START, text)
        m: Match | None = self._re.match(text)
        return m

    def fullmatch(self, text: Any) -> Match | None:
        """A match of the whole of `text`, or None."""
        if isinstance(text, bytes) or text.isascii():
            return self._spans(_ANCHOR_BOTH, text)
        m: Match | None = self._re.fullmatch(text)
        return m

    def finditer(self, text: Any) -> Iterator[Match]:
        """Every non-overlapping match, left to right."""
        return iter(self._re.finditer(text))

    def sub(self, repl: Any, text: Any) -> Any:
        """`text` with every match replaced."""
        return self._re.sub(repl, text)


class RegexSet:
    """Patterns searched together in one pass; says which of them match."""

    __slots__ = ("_match", "_set", "patterns")

    def __init__(self, patterns: Sequence[str | bytes]) -> None:
        self.patterns = tuple(patterns)
        self._compile()

    @staticmethod
    def deferred(patterns: Sequence[str | bytes]) -> RegexSet:
        """Patterns known to compile together: RE2 builds the set on its first search."""
        self = _DeferredSet.__new__(_DeferredSet)
        self.patterns = tuple(patterns)
        return self

    def _compile(self) -> None:
        # Many-match DFAs never give up on a hard input (they only reset their cache), so a
        # miss is a real miss; a program too large for the budget fails at the first search.
        self._set = re2.Set.SearchSet(_options(max_mem=64 << 20))
        try:
            for p in self.patterns:
                self._set.Add(p)
            self._set.Compile()
        except re2.error as exc:
            raise PatternError(_message(exc)) from None
        self._match = self._set._set.Match  # the bindings' own call, looked up once

    def matching(self, text: str | bytes) -> list[int]:
        """Indexes of the patterns that match somewhere in `text`, in ascending order."""
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        hits = self._match(data)
        return sorted(hits) if len(hits) > 1 else hits


# A deferred pattern or set is one of these until its first use compiles it and makes it a
# plain Regex or RegexSet (same slots): from then on it costs exactly what an early one does.


class _DeferredRegex(Regex):
    __slots__ = ()

    def _compiled(self) -> Regex:
        self._compile()
        self.__class__ = Regex  # type: ignore[assignment]
        return self

    def search(self, text: Any) -> Match | None:
        return self._compiled().search(text)

    def match(self, text: Any) -> Match | None:
        return self._compiled().match(text)

    def fullmatch(self, text: Any) -> Match | None:
        return self._compiled().fullmatch(text)

    def finditer(self, text: Any) -> Iterator[Match]:
        return self._compiled().finditer(text)

    def sub(self, repl: Any, text: Any) -> Any:
        return self._compiled().sub(repl, text)


class _DeferredSet(RegexSet):
    __slots__ = ()

    def matching(self, text: str | bytes) -> list[int]:
        self._compile()
        self.__class__ = RegexSet  # type: ignore[assignment]
        return self.matching(text)


def _message(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def engine() -> str:
    """The RE2 build in use: a pattern that compiled with it once compiles with it again."""
    import os

    path = re2._re2.__file__
    st = os.stat(path)
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def compile(pattern: str | bytes) -> Regex:
    """Compile `pattern` with RE2; raise PatternError if RE2 cannot."""
    return Regex(pattern)
