# PyInstaller runtime hook of the one-file agent (packaging/agent/veo-agent.spec): GStreamer, PyGObject
# and the PipeWire client library use the bundle's own plugins, typelibs, modules and configuration,
# never the user's system ones (of another version: a GStreamer or PipeWire plugin built for another
# release of the library can crash it).
#
# It replaces PyInstaller's pyi_rth_gstreamer and pyi_rth_gi (the spec takes them out) because those
# leave GST_PLUGIN_SYSTEM_PATH='' and GST_REGISTRY_FORK=no behind for every program the agent starts,
# and a GStreamer program started with them finds none of its plugins. Here every variable set is
# recorded with its value before (or null) in VEO_AGENT_BUNDLE_ENV, and
# veo.agent.bundle.user_environment() puts them back for those programs.
#
# Why a runtime hook and not the agent's start-up: this runs before any of veo's code, in every
# start of the file (the build's check too), and it sits next to the spec that decides which files
# are in the bundle and where: the two change together. veo's own code stays the same frozen or not.
#
# GStreamer: plugins from <bundle>/gst_plugins only (GST_PLUGIN_SYSTEM_PATH; GST_PLUGIN_PATH unset so
# a user's own plugin folder is not read either); the registry cache in the bundle's folder, which
# is private, writable and new on every start (the plugins' paths change with it, so a registry kept
# elsewhere would be rebuilt anyway: five plugins, a few milliseconds); GST_REGISTRY_FORK=no loads
# the plugins in this process, so no gst-plugin-scanner helper program is needed (GST_PLUGIN_SCANNER
# is then never used, and is pointed at the bundle so a system scanner of another version cannot be
# picked up).
#
# PipeWire: pipewiresrc's libpipewire-0.3 loads its client configuration (client.conf), the modules it
# names (protocol-native, client-node, client-device, adapter, metadata, session-manager) and the SPA
# support plugin from paths compiled in for the build machine (Debian's /usr/lib/x86_64-linux-gnu/...).
# The bundle carries those files and points the library at them, so the client never loads a module
# of the user's PipeWire (another version, linked against their libpipewire, not ours).


def _pyi_rthook():
    import json
    import os
    import sys

    bundle = sys._MEIPASS
    values = {
        "GST_PLUGIN_SYSTEM_PATH": os.path.join(bundle, "gst_plugins"),
        "GST_PLUGIN_PATH": None,
        "GST_PLUGIN_SCANNER": os.path.join(bundle, "gst_plugins", "gst-plugin-scanner"),
        "GST_REGISTRY": os.path.join(bundle, "gst-registry.bin"),
        "GST_REGISTRY_FORK": "no",
        "GI_TYPELIB_PATH": os.path.join(bundle, "gi_typelibs"),
        "GIO_MODULE_DIR": os.path.join(bundle, "gio_modules"),
        "SPA_PLUGIN_DIR": os.path.join(bundle, "pipewire", "spa-0.2"),
        "PIPEWIRE_MODULE_DIR": os.path.join(bundle, "pipewire", "pipewire-0.3"),
        "PIPEWIRE_CONFIG_DIR": os.path.join(bundle, "pipewire", "conf"),
    }
    before = {}
    for name, value in values.items():
        before[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.environ["VEO_AGENT_BUNDLE_ENV"] = json.dumps(before)


_pyi_rthook()
del _pyi_rthook
