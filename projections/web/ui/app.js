// indexer web UI: plain JavaScript, no build step. Every page is a hash
// route (#/search?q=...) rendered from the JSON API. Text from the index is
// always inserted as text nodes, never as HTML: file names can hold anything.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $("#main");

// ---------- DOM ----------

// h builds an element: h("a", {href: "#/"}, "text", child, ...). Attributes
// starting with "on" are listeners; null and false children are skipped.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function render(...nodes) {
  const m = main();
  m.replaceChildren(...nodes.flat().filter(Boolean));
}

// ---------- formatting ----------

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
function bytes(n) {
  n = Number(n || 0);
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + UNITS[i];
}
const num = (n) => Number(n || 0).toLocaleString("en-US");

// parseSize reads "10M", "1.5 GiB", "300k", "42" into bytes; NaN if bad.
function parseSize(s) {
  s = String(s || "").trim();
  if (!s) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s);
  if (!m) return NaN;
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2].toLowerCase()];
  return Math.round(parseFloat(m[1]) * mult);
}

function when(t) {
  if (!t || t.startsWith("0001-")) return "—";
  const d = new Date(t);
  if (isNaN(d)) return "—";
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}
function ago(t) {
  if (!t || t.startsWith("0001-")) return "never";
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (s < 0) return when(t);
  if (s < 90) return Math.round(s) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 129600) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}
const nsDate = (ns) => (ns ? when(new Date(Number(ns) / 1e6).toISOString()) : "—");
function duration(ns) {
  const s = Number(ns || 0) / 1e9;
  if (s < 1) return Math.round(s * 1000) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  return Math.round(s / 60) + " min";
}
const short = (sha) => (sha ? sha.slice(0, 12) + "…" : "");

// ---------- paths ----------
// A path is a JSON string, or {b64, text} when it is not UTF-8. Display
// shows control characters and bad bytes as escapes, marked up.

function pathBytes(p) {
  if (p && typeof p === "object" && p.b64 !== undefined) {
    return Uint8Array.from(atob(p.b64), (c) => c.charCodeAt(0));
  }
  return null;
}

// pathParts returns [text, isEscape] pieces of a path for display.
function pathParts(p) {
  const out = [];
  const push = (s, esc) => {
    const last = out[out.length - 1];
    if (last && last[1] === esc) last[0] += s; else out.push([s, esc]);
  };
  const ctl = (c) => ({ 10: "\\n", 9: "\\t", 13: "\\r" }[c] || "\\x" + c.toString(16).padStart(2, "0"));
  const raw = pathBytes(p);
  if (raw === null) {
    for (const ch of String(p ?? "")) {
      const c = ch.codePointAt(0);
      if (c < 0x20 || c === 0x7f) push(ctl(c), true); else push(ch, false);
    }
    return out;
  }
  const dec = new TextDecoder("utf-8", { fatal: true });
  for (let i = 0; i < raw.length;) {
    const b = raw[i];
    let n = b < 0x80 ? 1 : b >= 0xf0 && b < 0xf8 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
    let s = null;
    if (n > 0 && i + n <= raw.length) {
      try { s = dec.decode(raw.subarray(i, i + n)); } catch { s = null; }
    }
    if (s === null) { push("\\x" + b.toString(16).padStart(2, "0"), true); i++; continue; }
    const c = s.codePointAt(0);
    if (c < 0x20 || c === 0x7f) push(ctl(c), true); else push(s, false);
    i += n;
  }
  return out;
}
const pathText = (p) => pathParts(p).map((x) => x[0]).join("");
function pathNode(p, cls = "path") {
  return h("span", { class: cls, title: pathText(p) },
    pathParts(p).map(([s, esc]) => (esc ? h("span", { class: "esc" }, s) : s)));
}
// pathQuery returns the query parameters that carry p exactly.
function pathQuery(p, name) {
  if (p && typeof p === "object") return { [name + "_b64"]: p.b64 };
  return { [name]: p };
}
function baseName(p) {
  const raw = pathBytes(p);
  if (raw === null) { const s = String(p); return s.slice(s.lastIndexOf("/") + 1); }
  const i = raw.lastIndexOf(47);
  return { b64: btoa(String.fromCharCode(...raw.subarray(i + 1))) };
}
function dirName(p) {
  const raw = pathBytes(p);
  if (raw === null) { const s = String(p); return s.slice(0, s.lastIndexOf("/") + 1); }
  const i = raw.lastIndexOf(47);
  return { b64: btoa(String.fromCharCode(...raw.subarray(0, i + 1))) };
}

// ---------- routing ----------

function hashFor(route, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined && v !== false) q.set(k, v);
  const s = q.toString();
  return "#/" + route + (s ? "?" + s : "");
}
const fileHash = (machine, p) => hashFor("file", { m: machine, ...(typeof p === "object" ? { pb: p.b64 } : { p }) });
const treeHash = (machine, d) => hashFor("tree", { m: machine, ...(typeof d === "object" ? { db: d.b64 } : { d }) });

