"""The words of the sample help desk: categories, problems, notes, people and comments.

Titles repeat with small variations (``{n}``, ``{thing}``, ``{day}`` are filled in per ticket) so the
reports' recurring-problem clusters have something to find; a few are in Spanish, as in a
bilingual department. Every problem has the note a technician would write when it was solved.
"""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    title: str
    description: str
    #: what the technician wrote when it was solved
    note: str


PROBLEMS: dict[str, list[Problem]] = {
    "Printing": [
        Problem(
            "Printer on floor {n} jams",
            "Paper jam error again on the {thing} printer, tray 2.",
            "Removed a torn sheet behind tray 2 and cleaned the rollers.",
        ),
        Problem(
            "Cannot print to the {thing} printer",
            "Print jobs stay in the queue and nothing comes out.",
            "Cleared the stuck queue and reinstalled the printer driver.",
        ),
        Problem(
            "Toner empty on floor {n}",
            "The printer says toner low; a replacement is needed.",
            "Replaced the toner cartridge.",
        ),
        Problem(
            "La impresora no imprime",
            "Los trabajos se quedan en cola desde {day}.",
            "Se vació la cola de impresión y se reinició el servicio.",
        ),
    ],
    "Network": [
        Problem(
            "VPN does not connect",
            "The VPN client fails to connect from home since {day}.",
            "Renewed the VPN profile and the user's certificate.",
        ),
        Problem(
            "Wi-Fi drops in room {n}",
            "The wireless connection drops every few minutes.",
            "Moved the laptop to the 5 GHz network and updated the Wi-Fi driver.",
        ),
        Problem(
            "No puedo conectar la VPN",
            "La VPN no conecta desde casa desde {day}.",
            "Se actualizó el cliente VPN y se volvió a importar el perfil.",
        ),
        Problem(
            "Shared drive not reachable",
            "The {thing} drive is missing from the computer.",
            "Mapped the drive again with the user's new credentials.",
        ),
    ],
    "E-mail": [
        Problem(
            "Outlook keeps asking for password",
            "Outlook asks for the password every time it starts.",
            "Removed the old saved credential and signed in again.",
        ),
        Problem(
            "Mailbox full",
            "Cannot send e-mail, the mailbox is over its quota.",
            "Archived mail older than two years; the mailbox is at 60 %.",
        ),
        Problem(
            "Calendar not syncing to the phone",
            "Meetings added in Outlook do not appear on the phone.",
            "Removed and re-added the account on the phone.",
        ),
    ],
    "Accounts": [
        Problem(
            "Password expired",
            "I need to reset my password, it expired on {day}.",
            "Reset the password with the user on the phone; they chose a new one.",
        ),
        Problem(
            "Account locked",
            "My account is locked after too many attempts.",
            "Unlocked the account; an old phone kept trying the former password.",
        ),
        Problem(
            "New starter account for {thing}",
            "A new colleague starts on Monday in {thing}.",
            "Created the account and added it to the department's groups.",
        ),
    ],
    "Hardware": [
        Problem(
            "Laptop does not turn on",
            "The laptop shows no light when the power button is pressed.",
            "Faulty charger; replaced it from stock.",
        ),
        Problem(
            "Second monitor flickers",
            "The second screen flickers when connected to the dock.",
            "Replaced the cable and updated the dock's firmware.",
        ),
    ],
    "Software": [
        Problem(
            "Install {thing}",
            "Please install {thing} on my computer.",
            "Installed {thing} from the software centre and checked it opens.",
        ),
        Problem(
            "Excel crashes when opening files",
            "Excel closes itself when I open the monthly report.",
            "Disabled a broken add-in and repaired Office.",
        ),
        Problem(
            "{thing} no abre",
            "Al abrir {thing} aparece un error desde {day}.",
            "Se reparó la instalación de {thing}.",
        ),
    ],
    "Phones": [
        Problem(
            "Desk phone has no line",
            "No dial tone on the desk phone in room {n}.",
            "The phone's network cable was loose.",
        ),
    ],
    "Access": [
        Problem(
            "Need access to the {thing} share",
            "Please give me access to the {thing} folder.",
            "Added the user to the folder's group after the owner approved.",
        ),
    ],
    "Video calls": [
        Problem(
            "Camera not detected in calls",
            "The camera is not found in video calls.",
            "Allowed camera access in the privacy settings.",
        ),
        Problem(
            "No sound in {thing} meetings",
            "Others cannot hear me in {thing} meetings.",
            "Selected the headset as the microphone in {thing}.",
        ),
    ],
    "Slow computer": [
        Problem(
            "Computer very slow",
            "Everything takes minutes to open since {day}.",
            "Removed start-up programs and freed disk space; restart is quick again.",
        ),
    ],
    "Files": [
        Problem(
            "Lost a file on {thing}",
            "I deleted a file on the {thing} drive by mistake.",
            "Restored the file from last night's backup.",
        ),
    ],
    "Other": [
        Problem(
            "Question about {thing}",
            "How do I share a document in {thing}?",
            "Showed the user how to share it during a remote session.",
        ),
    ],
}
THINGS = ["finance", "sales", "HR", "Excel", "Teams", "SAP", "Acrobat", "marketing", "legal", "Zoom"]
DAYS = ["Monday", "Tuesday", "yesterday", "the update", "last week"]
FIRST = ["Ana", "Luis", "Marta", "John", "Sofía", "Pedro", "Laura", "Tom", "Elena", "Raúl", "Kim", "Carmen"]
LAST = ["García", "Smith", "López", "Martín", "Brown", "Sánchez", "Pérez", "Jones", "Díaz", "Moreno"]
DEPARTMENTS = ["Sales", "Finance", "HR", "Legal", "Operations", "Marketing", "Reception"]
#: Names of the sample technicians, in order (more are made up from FIRST and LAST).
TECHNICIANS = [
    "Irene Castillo",
    "David Okafor",
    "Lucía Romero",
    "Marco Bianchi",
    "Nadia Haddad",
    "Pablo Ortega",
    "Sara Lindqvist",
    "Tomás Ruiz",
]
RATING_COMMENTS = {
    5: ["Quick and clear, thank you!", "Muy amable y rápido.", "Solved while I watched, great."],
    4: ["Good help.", "Bien, aunque tardó un poco."],
    3: ["It works now, but it took a while."],
    2: ["I had to call twice."],
    1: ["The problem came back the next day."],
}
PILOT_NAME = "Remote session first"
