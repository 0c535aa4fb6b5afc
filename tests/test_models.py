"""The fast builders of frozen records give the very records their classes build."""

from __future__ import annotations

import dataclasses

import pytest

from camscan.models import (
    Confidence,
    Conflict,
    Evidence,
    Match,
    Strength,
    Verdict,
    frozen_builder,
    new_match,
    new_verdict,
    no_surrogates,
)

EV = Evidence("198.18.0.5", "http", "http.server", "App-webs/", 80)


def test_built_match_is_a_match() -> None:
    args = ("http.server.hikvision", Strength.STRONG, EV, "Hikvision", "Hikvision", "camera")
    built, made = new_match(*args), Match(*args)
    assert type(built) is Match
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert built.model is None and built.serial is None  # defaults as Match's own
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.maker = "Dahua"  # type: ignore[misc]


def test_built_verdict_is_a_verdict() -> None:
    m = Match("fp", Strength.CONCLUSIVE, EV, "Dahua")
    args = (
        "Dahua",
        "Lorex",
        "camera",
        "IPC-HDW5421S",
        "2.800",
        "SN1",
        Confidence.CONFIRMED,
        (Conflict("brand", ("Lorex", "Amcrest"), ("a", "b")),),
        (m,),
        ("note",),
    )
    built, made = new_verdict(*args), Verdict(*args)
    assert type(built) is Verdict and built.is_target_maker
    assert built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert dataclasses.replace(built, model="x") == dataclasses.replace(made, model="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.confidence = Confidence.POSSIBLE  # type: ignore[misc]


def test_builder_takes_keywords_and_defaults_like_the_class() -> None:
    kwargs = {"maker": None, "brand": None, "device_type": "unknown", "model": None}
    kwargs |= {"firmware": None, "serial": None, "confidence": Confidence.UNDETERMINED}
    assert new_verdict(**kwargs) == Verdict(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        new_match("fp")  # a field without a default is required, as in Match


def test_builder_refuses_what_its_class_refuses() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        a: int
        b: int = 2

    build = frozen_builder(Pair)
    assert build(1) == Pair(1) and type(build(1, 3)) is Pair
    with pytest.raises(TypeError):
        build(1, 2, 3)


def test_no_surrogates_replaces_each_lone_surrogate_and_keeps_the_rest() -> None:
    assert no_surrogates("plain ascii") == "plain ascii"
    assert no_surrogates("caf\u00e9 \ud800x\udfff") == "caf\u00e9 \ufffdx\ufffd"
    assert no_surrogates("\ud83d\ude00") == "\ufffd\ufffd"  # a pair in a str is two halves
    assert no_surrogates("\U0001f600") == "\U0001f600"