function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, qs] = raw.split("?");
  return { name: name || "dashboard", params: new URLSearchParams(qs || "") };
}

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const res = await fetch(path + (q.toString() ? "?" + q : ""), { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) {
    const err = new Error((body && body.detail) || res.status + " " + res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

const views = { dashboard, search, dupes, tree, file, rot };
let seq = 0; // the render generation: a slow answer for an old route is dropped

async function route() {
  const r = currentRoute();
  const my = ++seq;
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === r.name);
    if (a.dataset.nav === r.name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const view = views[r.name];
  if (!view) { render(h("div", { class: "error" }, "No page " + r.name)); return; }
  render(h("div", { class: "loading" }, "Loading…"));
  try {
    const nodes = await view(r.params);
    if (my !== seq) return;
    render(nodes);
    const target = main().querySelector("[autofocus]");
    if (target) target.focus();
  } catch (e) {
    if (my !== seq) return;
    render(h("h1", {}, "Something went wrong"), h("div", { class: "error", role: "alert" }, e.message));
  }
  refreshStatus();
}

async function refreshStatus() {
  try {
    const s = await api("/api/status");
    const el = $("#status");
    el.replaceChildren(
      s.live ? h("span", { class: "badge good" }, "live") : h("span", { class: "badge plain" }, "read-only"), " ",
      "seq " + num(s.checkpoint),
      s.last_seq ? (s.lag > 0 ? h("span", { class: "badge warn" }, " lag " + num(s.lag)) : " · caught up") : "");
  } catch { /* the page shows errors itself */ }
}

// ---------- shared pieces ----------

function panel(title, body, extra) {
  return h("section", { class: "panel" }, h("header", {}, h("h2", {}, title), extra || null), body);
}
function table(head, rows, empty = "Nothing here.") {
  if (!rows.length) return h("div", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, head.map((c) => (typeof c === "string" ? h("th", {}, c) : h("th", { class: c.cls }, c.text))))),
    h("tbody", {}, rows));
}
// row makes a table row whose first link opens on click anywhere in it.
function row(cells, href) {
  const tr = h("tr", { class: href ? "clickable" : "" }, cells);
  if (href) {
    tr.addEventListener("click", (e) => {
      if (e.target.closest("a,button,input,select,summary")) return;
      location.hash = href;
    });
  }
  return tr;
}
function bar(part, whole) {
  const b = h("div", { class: "bar", role: "presentation" }, h("span"));
  b.firstChild.style.width = (whole > 0 ? Math.max(1, (100 * part) / whole) : 0) + "%";
  return b;
}
function stateBadge(s) {
  const cls = { complete: "good", running: "", interrupted: "warn", none: "plain" }[s] ?? "plain";
  return h("span", { class: "badge " + cls }, s || "none");
}
function copyButton(text) {
  return h("button", {
    type: "button", class: "copy", title: "Copy", onclick: async (e) => {
      try { await navigator.clipboard.writeText(text); e.target.textContent = "copied"; } catch { e.target.textContent = "select it"; }
    },
  }, "copy");
}
// pager pages through total results; capped says total is a lower bound
// (the server stopped counting) and more follow.
function pager(offset, limit, total, go, capped = false) {
  const more = capped ? "+" : "";
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return h("div", { class: "pager" },
    h("span", {}, total ? `${num(offset + 1)}–${num(Math.min(offset + limit, total))} of ${num(total)}${more}` : "no results"),
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "ghost", "data-page": "prev", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, "← Previous"),
    h("span", {}, `page ${num(page)} of ${num(pages)}${more}`),
    h("button", { type: "button", class: "ghost", "data-page": "next", disabled: offset + limit >= total && !capped, onclick: () => go(offset + limit) }, "Next →"));
}
async function machineOptions(selected) {
  const ms = await api("/api/machines");
  return [h("option", { value: "" }, "all machines"), ms.map((m) => h("option", { value: m.name, selected: m.name === selected }, m.name))];
}
function fileLink(f, name) {
  return h("a", { href: fileHash(f.machine, f.path), class: "row-link" }, memberBadge(f), pathNode(name ?? baseName(f.path)));
}
// SEP joins an archive and the path of a member in it: ARCHIVE::inner/path.
const SEP = "::";
// isMember tells an archive's member: by its archive field, or (where the
// index does not give it) "::" in its path and no inode.
const isMember = (f) => !!f.archive || (f.inode === 0 && f.dev === 0 && pathText(f.path).includes(SEP));
// inArchive gives the counts of what is inside archives: files and bytes,
// with the members an index counts apart from files (archive_members).
const inArchive = (c) => ({ ...c, files: Number(c.files || 0) + Number(c.archive_members || 0), bytes: Number(c.bytes || 0) + Number(c.archive_member_bytes || 0) });
function memberBadge(f) {
  return isMember(f) ? h("span", { class: "badge plain", title: "a member of the archive " + pathText(f.path).slice(0, pathText(f.path).lastIndexOf(SEP)) }, "in archive") : null;
}

// ---------- dashboard ----------

