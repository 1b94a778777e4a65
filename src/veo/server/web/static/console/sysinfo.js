// System information: the technician asks, the user sees exactly what would be sent and decides on
// their own computer (a separate consent from the session's); this panel shows the answer in
// sections and tables and attaches it to the ticket (POST /api/v1/sessions/<id>/sysinfo).
//
// #sysinfo-panel data-state: idle | requested | received | declined. Nothing of the user's data
// exists in this page before the agent's `sysinfo` message, which it sends only after "Send".

import { csrfToken } from "../shared/csrf.js";
import { t } from "./i18n.js";
import { durationText } from "./ui.js";

const POLL_MS = 500;

/** Bytes as people read them (1.5 GB); "?" for anything that is not a number. */
export function sizeText(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "?";
  let amount = value;
  for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
    if (amount < 1024 || unit === "TB") return unit === "B" ? `${amount.toFixed(0)} B` : `${amount.toFixed(1)} ${unit}`;
    amount /= 1024;
  }
  return "?";
}

function uptimeText(seconds) {
  // to the minute, like the ticket's uptime_text (protocol/sysinfo.py): nobody reads an uptime's seconds
  return Number.isInteger(seconds) && seconds >= 0 ? durationText(seconds - (seconds % 60)) : "?";
}

const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const list = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === "object") : []);
const str = (v) => (v === undefined || v === null ? "" : String(v));

/** Sections of {title, headers?, rows: [[cell...]], fields?: [name...]} for the panel. */
export function sections(info) {
  const os = obj(info.os);
  const cpu = obj(info.cpu);
  const mem = obj(info.memory);
  return [
    {
      key: "overview",
      title: t("sysinfo.overview"),
      rows: [
        [t("sysinfo.hostname"), str(info.hostname), "hostname"],
        [t("sysinfo.os"), `${str(os.name || os.system)} (${str(os.release)}, ${str(os.machine)})`, "os"],
        [t("sysinfo.uptime"), uptimeText(info.uptime_seconds), "uptime"],
        [t("sysinfo.cpu"), `${str(cpu.model)}, ${str(cpu.logical)} × ${str(cpu.mhz)} MHz, ${str(cpu.load_percent)}%`, "cpu"],
        [t("sysinfo.memory"), t("sysinfo.memory_value", { total: sizeText(mem.total), available: sizeText(mem.available) }), "memory"],
      ],
    },
    {
      key: "disks",
      title: t("sysinfo.disks"),
      headers: [t("sysinfo.mount"), t("sysinfo.device"), t("sysinfo.free"), t("sysinfo.total")],
      rows: list(info.disks).map((d) => [str(d.mount), `${str(d.device)} (${str(d.fstype)})`, sizeText(d.free), sizeText(d.total)]),
    },
    {
      key: "displays",
      title: t("sysinfo.displays"),
      headers: [t("sysinfo.name"), t("sysinfo.size"), t("sysinfo.position")],
      rows: list(info.displays).map((d) => [str(d.name) + (d.primary ? ` (${t("sysinfo.primary")})` : ""), `${str(d.width)}×${str(d.height)}`, `+${str(d.x)}+${str(d.y)}`]),
    },
    {
      key: "network",
      title: t("sysinfo.network"),
      headers: [t("sysinfo.name"), t("sysinfo.state"), t("sysinfo.mac"), t("sysinfo.addresses")],
      rows: list(info.network).map((n) => [str(n.name), n.up ? t("sysinfo.up") : t("sysinfo.down"), str(n.mac), (Array.isArray(n.addresses) ? n.addresses : []).map(str).join(", ")]),
    },
    ...["processes_by_cpu", "processes_by_memory"].map((key) => ({
      key,
      title: t(`sysinfo.${key}`),
      headers: [t("sysinfo.process"), t("sysinfo.pid"), t("sysinfo.user"), t("sysinfo.cpu_percent"), t("sysinfo.rss")],
      rows: list(info[key]).map((p) => [str(p.name), str(p.pid), str(p.user), `${str(p.cpu_percent)}%`, sizeText(p.rss)]),
    })),
    {
      key: "programs",
      title: t("sysinfo.programs"),
      headers: [t("sysinfo.name"), t("sysinfo.version")],
      rows: list(info.programs).map((p) => [str(p.name), p.found ? str(p.version) || (p.error === "timeout" ? t("sysinfo.timeout") : "?") : t("sysinfo.not_installed")]),
    },
  ];
}

