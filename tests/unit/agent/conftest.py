"""Fixtures for the agent's unit tests."""

from __future__ import annotations

import os

import pytest

from veo.agent import convert, libyuv


def _require_libyuv() -> libyuv.Libyuv:
    """libyuv as the canvas uses it; ``make system-packages`` installs it (Debian's libyuv0):
    missing is a skip, and a failure under CI=true."""
    if convert.native is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("libyuv (Debian's libyuv0) does not load", pytrace=False)
        pytest.skip("libyuv is not installed (make system-packages)")
    return convert.native


@pytest.fixture
def native_converter() -> libyuv.Libyuv:
    """libyuv, the converter of pictures at the screen's size where it loads."""
    return _require_libyuv()


@pytest.fixture
def swscale_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pictures at the screen's size converted by swscale, as on a computer without libyuv."""
    monkeypatch.setattr(convert, "native", None)


@pytest.fixture(params=["libyuv", "swscale"])
def unscaled_converter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each converter of pictures at the screen's size in turn (``convert.native``)."""
    if request.param == "swscale":
        monkeypatch.setattr(convert, "native", None)
    else:
        _require_libyuv()
    return str(request.param)