async function dashboard() {
  const [stats, scans, status, top] = await Promise.all([
    api("/api/stats"), api("/api/scans", { limit: 8 }), api("/api/status"),
    // The Duplicates page's default question: its total is the card's count.
    api("/api/dupes", { sort: "wasted", min_size: 1, limit: 6, files: 1 }),
  ]);
  const maxBytes = Math.max(1, ...stats.machines.map((m) => m.bytes));
  const cards = h("div", { class: "cards" },
    card("Files", num(stats.files), [`${stats.machines.length} machine${stats.machines.length === 1 ? "" : "s"}`,
      stats.links ? ` · ${num(stats.links)} link${stats.links === 1 ? "" : "s"}` : null,
      stats.archive_members ? h("span", { title: "members of archives, counted apart from files" }, ` · ${num(stats.archive_members)} in archives (${bytes(stats.archive_member_bytes)})`) : null]),
    card("Total size", bytes(stats.bytes), `${bytes(stats.unique_bytes)} unique`),
    card("Wasted by duplicates", bytes(stats.wasted_bytes),
      h("a", { href: "#/dupes", title: "contents held by two or more files; empty files left out" }, `${num(top.total)} duplicate group${top.total === 1 ? "" : "s"}`), "waste"),
    card("Index", "seq " + num(status.checkpoint),
      status.last_seq ? (status.lag ? `${num(status.lag)} events behind the log` : "caught up with the log") : "log not reachable",
      null, stats.dead_letters ? `${num(stats.dead_letters)} rejected events` : null));
  const machines = panel("Machines", table(
    ["Machine", { text: "Files", cls: "num wide" }, { text: "Size", cls: "num" }, { text: "Links", cls: "num wide" }, { text: "In archives", cls: "num wide" }, "Last scan", { text: "Events", cls: "num wide" }],
    stats.machines.map((m) => row([
      h("td", { class: "pathcol" }, h("a", { href: treeHash(m.name, "/"), class: "row-link" }, pathNode(m.name))),
      h("td", { class: "num wide" }, num(m.files)),
      h("td", { class: "num" }, bytes(m.bytes), bar(m.bytes, maxBytes)),
      h("td", { class: "num wide" }, m.links ? num(m.links) : "—"),
      h("td", { class: "num wide", title: m.archive_members ? bytes(m.archive_member_bytes) + " uncompressed" : "" }, m.archive_members ? num(m.archive_members) : "—"),
      h("td", {}, stateBadge(m.last_scan_state), " ", h("span", { class: "dim", title: when(m.last_scan_end || m.last_scan_start) }, ago(m.last_scan_end || m.last_scan_start))),
      h("td", { class: "num wide" }, num(m.events)),
    ], treeHash(m.name, "/"))), "No machines yet: run indexer-scan on one."));
  const recent = panel("Recent scans", table(
    ["Machine", "Root", "State", { text: "Started", cls: "wide" }, { text: "Took", cls: "num wide" }, { text: "Changes", cls: "wide" }],
    scans.map((s) => row([
      h("td", { class: "nowrap" }, s.machine),
      h("td", { class: "pathcol" }, pathNode(s.root)),
      h("td", {}, stateBadge(s.state)),
      h("td", { class: "nowrap dim wide", title: when(s.started) }, ago(s.started)),
      h("td", { class: "num wide" }, s.duration_ns ? duration(s.duration_ns) : "—"),
      h("td", { class: "dim wide", title: "+ added, ~ changed, → moved, − deleted" }, changes(s)),
    ])), "No scans yet."));
  const dupes = panel("Biggest waste", table(
    [{ text: "Wasted", cls: "num" }, "Copies", "First copy"],
    top.groups.filter((g) => g.wasted > 0).map((g) => {
      const f = g.files && g.files[0];
      const href = f ? fileHash(f.machine, f.path) : null;
      return row([
        h("td", { class: "num" }, bytes(g.wasted)),
        h("td", { class: "nowrap" }, copies(g)),
        h("td", { class: "pathcol" }, f ? h("a", { href, class: "row-link" }, pathNode(f.path)) : short(g.sha256)),
      ], href);
    }), "No duplicates."), h("a", { class: "more", href: "#/dupes" }, "All duplicates →"));
  // Bit rot is read from the log's changes, which can take a while: the
  // dashboard shows without it and the warning follows when there is one.
  const rotSlot = h("div", { id: "rot-slot" });
  api("/api/rot").then((list) => {
    if (list.length && rotSlot.isConnected) {
      rotSlot.replaceChildren(h("div", { class: "error", role: "alert" }, h("strong", {}, "Bit rot: "),
        h("a", { href: "#/rot" }, `${num(list.length)} file${list.length === 1 ? "" : "s"} with bit rot`),
        ": a --verify read other content than was recorded, while size and times stayed."));
    }
  }).catch(() => { /* no log here, or busy: the page works without it */ });
  return [h("h1", {}, "Dashboard"), h("p", { class: "sub" }, "Everything the index knows, across machines."),
    rotSlot, cards, machines, h("div", { class: "grid2" }, recent, dupes)];
}
function card(label, value, note, cls, note2) {
  return h("div", { class: "card " + (cls || "") }, h("div", { class: "label" }, label), h("div", { class: "value" }, value),
    h("div", { class: "note" }, note), note2 ? h("div", { class: "note" }, h("span", { class: "badge bad" }, note2)) : null);
}
function changes(s) {
  const c = s.counts || {};
  const parts = [];
  if (c.added) parts.push(`+${num(c.added)}`);
  if (c.changed) parts.push(`~${num(c.changed)}`);
  if (c.moved) parts.push(`→${num(c.moved)}`);
  if (c.deleted) parts.push(`−${num(c.deleted)}`);
  if (c.unreadable) parts.push(`${num(c.unreadable)} unreadable`);
  if (!parts.length) return "no changes";
  return parts.flatMap((p, i) => [i ? " " : null, h("span", { class: "nowrap" }, p)]);
}
function copies(g) {
  const links = g.count - g.inodes;
  return [`${num(g.count)} paths`, links > 0 ? " " : null, links > 0 ? h("span", { class: "badge plain", title: "hard links share one copy on disk" }, `${num(links)} hard link${links === 1 ? "" : "s"}`) : null];
}

// ---------- search ----------