function renderInto(doc, target, info) {
  target.replaceChildren();
  for (const section of sections(info)) {
    const wrap = doc.createElement("section");
    wrap.className = "sysinfo-section";
    wrap.dataset.section = section.key;
    const h = doc.createElement("h3");
    h.textContent = section.title;
    wrap.append(h);
    const table = doc.createElement("table");
    table.className = "sysinfo-table";
    if (section.headers) {
      const head = doc.createElement("tr");
      for (const text of section.headers) {
        const th = doc.createElement("th");
        th.scope = "col";
        th.textContent = text;
        head.append(th);
      }
      table.append(head);
    }
    for (const row of section.rows) {
      const tr = doc.createElement("tr");
      if (!section.headers) {
        const [label, value, field] = row;
        const th = doc.createElement("th");
        th.scope = "row";
        th.textContent = label;
        const td = doc.createElement("td");
        td.textContent = value;
        td.dataset.field = field;
        tr.append(th, td);
      } else {
        for (const cell of row) {
          const td = doc.createElement("td");
          td.textContent = cell;
          tr.append(td);
        }
      }
      table.append(tr);
    }
    if (!section.rows.length) {
      const tr = doc.createElement("tr");
      const td = doc.createElement("td");
      td.textContent = t("sysinfo.none");
      tr.append(td);
      table.append(tr);
    }
    wrap.append(table);
    target.append(wrap);
  }
}

export function install(app, doc = document) {
  const panel = doc.getElementById("sysinfo-panel");
  const button = doc.getElementById("sysinfo-request");
  const state = doc.getElementById("sysinfo-state");
  const details = doc.getElementById("sysinfo-details");
  const attached = doc.getElementById("sysinfo-attached");
  if (!panel || !button || !state || !details) return;
  const ticketId = panel.dataset.ticketId || "";
  const url = `/api/v1/sessions/${encodeURIComponent(app.sessionId)}/sysinfo`;

  function setState(name, text) {
    panel.dataset.state = name;
    state.textContent = text;
    state.hidden = !text;
    button.disabled = name === "requested" || !app.dataOpen();
  }

  button.addEventListener("click", () => {
    if (panel.dataset.state === "requested") return;
    if (app.sendData({ type: "sysinfo_request", v: 1 })) setState("requested", t("sysinfo.requested"));
    else setState(panel.dataset.state || "idle", t("sysinfo.not_connected"));
  });

  app.onDataType("sysinfo", (m) => {
    const info = obj(m.info);
    if (!Object.keys(info).length) return;
    setState("received", t("sysinfo.received"));
    renderInto(doc, details, info);
    details.hidden = false;
    attach(info);
  });
  app.onDataType("sysinfo_declined", () => setState("declined", t("sysinfo.declined")));

  setInterval(() => {
    button.disabled = panel.dataset.state === "requested" || !app.dataOpen();
  }, POLL_MS);

  function attach(info) {
    const form = new FormData();
    form.append("csrf_token", csrfToken(doc));
    form.append("info", JSON.stringify(info));
    fetch(url, { method: "POST", body: form, credentials: "same-origin" })
      .then((response) => {
        if (!attached) return;
        attached.dataset.state = response.ok ? "attached" : "failed";
        attached.textContent = t(response.ok ? "sysinfo.attached" : "sysinfo.attach_failed", { ticket: ticketId });
        attached.hidden = false;
      })
      .catch(() => {
        if (!attached) return;
        attached.dataset.state = "failed";
        attached.textContent = t("sysinfo.attach_failed", { ticket: ticketId });
        attached.hidden = false;
      });
  }
  setState("idle", "");
}
