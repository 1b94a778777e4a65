# Replaces PyInstaller's hook for gi.repository.Gio in the one-file agent (packaging/agent/veo-agent.spec):
# only Gio's typelib. PyInstaller's also bundles every GIO module of the build machine (gvfs, dconf,
# proxy resolvers, TLS through GnuTLS with p11-kit, libproxy, libidn2...: 3.3 MB in the file) and the
# MIME database. veo's GStreamer capture uses no GIO module, file type or network I/O through GIO
# (PyGObject needs libgio only because libgirepository links it), and the runtime hook points
# GIO_MODULE_DIR at a folder of the bundle that holds none, so the user's modules are not loaded either.
from PyInstaller.utils.hooks.gi import GiModuleInfo

module_info = GiModuleInfo("Gio", "2.0")
if module_info.available:
    binaries, datas, hiddenimports = module_info.collect_typelib_data()