async function search(params) {
  const q = params.get("q") || "";
  const mode = params.get("mode") || "substring";
  const offset = Number(params.get("offset") || 0);
  const limit = 50;
  const minS = parseSize(params.get("min")), maxS = parseSize(params.get("max"));
  const form = h("form", { class: "filters", id: "search-form", role: "search" },
    h("label", { class: "grow" }, "Name", h("input", { type: "search", name: "q", value: q, autofocus: true, placeholder: "report, *.pdf, ^IMG_\\d+, or a hash", spellcheck: "false", autocomplete: "off" })),
    h("label", {}, "Match", h("select", { name: "mode" },
      ["substring", "glob", "regex", "hash"].map((m) => h("option", { value: m, selected: m === mode }, m)))),
    h("label", {}, "In", h("select", { name: "in" }, ["name", "path"].map((m) => h("option", { value: m, selected: m === (params.get("in") || "name") }, m)))),
    h("label", {}, "Machine", h("select", { name: "machine" }, await machineOptions(params.get("machine") || ""))),
    h("label", { class: "num" }, "Extension", h("input", { type: "text", name: "ext", value: params.get("ext") || "", placeholder: "pdf" })),
    h("label", { class: "num" }, "Min size", h("input", { type: "text", name: "min", value: params.get("min") || "", placeholder: "10M" })),
    h("label", { class: "num" }, "Max size", h("input", { type: "text", name: "max", value: params.get("max") || "", placeholder: "1G" })),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "archived", checked: params.get("archived") === "1" }), "in archives"),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = hashFor("search", { q: f.get("q"), mode: f.get("mode") === "substring" ? "" : f.get("mode"), in: f.get("in") === "name" ? "" : f.get("in"), machine: f.get("machine"), ext: f.get("ext"), min: f.get("min"), max: f.get("max"), archived: f.get("archived") ? "1" : "" });
  });
  const head = [h("h1", {}, "Search"), h("p", { class: "sub" }, "By name (substring, glob or regular expression), path, extension, size, machine or content hash."), form];
  if (isNaN(minS) || isNaN(maxS)) return [...head, h("div", { class: "error" }, "Sizes look like 300k, 10M or 1.5G.")];
  const req = {
    mode: mode === "hash" ? "" : mode, in: params.get("in") || "", machine: params.get("machine") || "", ext: params.get("ext") || "",
    min_size: minS || "", max_size: maxS || "", archived: params.get("archived") === "1" ? "1" : "", limit, offset,
  };
  if (mode === "hash") req.hash = q.trim(); else req.q = q;
  if (!q.trim() && !req.ext && !req.min_size && !req.max_size && !req.archived) {
    return [...head, panel("Results", h("div", { class: "empty" }, "Type a name, a pattern or a hash, then press Enter."))];
  }
  let res;
  try {
    res = await api("/api/find", req);
  } catch (e) {
    if (e.status === 400) return [...head, h("div", { class: "error", role: "alert" }, e.message)];
    throw e;
  }
  const go = (off) => { params.set("offset", off); location.hash = "#/search?" + params; };
  const results = panel(`${num(res.total)}${res.total_capped ? "+" : ""} file${res.total === 1 && !res.total_capped ? "" : "s"}`, [
    table(["Name", "Directory", { text: "Machine", cls: "wide" }, { text: "Size", cls: "num" }, { text: "Modified", cls: "wide" }],
      res.files.map((f) => row([
        h("td", { class: "pathcol" }, fileLink(f)),
        h("td", { class: "pathcol" }, h("a", { href: treeHash(f.machine, dirName(f.path)), tabindex: "-1" }, pathNode(dirName(f.path)))),
        h("td", { class: "nowrap wide" }, f.machine),
        h("td", { class: "num" }, bytes(f.size)),
        h("td", { class: "nowrap dim wide" }, nsDate(f.mtime)),
      ], fileHash(f.machine, f.path))), q || req.ext || req.min_size ? "No file matches." : "Type a name to search."),
    res.total > limit || res.total_capped ? pager(offset, limit, res.total, go, res.total_capped) : null,
  ], res.indexed ? h("span", { class: "badge plain", title: "the trigram name index narrowed the search" }, "indexed") : h("span", { class: "badge plain", title: "every name was read" }, "full scan"));
  return [...head, results];
}

// ---------- duplicates ----------

async function dupes(params) {
  const sort = params.get("sort") || "wasted";
  const order = params.get("order") || "desc";
  const minText = params.get("min") || "";
  const empty = params.get("empty") === "1";
  // The empty file's group is left out unless asked for, as the
  // dashboard's count and `indexer dupes` leave it out.
  const min = Math.max(parseSize(minText), empty ? 0 : 1);
  const count = params.get("count") || "2";
  const machine = params.get("machine") || "";
  const offset = Number(params.get("offset") || 0);
  const limit = 50;
  const form = h("form", { class: "filters", id: "dupes-form" },
    h("label", {}, "Sort by", h("select", { name: "sort" }, [["wasted", "wasted space"], ["size", "file size"], ["count", "copies"]].map(([v, t]) => h("option", { value: v, selected: v === sort }, t)))),
    h("label", {}, "Order", h("select", { name: "order" }, [["desc", "largest first"], ["asc", "smallest first"]].map(([v, t]) => h("option", { value: v, selected: v === order }, t)))),
    h("label", { class: "num" }, "Min size", h("input", { type: "text", name: "min", value: minText, placeholder: "any" })),
    h("label", { class: "num" }, "Min copies", h("input", { type: "text", name: "count", value: count })),
    h("label", {}, "Machine", h("select", { name: "machine" }, await machineOptions(machine))),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "empty", checked: empty }), "empty files"),
    h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(form);
    location.hash = hashFor("dupes", { sort: f.get("sort"), order: f.get("order"), min: f.get("min"), count: f.get("count"), machine: f.get("machine"), empty: f.get("empty") ? "1" : "" });
  });
  const head = [h("h1", {}, "Duplicates"), h("p", { class: "sub" }, "Files with the same content. Hard links share one copy on disk and waste nothing."), form];
  if (isNaN(min)) return [...head, h("div", { class: "error" }, "Sizes look like 300k, 10M or 1.5G.")];
  let res;
  try {
    res = await api("/api/dupes", { sort, order, min_size: min, min_count: count, machine, files: 3, limit, offset });
  } catch (e) {
    if (e.status === 400) return [...head, h("div", { class: "error", role: "alert" }, e.message)];
    throw e;
  }
  const go = (off) => { params.set("offset", off); location.hash = "#/dupes?" + params; };
  const body = [
    table([{ text: "Wasted", cls: "num" }, { text: "Size", cls: "num wide" }, "Copies", "Files", { text: "Content", cls: "wide" }],
      res.groups.map((g) => {
        const fs = g.files || [];
        const href = fs.length ? fileHash(fs[0].machine, fs[0].path) : null;
        return row([
          h("td", { class: "num" }, g.wasted ? bytes(g.wasted) : h("span", { class: "dim" }, "0 B")),
          h("td", { class: "num wide" }, bytes(g.size)),
          h("td", { class: "nowrap" }, copies(g)),
          h("td", { class: "pathcol" }, fs.length ? fs.map((f, i) => h("div", { class: "oneline" },
            h("a", { href: fileHash(f.machine, f.path), class: i === 0 ? "row-link group-link" : "", tabindex: i === 0 ? null : "-1" },
              memberBadge(f), pathNode(f.path)),
            h("span", { class: "dim" }, " on " + f.machine))) : "—",
            g.count > fs.length && fs.length ? h("div", { class: "dim" }, `and ${num(g.count - fs.length)} more`) : null),
          h("td", { class: "mono dim wide", title: g.sha256 }, short(g.sha256)),
        ], href);
      }), "No duplicate groups match."),
    res.total > limit ? pager(offset, limit, res.total, go) : null,
  ];
  return [...head, panel(`${num(res.total)} group${res.total === 1 ? "" : "s"}`, body)];
}

