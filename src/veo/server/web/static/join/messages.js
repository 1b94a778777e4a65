// What the browser share does with each message a console may send on the data channel.
//
// The console's messages and what each needs are the protocol's (veo/protocol/datachannel.py
// NEEDS); a share is view only, so it shows some, refuses the rest with a reason the console turns
// into a sentence (a `dropped` message), and lets a few pass unanswered. Every type NEEDS names is in
// exactly one list here: tests/unit/console/test_join_messages_js.py holds them to NEEDS, so a new
// console message cannot reach the share unaccounted for.

/** Shown on the page: the chat and the technician's pointer work on the preview. */
export const SHOWN = ["chat", "chat_read", "annotate", "annotate_erase", "tech_pointer"];

/** Input (NEEDS "control"): a browser can never be controlled. */
export const INPUT_TYPES = ["pointer_move", "pointer_button", "wheel", "key", "text", "release_all"];

/** Features only the installed app has: clipboard, files, monitors, system information. */
export const REFUSED = [
  "clipboard",
  "file_offer",
  "file_accept",
  "file_reject",
  "file_progress",
  "file_cancel",
  "file_done",
  "select_monitor",
  "sysinfo_request",
];

/**
 * Passed over without a word: `view` (the console's size and zoom; the share sends what the browser
 * captures, as the agent does until a `view` arrives) and `heartbeat` (the console's liveness clock).
 */
export const IGNORED = ["view", "heartbeat"];

/** The `dropped` reason the share answers a console message with, or "" when it is not refused. */
export function refusalReason(type) {
  if (INPUT_TYPES.includes(type)) return "control_not_granted";
  if (REFUSED.includes(type)) return "browser_share";
  return "";
}
