"""The one-file agent's entry point: ``veo agent`` as a program of its own (packaging/agent/veo-agent.spec).

``VEO_AGENT_BUILD_CHECK=1`` makes the file import every native module the agent can use and print
``build check ok`` instead of starting: ``packaging/build_agent.py`` runs that after each build, so a
library broken by stripping (or left out) fails the build, not the user's session.
"""

import os
import sys


def _build_check() -> int:
    import importlib

    names = [
        "av",
        "av.video.frame",
        "aiortc",
        "aiortc.codecs.h264",
        "aiortc.codecs.vpx",
        "aioice",
        "pylibsrtp",
        "google_crc32c",
        "numpy",
        "cryptography.hazmat.bindings._rust",
        "OpenSSL.SSL",
        "ssl",
        "mss",
        "Xlib.display",
        "psutil",
        "dbus_fast.aio",
        "websockets.asyncio.client",
        "pydantic",
        "pydantic_core",
        "babel.units",
        "veo.agent.app",
        "veo.agent.session",
        "veo.agent.encoder",
        "veo.agent.x11_desktop",
        "veo.agent.portal.desktop",
    ]
    for name in names:
        importlib.import_module(name)
    import tkinter

    tkinter.Tcl().eval("package require Tcl")  # Tcl's own library (init.tcl) is in the file
    import numpy

    numpy.ones((64, 64)).dot(numpy.ones((64, 64)))  # the bundled OpenBLAS loads and runs
    import av

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 64, "yuv420p"
    frame = av.VideoFrame(64, 64, "yuv420p")
    packets = [*codec.encode(frame), *codec.encode(None)]
    from babel import Locale

    Locale.parse("es_MX")
    Locale.parse("en_GB")
    from veo.i18n import gettext_for

    if gettext_for("es").gettext("Allow") == "Allow":
        raise SystemExit("build check: the Spanish catalog is missing")
    gst_version = _gstreamer_check()
    _libyuv_check()
    print(f"build check ok ({len(names)} modules, {len(packets)} H.264 packets, GStreamer {gst_version})")
    return 0


def _libyuv_check() -> None:
    """The bundle's libyuv is the one loaded (not the build machine's) and converts a picture."""
    import numpy

    from veo.agent import libyuv

    bundle = getattr(sys, "_MEIPASS", "")
    first = libyuv._candidates()[0]
    native = libyuv.load()
    if native is None or not first.startswith(bundle):
        raise SystemExit(f"build check: libyuv does not load from the file (first tried: {first})")
    y = numpy.zeros((16, 16), numpy.uint8)
    u, v = numpy.zeros((8, 8), numpy.uint8), numpy.zeros((8, 8), numpy.uint8)
    native.bgra_to_i420(numpy.full((16, 16), 0xFFFFFFFF, numpy.uint32), y, u, v)
    if int(y[0, 0]) != 235:  # white, limited range
        raise SystemExit(f"build check: libyuv converted white to {int(y[0, 0])}")


def _gstreamer_check() -> str:
    """GStreamer loads from the bundle, with pipewiresrc, videoconvert and appsink, and none of the
    system's plugins; the PipeWire client's modules, SPA plugin and configuration are in the bundle."""
    from veo.agent.capture.pipewire import ELEMENTS, load_gst

    gst = load_gst()  # BackendError("no_gstreamer") if PyGObject, a typelib or an element is missing
    bundle = getattr(sys, "_MEIPASS", "")
    for plugin in gst.Registry.get().get_plugin_list():
        filename = plugin.get_filename()
        if filename and not filename.startswith(bundle):
            raise SystemExit(f"build check: GStreamer loaded a plugin from outside the file: {filename}")
    for name in ELEMENTS:
        factory = gst.ElementFactory.find(name)
        plugin = factory.get_plugin() if factory else None
        if plugin is None or not (plugin.get_filename() or "").startswith(bundle):
            raise SystemExit(f"build check: GStreamer's {name} is not the bundle's")
    for variable, name in (
        ("PIPEWIRE_MODULE_DIR", "libpipewire-module-client-node.so"),
        ("SPA_PLUGIN_DIR", "support/libspa-support.so"),
        ("PIPEWIRE_CONFIG_DIR", "client.conf"),
    ):
        if not os.path.exists(os.path.join(os.environ.get(variable, "/nonexistent"), name)):
            raise SystemExit(f"build check: the PipeWire client's {name} is not in the file")
    return str(gst.version_string().split()[-1])


if __name__ == "__main__":
    if os.environ.get("VEO_AGENT_BUILD_CHECK") == "1":
        sys.exit(_build_check())
    from veo.agent.main import main

    sys.exit(main())
