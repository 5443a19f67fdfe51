// SPDX-License-Identifier: LGPL-2.1-or-later
// Loads a page in headless chromium and waits, in real time, until it shows what a test
// expects; then writes its DOM and a screenshot (driven by tests/test-e2e-page.c).
//   node --experimental-websocket page-snapshot.mjs CHROMIUM URL CONDITION DOM_OUT PNG_OUT [STEPS]
// CONDITION is a JavaScript expression evaluated in the page every 200 ms; the script exits 0
// once it is true, 1 if it is still false after 60 s (DOM and screenshot written either way).
// STEPS, a JSON array, is then played in order, each step an object:
//   {"do": EXPR}                   evaluated once (an action: fill a field, submit a form)
//   {"wait": EXPR, "what": TEXT}   as CONDITION (30 s); the script exits 1 naming TEXT if it stays false
//   {"width": N}                   the window becomes N CSS pixels wide (800 high)
//   {"screenshot": FILE}           a screenshot of the page as it is now
// Steps wait in real time, not in a fixed sleep: a loaded machine only makes them slower.
// --dump-dom would dump when virtual time runs out, which WebSocket traffic does not hold
// back; this talks to the browser's DevTools protocol instead.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [chromium, url, condition, domOut, pngOut, stepsJson] = process.argv.slice(2);
const steps = stepsJson ? JSON.parse(stepsJson) : [];
const profile = mkdtempSync(join(tmpdir(), "mbus-chromium-"));
const browser = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                 `--user-data-dir=${profile}`, "--window-size=1200,800", "about:blank"],
                      { stdio: ["ignore", "ignore", "pipe"], detached: true });
const finish = (code) => {
  try { process.kill(-browser.pid, "SIGKILL"); } catch {}
  rmSync(profile, { recursive: true, force: true });
  process.exit(code);
};
setTimeout(() => { console.error("page-snapshot: no answer from chromium"); finish(2); }, 90000);

const endpoint = await new Promise((resolve) => {
  let err = "";
  browser.stderr.on("data", (d) => {
    err += d;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
    if (m)
      resolve(m[1]);
  });
});

const ws = new WebSocket(endpoint);
await new Promise((resolve) => { ws.onopen = resolve; });
let nextId = 1;
const waiting = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && waiting.has(msg.id)) {
    waiting.get(msg.id)(msg);
    waiting.delete(msg.id);
  }
};
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = nextId++;
  waiting.set(id, (msg) => (msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result)));
  ws.send(JSON.stringify({ id, method, params, sessionId }));
});

const { targetId } = await send("Target.createTarget", { url });
const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
const evaluate = async (expression) =>
  (await send("Runtime.evaluate", { expression, returnByValue: true }, sessionId)).result.value;

const waitFor = async (expression, ms) => {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    try {
      if (await evaluate(`!!(${expression})`))
        return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
};
const screenshot = async (file) => {
  const shot = await send("Page.captureScreenshot", { format: "png" }, sessionId);
  writeFileSync(file, Buffer.from(shot.data, "base64"));
};

let ok = await waitFor(condition, 60000);
let failed = ok ? null : `the page never met: ${condition}`;
for (const step of ok ? steps : []) {
  if (step.do !== undefined)
    await evaluate(step.do);
  else if (step.width !== undefined)
    await send("Emulation.setDeviceMetricsOverride",
               { width: step.width, height: 800, deviceScaleFactor: 1, mobile: false }, sessionId);
  else if (step.screenshot !== undefined)
    await screenshot(step.screenshot);
  else if (step.wait !== undefined && !(await waitFor(step.wait, 30000))) {
    ok = false;
    failed = `${step.what || "a step"} did not happen: ${step.wait}`;
    break;
  }
}
writeFileSync(domOut, await evaluate("document.documentElement.outerHTML"));
await screenshot(pngOut);
if (!ok)
  console.error(`page-snapshot: ${failed}`);
finish(ok ? 0 : 1);