// ---------- bit rot ----------

async function rot(params) {
  const machine = params.get("machine") || "";
  const list = await api("/api/rot", { machine });
  return [h("h1", {}, "Bit rot"),
    h("p", { class: "sub" }, "Files whose last --verify read other content than was recorded while size and times stayed the same: the disk changed them. Restore each from a good copy; the recorded SHA-256 finds them."),
    panel(`${num(list.length)} file${list.length === 1 ? "" : "s"}`, table(
      ["File", { text: "Machine", cls: "wide" }, { text: "Found", cls: "wide" }, "Recorded SHA-256 (good)", { text: "Found SHA-256", cls: "wide" }],
      list.map((r) => row([
        h("td", { class: "pathcol" }, h("a", { href: fileHash(r.machine, r.path), class: "row-link" }, pathNode(r.path))),
        h("td", { class: "nowrap wide" }, r.machine),
        h("td", { class: "nowrap dim wide", title: "seq " + r.seq }, when(r.detected)),
        h("td", { class: "mono" }, h("a", { href: hashFor("search", { q: r.recorded_sha256, mode: "hash" }), title: "find good copies: " + r.recorded_sha256 }, short(r.recorded_sha256))),
        h("td", { class: "mono dim wide", title: r.read_sha256 }, short(r.read_sha256)),
      ], fileHash(r.machine, r.path))), "No file's last verify found bit rot."))];
}

// ---------- tree ----------

async function tree(params) {
  const machine = params.get("m");
  if (!machine) {
    const ms = await api("/api/machines");
    const max = Math.max(1, ...ms.map((m) => m.bytes));
    return [h("h1", {}, "Tree"), h("p", { class: "sub" }, "Pick a machine."), panel("Machines", table(
      ["Machine", { text: "Files", cls: "num" }, { text: "Size", cls: "num" }],
      ms.map((m) => row([
        h("td", {}, h("a", { href: treeHash(m.name, "/"), class: "row-link" }, m.name)),
        h("td", { class: "num" }, num(m.files)),
        h("td", { class: "num" }, bytes(m.bytes), bar(m.bytes, max)),
      ], treeHash(m.name, "/"))), "No machines yet."))];
  }
  const dir = params.get("db") ? { b64: params.get("db") } : params.get("d") || "/";
  const offset = Number(params.get("offset") || 0);
  const limit = 200;
  const t = await api("/api/ls", { machine, ...pathQuery(dir, "dir"), limit, offset });
  const go = (off) => { params.set("offset", off); location.hash = "#/tree?" + params; };
  t.dirs = t.dirs || [];
  t.entries = t.entries || [];
  if (pathText(t.path).includes(SEP)) { // inside an archive: its members
    Object.assign(t, inArchive(t));
    t.dirs = t.dirs.map(inArchive);
  }
  const { dirs, entries } = foldArchives(t);
  dirs.sort((a, b) => b.bytes - a.bytes);
  const max = Math.max(1, ...dirs.map((d) => d.bytes));
  const parts = [
    dirs.length === 0 ? null : panel(`${num(dirs.length)} folder${dirs.length === 1 ? "" : "s"}`, table(
      ["Folder", { text: "Files", cls: "num wide" }, { text: "Size", cls: "num" }, { text: "Share", cls: "num wide" }],
      dirs.map((d) => row([
        h("td", { class: "pathcol" }, h("a", { href: treeHash(machine, d.path), class: "row-link" },
          h("span", { class: d.archive ? "ico-archive" : "ico-folder", "aria-hidden": "true" }), pathNode(d.name === "" ? "/" : d.name)),
          d.archive ? [" ", h("span", { class: "badge plain", title: "an archive: its members are files of the index" }, "archive")] : null),
        h("td", { class: "num wide" }, num(d.files)),
        h("td", { class: "num" }, bytes(d.bytes), bar(d.bytes, max)),
        h("td", { class: "num dim wide" }, t.bytes ? ((100 * d.bytes) / t.bytes).toFixed(1) + "%" : "—"),
      ], treeHash(machine, d.path))), "No folders with files.")),
    panel(t.more || offset ? `Files here, ${num(offset + 1)}–${num(offset + t.entries.length)}` : `${num(entries.length)} file${entries.length === 1 ? "" : "s"} here`, [
      table(["Name", { text: "Size", cls: "num" }, { text: "Modified", cls: "wide" }, { text: "SHA-256", cls: "wide" }],
        entries.map(({ f, name }) => row([
          h("td", { class: "pathcol" }, fileLink(f, name)),
          h("td", { class: "num" }, bytes(f.size)),
          h("td", { class: "nowrap dim wide" }, nsDate(f.mtime)),
          h("td", { class: "mono dim wide", title: (f.hashes && f.hashes.sha256) || "" }, short(f.hashes && f.hashes.sha256)),
        ], fileHash(f.machine, f.path))), "No files directly in this folder."),
      t.more || offset ? pager(offset, limit, t.more ? offset + limit + 1 : offset + t.entries.length, go) : null,
    ]),
  ];
  const isArchive = pathText(t.path).endsWith(SEP);
  return [h("h1", { class: "oneline", title: pathText(t.path) }, pathNode(folderName(t.path), "")), crumbs(machine, t.path),
    h("p", { class: "sub" }, isArchive ? `An archive: ${num(t.files)} member${t.files === 1 ? "" : "s"}, ${bytes(t.bytes)} uncompressed.` : `${num(t.files)} file${t.files === 1 ? "" : "s"}, ${bytes(t.bytes)} in this folder and below.`), ...parts];
}

