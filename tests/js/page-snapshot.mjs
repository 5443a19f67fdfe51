// SPDX-License-Identifier: LGPL-2.1-or-later
// Loads a page in headless chromium and waits, in real time, until it shows what a test
// expects; then writes its DOM and a screenshot (driven by tests/test-e2e-page.c).
//   node --experimental-websocket page-snapshot.mjs CHROMIUM URL CONDITION DOM_OUT PNG_OUT
// CONDITION is a JavaScript expression evaluated in the page every 200 ms; the script exits 0
// once it is true, 1 if it is still false after 60 s (DOM and screenshot written either way).
// --dump-dom would dump when virtual time runs out, which WebSocket traffic does not hold
// back; this talks to the browser's DevTools protocol instead.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [chromium, url, condition, domOut, pngOut] = process.argv.slice(2);
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

let ok = false;
for (const deadline = Date.now() + 60000; Date.now() < deadline;) {
  try {
    if (await evaluate(`!!(${condition})`)) {
      ok = true;
      break;
    }
  } catch {}
  await new Promise((r) => setTimeout(r, 200));
}
writeFileSync(domOut, await evaluate("document.documentElement.outerHTML"));
const shot = await send("Page.captureScreenshot", { format: "png" }, sessionId);
writeFileSync(pngOut, Buffer.from(shot.data, "base64"));
if (!ok)
  console.error(`page-snapshot: the page never met: ${condition}`);
finish(ok ? 0 : 1);
