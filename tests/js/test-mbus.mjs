// SPDX-License-Identifier: LGPL-2.1-or-later
// mbus.js against a real broker (driven by tests/test-e2e-js.c): node test-mbus.mjs MBUS_JS URL NS JS_NS
// Calls a UNIX service (result, error, timeout), subscribes with a wildcard, registers JS_NS
// and prints "ready"; then serves one call of JS_NS.Double from a C client and exits 0.
// Any failed expectation exits 1 with the reason on stderr.

import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

const [modulePath, url, ns, jsNs] = process.argv.slice(2);
const { connect, MbusError, encodeFrame, decodeFrame, FrameType } = await import(pathToFileURL(modulePath).href);

const timeout = setTimeout(() => { console.error("test-mbus.mjs: timed out"); process.exit(1); }, 20000);

// The codec alone: a frame with every kind of field survives encode and decode.
const sample = { type: FrameType.CALL, serial: 7, namespace: "org.example.X", member: "Y", timeout: 1500000,
                 body: { a: [1, "two", null] } };
assert.deepEqual(decodeFrame(encodeFrame(sample)), sample);

const bus = await connect(url, { name: "mbus.js test" });
assert.match(bus.id, /^:1\.[0-9]+$/);

// A call, and its result.
assert.deepEqual(await bus.call(ns, "Echo", { say: "hi", n: [1, 2] }), { say: "hi", n: [1, 2] });

// An error keeps its name and message, and says which service answered it: a peer id that is
// not ours. The broker's own errors name no sender.
let failSender;
await assert.rejects(bus.call(ns, "Fail"), (e) => {
  failSender = e.sender;
  return e instanceof MbusError && e.name === "org.example.Error.Failed" && e.message === "asked to fail";
});
assert.match(failSender, /^:1\.[0-9]+$/);
assert.notEqual(failSender, bus.id);
await assert.rejects(bus.call("org.example.Nobody", "X"), (e) => e.name === "org.mbus.Error.NoSuchNamespace" &&
                     !("sender" in e));

// A timeout is the broker's: the service never answers Hang.
const t0 = Date.now();
await assert.rejects(bus.call(ns, "Hang", {}, { timeout: 300 }),
                     (e) => e.name === "org.mbus.Error.Timeout" && !("sender" in e));
assert.ok(Date.now() - t0 >= 250, "timed out too early");

// Introspection of the broker's own namespace.
const intro = await bus.introspect("org.mbus.Broker");
assert.ok(JSON.stringify(intro).includes("ListNamespaces"));

// A wildcard subscription sees our own registration announced.
let announced;
const seen = new Promise((resolve) => { announced = resolve; });
await bus.subscribe("org.mbus.Broker.*", (ev) => {
  if (ev.member === "NamespaceOwnerChanged" && ev.payload.namespace === jsNs)
    announced(ev);
});
let served;
const servedOnce = new Promise((resolve) => { served = resolve; });
await bus.register(jsNs, {
  Double: async (args, req) => {
    served(req.sender);
    return { n: args.n * 2 };
  },
  Refuse: () => { throw Object.assign(new Error("not today"), { name: "org.example.Error.Busy" }); },
});
const ev = await seen;
assert.equal(ev.payload.new_owner, bus.id);
assert.equal(ev.sender, ":1.0");

// Our own procedures through the broker, and an unknown one: both errors are this client's
// own answers (it serves jsNs), so they name this client as their sender.
await assert.rejects(bus.call(jsNs, "Refuse"), { name: "org.example.Error.Busy", message: "not today", sender: bus.id });
await assert.rejects(bus.call(jsNs, "Nope"), { name: "org.mbus.Error.UnknownProcedure", sender: bus.id });

console.log("ready");
const caller = await servedOnce;
assert.match(caller, /^:1\.[0-9]+$/);
assert.notEqual(caller, bus.id);
// Let the answer leave before closing.
await bus.ping();
bus.close();
clearTimeout(timeout);
process.exit(0);