// folderName is the name of the folder a listing's path names: its last
// part, inside an archive the part after "::"; "/" for the root.
function folderName(p) {
  const raw = pathBytes(p);
  if (raw !== null) { // not UTF-8: the last part's bytes
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 47) end--;
    return end === 0 ? "/" : { b64: btoa(String.fromCharCode(...raw.subarray(raw.lastIndexOf(47, end - 1) + 1, end))) };
  }
  let s = String(p);
  if (s.endsWith(SEP)) s = s.slice(0, -SEP.length);
  s = s.replace(/\/+$/, "");
  if (s === "") return "/";
  const name = s.slice(s.lastIndexOf("/") + 1);
  const i = name.lastIndexOf(SEP);
  return i < 0 ? name : name.slice(i + SEP.length);
}

// foldArchives turns a listing's archive members (NAME::inner, beside the
// archive NAME) into one folder per archive that opens it, so the tree
// enters archives as folders. Entries come with the name to show,
// relative to the listing (inside an archive, the member's inner path).
function foldArchives(t) {
  const here = typeof t.path === "string" ? t.path : null;
  const rel = (p) => (here !== null && typeof p === "string" && p.startsWith(here) ? p.slice(here.length) : null);
  const archives = new Map();
  const archive = (name) => {
    if (!archives.has(name)) archives.set(name, { name, path: here + name, files: 0, bytes: 0, archive: true });
    return archives.get(name);
  };
  const dirs = [];
  for (const d of t.dirs) {
    const name = typeof d.name === "string" ? d.name : null;
    const i = name === null || here === null ? -1 : name.indexOf(SEP);
    if (i < 0) { dirs.push(d); continue; }
    const a = archive(name.slice(0, i)), c = inArchive(d);
    a.files += c.files; a.bytes += c.bytes;
  }
  const entries = [];
  for (const f of t.entries) {
    const name = rel(f.path);
    const i = name === null || !isMember(f) ? -1 : name.indexOf(SEP);
    if (i < 0) { entries.push({ f, name: name ?? undefined }); continue; }
    const a = archive(name.slice(0, i));
    a.files += 1; a.bytes += Number(f.size || 0);
  }
  return { dirs: [...dirs, ...archives.values()], entries };
}
// crumb links the folder parent+name (a file name when not dir: an
// archive, listed as a folder). A name ARCHIVE::inner, a folder in an
// archive, gives the archive's crumb and then the inner folder's.
function crumb(machine, parent, name, dir) {
  const i = name.lastIndexOf(SEP);
  const a = h("a", { href: treeHash(machine, parent + name + (dir ? "/" : "")), "data-crumb": "1" }, pathNode(i < 0 ? name : name.slice(i + SEP.length), ""));
  if (i < 0) return [a];
  return [...crumb(machine, parent, name.slice(0, i), false), h("span", { class: "sep" }, SEP), a];
}
// crumbs links each ancestor of dir on machine.
// A deep folder keeps to one line: the folders between the first and the
// last three fold into "…", whose title is the whole path.
function crumbs(machine, dir) {
  const head = [h("a", { href: "#/tree" }, "machines"), h("span", { class: "sep" }, "/"), h("a", { href: treeHash(machine, "/") }, machine)];
  const groups = [];
  const out = { push: (...nodes) => groups.push(nodes) };
  const raw = pathBytes(dir);
  const bytesOf = raw ?? new TextEncoder().encode(String(dir));
  let start = bytesOf[0] === 47 ? 1 : 0;
  for (let i = start; i < bytesOf.length; i++) {
    if (bytesOf[i] !== 47) continue;
    const sub = bytesOf.subarray(0, i + 1);
    const name = bytesOf.subarray(start, i);
    const enc = (b) => { try { return new TextDecoder("utf-8", { fatal: true }).decode(b); } catch { return { b64: btoa(String.fromCharCode(...b)) }; } };
    const parent = enc(bytesOf.subarray(0, start)), nm = enc(name);
    out.push(h("span", { class: "sep" }, "/"), ...(typeof parent === "string" && typeof nm === "string" ? crumb(machine, parent, nm, true) :
      [h("a", { href: treeHash(machine, enc(sub)), "data-crumb": "1" }, pathNode(nm, ""))]));
    start = i + 1;
  }
  if (raw === null && String(dir).endsWith(SEP)) { // an archive's listing: DIR/ARCHIVE::
    const s = String(dir), parent = new TextDecoder().decode(bytesOf.subarray(0, start));
    out.push(h("span", { class: "sep" }, "/"), ...crumb(machine, parent, s.slice(parent.length, -SEP.length), false));
  }
  const kept = groups.length > 4 ? [groups[0], [h("span", { class: "sep" }, "/"), h("span", { class: "fold", title: pathText(dir) }, "…")], ...groups.slice(-3)] : groups;
  return h("nav", { class: "crumbs", "aria-label": "Folder path" }, head, kept);
}

// ---------- file ----------

