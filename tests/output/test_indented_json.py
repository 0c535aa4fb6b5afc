"""The document's JSON text is exactly what json.dumps(indent=2, ensure_ascii=False) writes."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.output.jsonout import indented_json

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sample"


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # lone surrogates and control characters included
    | st.sampled_from([Colour.RED, Level.HIGH, 1e16, 1e-05, -0.0, 2**70])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_any_json_value_is_written_as_json_writes_it(value: Any) -> None:
    assert indented_json(value) == _json(value)


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key", None: "none key", 2.5: "float key", False: "bool key"},
        {"a": {"b": [{3: "deep"}]}},
        OrderedDict(b=1, a=[]),
    ],
)
def test_keys_json_converts_are_converted_as_json_does(value: Any) -> None:
    assert indented_json(value) == _json(value)


def test_what_json_refuses_it_refuses_the_same_way() -> None:
    loop: list[Any] = []
    loop.append(loop)
    for bad in ({"x": object()}, {"x": {1, 2}}, loop):
        with pytest.raises((TypeError, ValueError)) as ours:
            indented_json(bad)
        with pytest.raises(type(ours.value)) as theirs:
            _json(bad)
        assert str(ours.value) == str(theirs.value)


def test_the_sample_documents_are_written_byte_for_byte() -> None:
    paths = sorted(SAMPLES.glob("*.json"))
    assert paths
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert indented_json(doc) == _json(doc), path.name


def test_a_document_is_written_without_json_own_indenting_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = json.loads((SAMPLES / "scan.json").read_text(encoding="utf-8"))
    expected = _json(doc)

    def slow(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("fell back to json.dumps")

    monkeypatch.setattr(json, "dumps", slow)
    assert indented_json(doc) == expected
