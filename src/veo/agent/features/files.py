"""Files and the clipboard: ``agent/files.py`` + ``agent/clipboard.py`` on the session, ``ui/files.py``
and the Tk clipboard watch on the screen, each only when the user granted it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from veo.agent.clipboard import AgentClipboard, TkClipboard
from veo.agent.events import (
    ClipboardReceived,
    FileOffered,
    FileTransferEnded,
    FileTransferProgress,
    FileTransferStarted,
    UiEvent,
)
from veo.agent.features.base import Surroundings
from veo.agent.files import AgentFiles
from veo.agent.ui.files import FileWindows
from veo.protocol.permissions import Permission

if TYPE_CHECKING:
    from veo.agent.session import AgentSession


class FilesFeature:
    EVENTS: ClassVar[tuple[type, ...]] = (
        ClipboardReceived,
        FileOffered,
        FileTransferStarted,
        FileTransferProgress,
        FileTransferEnded,
    )

    def __init__(self, around: Surroundings) -> None:
        self._around = around
        self.files: AgentFiles | None = None
        self.clipboard: AgentClipboard | None = None
        self.windows: FileWindows | None = None
        self.tk_clipboard: TkClipboard | None = None

    def attach(self, session: AgentSession) -> None:
        self.files = AgentFiles(session, self._around.post)
        self.clipboard = AgentClipboard(session, self._around.post)

    def start(self, granted: tuple[Permission, ...]) -> None:
        """Windows for files and the clipboard watch, each only when the user granted it."""
        around = self._around
        files, clipboard, joined = self.files, self.clipboard, around.joined()
        loop = around.loop
        if files is not None and joined is not None and Permission.FILES in granted:
            self.windows = FileWindows(
                around.root,
                around.fonts,
                around.gettext,
                joined.technician_name,
                accept=lambda tid, folder: loop.call(files.accept, tid, folder),
                decline=lambda tid: loop.call(files.decline, tid),
                cancel=lambda tid: loop.call(files.cancel, tid),
                send=lambda path: loop.call(files.send_file, path),
            )
        if clipboard is not None and Permission.CLIPBOARD in granted:
            send = clipboard.send_local
            self.tk_clipboard = TkClipboard(around.root, lambda text: loop.call(send, text))

    def open_sender(self) -> None:
        """The bar's *Send a file*."""
        if self.windows is not None:
            self.windows.open_sender()

    def handle(self, event: UiEvent) -> None:
        if isinstance(event, ClipboardReceived):
            if self.tk_clipboard is not None:
                self.tk_clipboard.write(event.text)
        elif self.windows is not None and isinstance(
            event, FileOffered | FileTransferStarted | FileTransferProgress | FileTransferEnded
        ):
            self.windows.handle(event)

    def close(self) -> None:
        if self.windows is not None:
            self.windows.close()
            self.windows = None
        if self.tk_clipboard is not None:
            self.tk_clipboard.close()
            self.tk_clipboard = None