async function file(params) {
  const machine = params.get("m");
  const p = params.get("pb") ? { b64: params.get("pb") } : params.get("p");
  if (!machine || !p) return [h("h1", {}, "File"), h("div", { class: "error" }, "No file given.")];
  let d;
  try {
    d = await api("/api/file", { machine, ...pathQuery(p, "path") });
  } catch (e) {
    if (e.status !== 404) throw e;
    const hist = await api("/api/history", { machine, ...pathQuery(p, "path") });
    return [h("h1", { class: "oneline" }, pathNode(baseName(p), "")), h("div", { class: "fullpath" }, pathNode(p)),
      h("div", { class: "error" }, hist.history.length ? "This path is no longer in the index: its history follows." : "The index has no file at this path."),
      hist.history.length ? panel("History", timeline(hist.history, p)) : null];
  }
  const f = d.file;
  const hashes = f.hashes || {};
  const hashRows = [["MD5", hashes.md5], ["SHA-1", hashes.sha1], ["SHA-256", hashes.sha256], ["BLAKE3", hashes.blake3]]
    .filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, v, copyButton(v))]);
  const g = d.group;
  // Inode 0 is none (an archive member): never a hard link.
  const links = d.copies.filter((c) => f.inode !== 0 && c.machine === f.machine && c.dev === f.dev && c.inode === f.inode);
  const member = isMember(f);
  const archivePath = member ? pathText(f.path).slice(0, pathText(f.path).lastIndexOf(SEP)) : null;
  const details = panel("Details", h("div", { class: "body" }, h("dl", { class: "kv" },
    h("dt", {}, "Machine"), h("dd", {}, f.machine),
    h("dt", {}, "Size"), h("dd", {}, bytes(f.size), h("span", { class: "dim" }, ` (${num(f.size)} bytes)`)),
    h("dt", {}, "Modified"), h("dd", {}, nsDate(f.mtime)),
    h("dt", {}, "Changed"), h("dd", {}, nsDate(f.ctime)),
    f.btime ? [h("dt", {}, "Born"), h("dd", {}, nsDate(f.btime))] : null,
    h("dt", {}, "Mode"), h("dd", { class: "mono", title: "st_mode " + Number(f.mode || 0).toString(8) }, f.mode_text),
    member ? [h("dt", {}, "Archive"), h("dd", {}, h("a", { href: treeHash(f.machine, archivePath), class: "plain-link" }, pathNode(archivePath)))] : [
      h("dt", {}, "Owner"), h("dd", {}, `uid ${f.uid}, gid ${f.gid}`),
      h("dt", {}, "Inode"), h("dd", {}, `${f.inode} on device ${f.dev}, ${f.nlink} link${f.nlink === 1 ? "" : "s"}`)],
    f.target ? [h("dt", {}, "Link to"), h("dd", {}, pathNode(f.target))] : null,
    h("dt", {}, "Last event"), h("dd", {}, `seq ${num(f.seq)}`))));
  const hashPanel = panel("Hashes", h("div", { class: "body" }, hashRows.length ? h("dl", { class: "kv" }, hashRows) : h("span", { class: "dim" }, "No hashes recorded.")));
  const copyTitle = g ? (g.count > 1 ? `Same content: ${num(g.count)} paths, ${num(g.inodes)} on disk, ${bytes(g.wasted)} wasted` : "Same content: no other copy") : "Same content";
  const copiesPanel = panel(copyTitle, table(["Machine", "Path", ""],
    d.copies.map((c) => row([
      h("td", { class: "nowrap" }, c.machine),
      h("td", {}, h("a", { href: fileHash(c.machine, c.path), class: "row-link" }, pathNode(c.path))),
      h("td", {}, links.includes(c) ? h("span", { class: "badge plain", title: "same inode: a hard link, not a copy" }, "hard link") : null),
    ], fileHash(c.machine, c.path))), g ? "No other file has this content." : "This file has no SHA-256, so copies cannot be told."));
  return [
    h("h1", { class: "oneline" }, pathNode(baseName(f.path), "")),
    h("div", { class: "fullpath" }, pathNode(f.path), h("span", { class: "actions" }, copyButton(pathText(f.path)), " ",
      h("a", { href: treeHash(f.machine, member ? archivePath : dirName(f.path)), class: "plain-link" }, member ? "open archive" : "open folder"))),
    rotPanel(bitRot(f, d.history)),
    h("div", { class: "grid2" }, details, hashPanel),
    copiesPanel,
    panel(`History (${d.history.length} event${d.history.length === 1 ? "" : "s"})`, timeline(d.history, f.path)),
  ];
}

// ROT is the reason of a FileChanged that a --verify scan recorded when it
// read different content while size and modification time were the same.
const ROT = "content-without-metadata";

function eventOf(e) {
  try { return e.event ? (typeof e.event === "string" ? JSON.parse(e.event) : e.event) : null; } catch { return null; }
}

// bitRot says whether the file's last verify found bit rot: the index's
// own mark when it has one, else the history, whose last content event is
// then the verify's. It returns the recorded (good) and the found sha256.
function bitRot(f, hist) {
  if (f.bit_rot_recorded_sha256) return { recorded: f.bit_rot_recorded_sha256, found: f.hashes && f.hashes.sha256 };
  for (let i = hist.length - 1; i >= 0; i--) {
    const e = hist[i], ev = eventOf(e);
    if (!ev || !ev.data || e.moved_away) continue;
    if (e.type === "FileChanged" && ev.data.reason === ROT) {
      return { recorded: ev.data.prev_sha256, found: ev.data.hashes && ev.data.hashes.sha256, when: ev.time };
    }
    if (e.type === "FileScanned" || (e.type === "FileChanged" && ev.data.reason === "content")) return null;
  }
  return null;
}
function rotPanel(rot) {
  if (!rot) return null;
  return h("section", { class: "panel rot", role: "alert" },
    h("header", {}, h("h2", {}, "Bit rot"), h("span", { class: "badge bad" }, "content changed on disk")),
    h("div", { class: "body" },
      h("p", {}, "A --verify scan", rot.when ? " on " + when(rot.when) : "", " read different content while the size and modification time stayed the same: the disk, not a program, changed it. Restore it from a good copy."),
      h("dl", { class: "kv" },
        h("dt", {}, "Recorded SHA-256 (good)"), h("dd", { class: "mono" }, rot.recorded || "—", rot.recorded ? copyButton(rot.recorded) : null, " ",
          rot.recorded ? h("a", { href: hashFor("search", { q: rot.recorded, mode: "hash" }), class: "plain-link" }, "find good copies") : null),
        h("dt", {}, "Found SHA-256"), h("dd", { class: "mono" }, rot.found || "—")),
      h("p", {}, h("a", { href: "#/rot", class: "plain-link" }, "All files with bit rot →"))));
}

