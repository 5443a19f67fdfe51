// SPDX-License-Identifier: LGPL-2.1-or-later
// The live bus page (index.html): namespaces and peers from org.mbus.Broker, kept current by
// its events; the broker's counters; live events by pattern; and a form that calls any
// procedure with arguments pre-filled from its introspection. Everything goes through
// mbus.js with the page's own identity, so the page can do exactly what policy lets it.

import { connect, patternMatches } from "./mbus.js";

const BROKER = "org.mbus.Broker";
const MAX_EVENTS = 200;
const $ = (id) => document.getElementById(id);

let bus = null;
const introspections = new Map();   // namespace -> introspection (or null: none)

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs))
    if (k === "class")
      e.className = v;
    else if (k.startsWith("on"))
      e.addEventListener(k.slice(2), v);
    else
      e.setAttribute(k, v);
  for (const c of children)
    e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? "" : String(c)));
  return e;
}

// Who a peer is, as policy sees it: a uid, a certificate, or an address.
function identity(peer) {
  if (!peer)
    return "";
  if (peer.cert)
    return `cert CN=${peer.cert.cn}`;
  if (peer.uid !== null && peer.uid !== undefined)
    return `uid ${peer.uid}${peer.pid ? ` pid ${peer.pid}` : ""}`;
  return peer.address || "";
}

function showError(target, e) {
  target.textContent = `${e.name}: ${e.message}`;
  target.className = "result error";
}

async function refreshStats() {
  const stats = await bus.call(BROKER, "GetStats");
  const dl = $("stats");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(stats))
    if (typeof v === "number")        // per_namespace: shown by /metrics, too long for this line
      dl.append(el("div", {}, el("dt", {}, k.replaceAll("_", " ")), el("dd", {}, v)));
}

// A list procedure of the broker, page after page (its "next" is the following "after").
async function listAll(member, key) {
  const all = [];
  let after = null;
  for (;;) {
    const page = await bus.call(BROKER, member, after === null ? {} : { after });
    all.push(...page[key]);
    if (!page.next || page[key].length === 0 || page.next === after)
      return all;
    after = page.next;
  }
}

async function refreshTables() {
  const [namespaces, peers] = await Promise.all([listAll("ListNamespaces", "namespaces"),
                                                 listAll("ListPeers", "peers")]);
  const byId = new Map(peers.map((p) => [p.id, p]));

  const nsBody = $("namespaces").tBodies[0];
  nsBody.replaceChildren();
  const list = $("ns-list");
  list.replaceChildren();
  for (const ns of namespaces) {
    const owner = byId.get(ns.owner);
    nsBody.append(el("tr", { "data-namespace": ns.namespace },
      el("td", { class: "name" }, ns.namespace),
      el("td", { "data-label": "owner" }, ns.owner ? `${ns.owner}${owner ? ` (${owner.name})` : ""}` : "—"),
      el("td", { "data-label": "identity" },
         ns.owner === ":1.0" ? "broker" : owner ? identity(owner) : ns.uid !== null ? `uid ${ns.uid}` : ns.user || ""),
      el("td", {}, el("button", { type: "button", onclick: () => pickNamespace(ns.namespace) }, "introspect"))));
    list.append(el("option", { value: ns.namespace }));
  }
  $("ns-count").textContent = `(${namespaces.length})`;

  const peerBody = $("peers").tBodies[0];
  peerBody.replaceChildren();
  for (const p of peers)
    peerBody.append(el("tr", {},
      el("td", { class: "id" }, p.id), el("td", { "data-label": "name" }, p.name),
      el("td", { "data-label": "transport" }, p.transport), el("td", { "data-label": "identity" }, identity(p)),
      el("td", { "data-label": "namespaces" }, (p.namespaces || []).join(", "))));
  $("peer-count").textContent = `(${peers.length})`;
}

async function refresh() {
  try {
    await Promise.all([refreshStats(), refreshTables()]);
  } catch (e) {
    console.warn("refresh failed", e);
  }
}

// ---- the call form -------------------------------------------------------------------------

// A value of an introspection type to start from: the form shows the shape to fill in.
function example(type) {
  const t = type.replace(/^\?/, "");
  if (type.startsWith("?"))
    return null;
  if (t === "string")
    return "";
  if (t === "int" || t === "double" || t === "uint")
    return 0;
  if (t === "bool" || t === "boolean")
    return false;
  if (t.startsWith("array"))
    return [];
  return {};
}

// Whether value fits an introspection type (as far as the page can tell without the broker).
function fits(value, type) {
  if (type.startsWith("?") && value === null)
    return true;
  const t = type.replace(/^\?/, "");
  switch (t) {
  case "string": return typeof value === "string";
  case "int": case "uint": return Number.isInteger(value) && (t === "int" || value >= 0);
  case "double": return typeof value === "number";
  case "bool": case "boolean": return typeof value === "boolean";
  case "object": return value !== null && typeof value === "object" && !Array.isArray(value);
  default: return t.startsWith("array") ? Array.isArray(value) : true;
  }
}

function currentProcedure() {
  const intro = introspections.get($("call-ns").value);
  return intro && (intro.procedures || []).find((p) => p.name === $("call-proc").value);
}

