"""A live capture says how many frames the kernel dropped before it could read them."""

from __future__ import annotations

import socket

import pytest

from camscan.passive import live


def test_frames_the_kernel_dropped_are_counted_and_stated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A socket pair stands in for the packet socket (no frame arrives, nothing is sent);
    # the kernel's PACKET_STATISTICS reading is what is under test.
    monkeypatch.setattr(live, "kernel_drops", lambda sock: 7)
    a, b = socket.socketpair()
    try:
        got = live.capture(a, 0.05, lambda ts, frame: None)
    finally:
        a.close()
        b.close()
    assert got == live.Captured(frames=0, dropped=7)
    assert got.problems() == [
        "the kernel dropped 7 frames on the capture socket (its buffer was full): devices "
        "heard only in those frames are missing"
    ]
    assert live.Captured(3, 0).problems() == []