function timeline(hist, path) {
  if (!hist.length) return h("div", { class: "empty" }, "No events.");
  return h("div", { class: "body" }, h("ol", { class: "timeline" }, hist.map((e) => {
    const ev = eventOf(e);
    return h("li", { class: "t-" + (e.moved_away ? "FileDeleted" : e.type) },
      h("strong", {}, label(e, ev)), h("span", { class: "when", title: e.stored ? "stored in the log " + when(e.stored) : "" }, `${when((ev && ev.time) || e.stored)} · seq ${num(e.seq)}`),
      // An event of the file at a path it was moved from.
      e.path ? h("div", { class: "at" }, "at ", pathNode(e.path)) : null,
      h("div", { class: "what" }, summary(e, ev)),
      ev ? h("details", {}, h("summary", {}, "event"), h("pre", { class: "json" }, JSON.stringify(ev, null, 2))) : null,
      e.error ? h("div", { class: "dim" }, e.error) : null);
  })));
}
function label(e, ev) {
  if (e.moved_away) return "Moved away";
  if (e.type === "FileChanged" && ev && ev.data && ev.data.reason === ROT) return "Bit rot found";
  return { FileScanned: "First seen", FileChanged: "Changed", FileMoved: "Moved here", FileDeleted: "Deleted", FileUnreadable: "Unreadable", FilesForgotten: "Forgotten" }[e.type] || e.type;
}
// deletedWhy: a FileDeleted's reason, when the path is still on disk.
const deletedWhy = {
  excluded: "excluded: still on disk, an exclude pattern or .indexerignore matches it",
  pruned: "pruned: still on disk, on a pseudo file system the scan prunes",
};
function summary(e, ev) {
  if (!ev || !ev.data) return null;
  const d = ev.data;
  switch (e.type) {
    case "FileScanned": return [`${bytes(d.size)}, sha256 `, h("span", { class: "mono" }, short(d.hashes && d.hashes.sha256)), ` by scan of ${ev.machine}`];
    case "FileChanged": return [`${d.reason === ROT ? "a verify read other content" : d.reason || "changed"}: now ${bytes(d.size)}, sha256 `, h("span", { class: "mono" }, short(d.hashes && d.hashes.sha256)),
      d.prev_sha256 ? [" (was ", h("span", { class: "mono" }, short(d.prev_sha256)), ")"] : null];
    case "FileMoved": return e.moved_away ? ["to ", h("a", { href: fileHash(ev.machine, d.path) }, pathNode(d.path))] : ["from ", pathNode(d.from)];
    case "FileDeleted": return deletedWhy[d.reason] || (d.reason ? "left the index: " + d.reason : "gone from its directory");
    case "FilesForgotten": return ["left the index (indexer-project forget", d.root ? [" --root ", pathNode(d.root)] : null, ")", d.reason ? ": " + d.reason : ""];
    case "FileUnreadable": return d.error;
  }
  return null;
}

// ---------- keyboard ----------

let pendingG = false;
function rowLinks() { return [...main().querySelectorAll("a.row-link")]; }
document.addEventListener("keydown", (e) => {
  const help = $("#help");
  if (e.key === "Escape") {
    if (!help.hidden) { help.hidden = true; return; }
    if (document.activeElement && document.activeElement.matches("input,select")) document.activeElement.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest("input,select,textarea")) return;
  if (pendingG) {
    pendingG = false;
    const to = { d: "#/", s: "#/search", u: "#/dupes", t: "#/tree" }[e.key];
    if (to) { e.preventDefault(); location.hash = to; }
    return;
  }
  switch (e.key) {
    case "/": {
      e.preventDefault();
      const inPage = main().querySelector("input[type=search]");
      (inPage || $("#quick-q")).focus();
      (inPage || $("#quick-q")).select();
      return;
    }
    case "?": help.hidden = !help.hidden; if (!help.hidden) $("#help-close").focus(); return;
    case "g": pendingG = true; return;
    case "j": case "k": {
      const links = rowLinks();
      if (!links.length) return;
      e.preventDefault();
      let i = links.indexOf(document.activeElement);
      i = e.key === "j" ? Math.min(links.length - 1, i + 1) : Math.max(0, i < 0 ? 0 : i - 1);
      links[i].focus();
      links[i].scrollIntoView({ block: "nearest" });
      return;
    }
    case "u": {
      const cr = [...main().querySelectorAll(".crumbs a")];
      if (cr.length >= 2) { e.preventDefault(); location.hash = cr[cr.length - 2].getAttribute("href"); }
      return;
    }
    case "[": case "]": {
      const b = main().querySelector(`button[data-page=${e.key === "[" ? "prev" : "next"}]`);
      if (b && !b.disabled) { e.preventDefault(); b.click(); }
      return;
    }
  }
});

$("#quick").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("#quick-q").value;
  $("#quick-q").blur();
  location.hash = hashFor("search", { q });
});
$("#help-close").addEventListener("click", () => { $("#help").hidden = true; });
$("#help").addEventListener("click", (e) => { if (e.target.id === "help") e.target.hidden = true; });
window.addEventListener("hashchange", route);
route();
setInterval(refreshStatus, 5000);