function fillArgs() {
  const proc = currentProcedure();
  $("call-doc").textContent = proc && proc.doc ? proc.doc : "";
  $("call-types").textContent = proc ? (proc.in || []).map((a) => `${a.name}: ${a.type}`).join(", ") : "";
  if (proc) {
    const args = {};
    for (const a of proc.in || [])
      args[a.name] = example(a.type);
    $("call-args").value = JSON.stringify(args, null, 2);
  }
}

async function pickNamespace(ns) {
  $("call-ns").value = ns;
  const select = $("call-proc");
  select.replaceChildren();
  let intro = introspections.get(ns);
  if (intro === undefined) {
    try {
      intro = await bus.introspect(ns);
    } catch (e) {
      intro = null;             // no interface file: any procedure name may be typed
    }
    introspections.set(ns, intro);
  }
  for (const p of (intro && intro.procedures) || [])
    select.append(el("option", { value: p.name }, p.name));
  if (!intro)
    select.append(el("option", { value: "" }, "(not introspectable)"));
  fillArgs();
}

async function submitCall(ev) {
  ev.preventDefault();
  const out = $("call-result");
  const ns = $("call-ns").value.trim();
  const proc = $("call-proc").value;
  let args;
  try {
    args = JSON.parse($("call-args").value || "{}");
  } catch (e) {
    out.textContent = `Arguments are not JSON: ${e.message}`;
    out.className = "result error";
    return;
  }
  const declared = currentProcedure();
  for (const a of (declared && declared.in) || [])
    if (args === null || typeof args !== "object" || !(a.name in args) || !fits(args[a.name], a.type)) {
      out.textContent = `Argument ${a.name} must be ${a.type}`;
      out.className = "result error";
      return;
    }
  out.textContent = "…";
  out.className = "result";
  try {
    const result = await bus.call(ns, proc, args, { timeout: Number($("call-timeout").value) || 5000 });
    out.textContent = JSON.stringify(result, null, 2);
    out.className = "result ok";
  } catch (e) {
    showError(out, e);
  }
}

// ---- events --------------------------------------------------------------------------------

function showEvent(ev) {
  const filter = $("event-filter").value.trim();
  const li = el("li", { class: ev.namespace === BROKER ? "event broker" : "event" },
    el("time", {}, new Date().toLocaleTimeString()), " ",
    el("span", { class: "name" }, `${ev.namespace}.${ev.member}`), " ",
    el("span", { class: "sender" }, ev.sender), " ",
    el("code", {}, ev.payload === undefined ? "" : JSON.stringify(ev.payload)));
  li.dataset.namespace = ev.namespace;
  li.dataset.member = ev.member;
  li.hidden = filter !== "" && !patternMatches(filter, ev.namespace, ev.member);
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS)
    list.lastChild.remove();
}

function applyFilter() {
  const filter = $("event-filter").value.trim();
  for (const li of $("events").children)
    li.hidden = filter !== "" && !patternMatches(filter, li.dataset.namespace, li.dataset.member);
}

const subscribed = new Set();

async function addSubscription(pattern) {
  if (subscribed.has(pattern))
    return;
  try {
    await bus.subscribe(pattern, (ev) => {
      // Several patterns may match one event: the broker sends it once, show it once.
      if ([...subscribed].find((p) => patternMatches(p, ev.namespace, ev.member)) === pattern)
        showEvent(ev);
    });
    subscribed.add(pattern);
    $("sub-list").append(el("span", { class: "pattern" }, pattern));
  } catch (e) {
    $("sub-list").append(el("span", { class: "pattern error" }, `${pattern}: ${e.name}`));
  }
}

// ---- start ---------------------------------------------------------------------------------

async function main() {
  $("call-form").addEventListener("submit", submitCall);
  $("call-proc").addEventListener("change", fillArgs);
  $("call-ns").addEventListener("change", () => pickNamespace($("call-ns").value.trim()));
  $("event-filter").addEventListener("input", applyFilter);
  $("sub-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = $("sub-pattern").value.trim();
    if (p)
      addSubscription(p);
  });

  try {
    bus = await connect(undefined, { name: "bus page" });
  } catch (e) {
    $("broker").textContent = `cannot connect: ${e.message}`;
    return;
  }
  $("state").textContent = `online as ${bus.id}`;
  $("state").className = "state online";
  bus.onclose = (reason) => {
    $("state").textContent = `offline: ${reason}`;
    $("state").className = "state offline";
  };
  // Everything at once: a loaded broker answers in one round trip's time.
  await Promise.all([
    bus.call(BROKER, "Version").catch(() => ({})).then((version) => {
      $("broker").textContent = `${bus.welcome.broker || "mbus-broker"} · protocol ${version.protocol ?? "?"}`;
    }),
    refresh(),
    pickNamespace(BROKER),
    addSubscription(`${BROKER}.*`).then(() => addSubscription("*")),
    bus.subscribe(`${BROKER}.*`, () => refreshTables().catch(() => {})),
  ]);
  setInterval(() => { if (!bus.closed) refreshStats().catch(() => {}); }, 2000);
  document.body.dataset.ready = "true";
}

main();
