// SPDX-License-Identifier: LGPL-2.1-or-later
//
// mbus.js: the mbus client for pages and scripts. One ES module, no build step, no
// dependencies: it needs only a WebSocket class (every browser; node with
// --experimental-websocket or 22 and later).
//
// It speaks the binary frames of mbus-protocol(7) over the broker's WebSocket endpoint
// /v1/ws with the subprotocol "mbus": each WebSocket message is one frame, a 12-byte header
// (version 1, type, flags 0, reserved 0, fields_len and body_len as little-endian u32), the
// header fields as TLVs (u8 code, u8 kind, u16 length; UINT64 little-endian or a
// NUL-terminated UTF-8 string), and the body as UTF-8 JSON text.
//
//   import { connect } from "/mbus.js";
//   const bus = await connect("ws://127.0.0.1:7390/v1/ws", { name: "my-page" });
//   const { namespaces } = await bus.call("org.mbus.Broker", "ListNamespaces");
//   await bus.subscribe("org.mbus.Broker.*", (ev) => console.log(ev.namespace, ev.member, ev.payload));
//   await bus.register("org.example.Page", { Hello: (args, req) => ({ hi: req.sender }) });
//   bus.emit("org.example.Page", "Clicked", { x: 1 });
//
// A failed call rejects with an Error whose name is the mbus error name
// ("org.mbus.Error.AccessDenied") and whose message is the error's message. Its sender is
// the peer id (":1.N") of the service that answered with the error; the broker's own errors
// (AccessDenied, NoSuchNamespace, Timeout, ...) have none, so a service cannot pass its error
// off as the broker's:
//
//   try { await bus.call("org.example.Net", "Up"); }
//   catch (e) { console.log(e.name, e.message, e.sender ?? "the broker"); }

const VERSION = 1;
const HEADER_SIZE = 12;

export const FrameType = Object.freeze({
  HELLO: 1, WELCOME: 2, REGISTER: 3, UNREGISTER: 4, CALL: 5, RETURN: 6, ERROR: 7,
  EVENT: 8, SUBSCRIBE: 9, UNSUBSCRIBE: 10, PING: 11, PONG: 12,
});

// Header fields by code: [name in a frame object, kind] (kind 1: UINT64, 2: STRING).
const FIELDS = [
  null,
  ["serial", 1],
  ["reply_serial", 1],
  ["namespace", 2],
  ["member", 2],
  ["destination", 2],
  ["sender", 2],
  ["error_name", 2],
  ["timeout", 1],
  ["pattern", 2],
];

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// An error the bus answered: name is the mbus error name; sender, when the error came from
// another peer rather than the broker, is that peer's id (the ERROR frame's sender field).
export class MbusError extends Error {
  constructor(name, message, sender) {
    super(message || name);
    this.name = name;
    if (sender !== undefined)
      this.sender = sender;
  }
}

// A frame object ({type, serial, namespace, ..., body}: body any JSON value or undefined)
// as the bytes of one binary frame. Fields go out in code order.
export function encodeFrame(frame) {
  const parts = [];
  let fieldsLen = 0;
  for (let code = 1; code < FIELDS.length; code++) {
    const [key, kind] = FIELDS[code];
    const value = frame[key];
    if (value === undefined || value === null || (kind === 1 && Number(value) === 0))
      continue;
    let bytes;
    if (kind === 1) {
      bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
    } else {
      const text = encoder.encode(String(value));
      bytes = new Uint8Array(text.length + 1);      // the NUL terminator
      bytes.set(text);
    }
    const tlv = new Uint8Array(4 + bytes.length);
    const view = new DataView(tlv.buffer);
    tlv[0] = code;
    tlv[1] = kind;
    view.setUint16(2, bytes.length, true);
    tlv.set(bytes, 4);
    parts.push(tlv);
    fieldsLen += tlv.length;
  }
  const body = frame.body === undefined ? new Uint8Array(0) : encoder.encode(JSON.stringify(frame.body));
  const out = new Uint8Array(HEADER_SIZE + fieldsLen + body.length);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = frame.type;
  view.setUint32(4, fieldsLen, true);
  view.setUint32(8, body.length, true);
  let offset = HEADER_SIZE;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  out.set(body, offset);
  return out;
}

// The bytes of one binary frame as a frame object. Throws on a malformed frame (the broker
// sends none; this guards against talking to something else). Serials above 2^53 stay BigInt.
export function decodeFrame(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < HEADER_SIZE || bytes[0] !== VERSION)
    throw new MbusError("org.mbus.Error.ProtocolError", "not an mbus frame");
  const fieldsLen = view.getUint32(4, true);
  const bodyLen = view.getUint32(8, true);
  if (HEADER_SIZE + fieldsLen + bodyLen !== bytes.length)
    throw new MbusError("org.mbus.Error.ProtocolError", "frame size does not match its message");
  const frame = { type: bytes[1] };
  let p = HEADER_SIZE;
  const end = HEADER_SIZE + fieldsLen;
  while (p < end) {
    if (p + 4 > end)
      throw new MbusError("org.mbus.Error.ProtocolError", "truncated header field");
    const code = bytes[p], kind = bytes[p + 1], len = view.getUint16(p + 2, true);
    p += 4;
    if (p + len > end || !FIELDS[code] || FIELDS[code][1] !== kind)
      throw new MbusError("org.mbus.Error.ProtocolError", "bad header field");
    if (kind === 1) {
      const v = view.getBigUint64(p, true);
      frame[FIELDS[code][0]] = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    } else {
      frame[FIELDS[code][0]] = decoder.decode(bytes.subarray(p, p + len - 1));
    }
    p += len;
  }
  if (bodyLen > 0) {
    const text = decoder.decode(bytes.subarray(end, end + bodyLen));
    try {
      frame.body = JSON.parse(text);
    } catch {
      frame.bodyText = text;        // a body the broker forwarded unchecked
    }
  }
  return frame;
}

// Whether a subscription pattern ("*", "NS.Member", "prefix.*") covers namespace.member.
export function patternMatches(pattern, namespace, member) {
  const full = `${namespace}.${member}`;
  if (pattern === "*")
    return true;
  if (pattern.endsWith(".*"))
    return full.startsWith(pattern.slice(0, -1));
  return pattern === full;
}

// One request a registered handler is answering.
class Request {
  constructor(frame) {
    this.namespace = frame.namespace;
    this.procedure = frame.member;
    this.sender = frame.sender;
    this.serial = frame.serial;
    this.args = frame.body;
  }
}

export class Client {
  constructor(ws, name) {
    this.ws = ws;
    this.name = name;
    this.id = null;                 // ":1.N" once WELCOME arrived
    this.nextSerial = 1;
    this.pending = new Map();       // serial -> {resolve, reject, timer}
    this.subscriptions = [];        // {pattern, callback}
    this.services = new Map();      // namespace -> handlers
    this.closed = false;
    this.onclose = null;            // called once with the reason when the connection ends
    ws.binaryType = "arraybuffer";
    ws.onmessage = (m) => this._receive(m.data);
    ws.onclose = () => this._end("the connection closed");
    ws.onerror = () => this._end("the connection failed");
  }

  _send(frame) {
    if (this.closed)
      throw new MbusError("org.mbus.Error.Disconnected", "not connected");
    if (frame.serial === undefined && frame.reply_serial === undefined)
      frame.serial = this.nextSerial++;
    this.ws.send(encodeFrame(frame));
    return frame.serial;
  }

  // Sends a frame that the broker answers (RETURN/ERROR/WELCOME/PONG); resolves with the
  // answer's body. timeoutMs guards against a connection that stops answering.
  _request(frame, timeoutMs) {
    return new Promise((resolve, reject) => {
      let serial;
      try {
        serial = this._send(frame);
      } catch (e) {
        reject(e);
        return;
      }
      const entry = { resolve, reject, timer: null };
      if (timeoutMs > 0)
        entry.timer = setTimeout(() => {
          this.pending.delete(serial);
          reject(new MbusError("org.mbus.Error.Timeout", "no answer in time"));
        }, timeoutMs);
      this.pending.set(serial, entry);
    });
  }

  _receive(data) {
    if (typeof data === "string")
      return;                       // we speak binary; the broker answers in kind
    let f;
    try {
      f = decodeFrame(data);
    } catch (e) {
      this.close();
      return;
    }
    switch (f.type) {
    case FrameType.WELCOME:
    case FrameType.RETURN:
    case FrameType.PONG:
    case FrameType.ERROR: {
      const entry = this.pending.get(f.reply_serial);
      if (!entry)
        return;                     // a late answer after our own timeout
      this.pending.delete(f.reply_serial);
      clearTimeout(entry.timer);
      if (f.type === FrameType.ERROR)
        entry.reject(new MbusError(f.error_name, f.body && f.body.message, f.sender));
      else
        entry.resolve(f.body === undefined ? {} : f.body);
      return;
    }
    case FrameType.EVENT:
      for (const s of this.subscriptions.slice())
        if (patternMatches(s.pattern, f.namespace, f.member))
          s.callback({ namespace: f.namespace, member: f.member, sender: f.sender,
                       destination: f.destination, payload: f.body });
      return;
    case FrameType.CALL:
      this._serve(f);
      return;
    case FrameType.PING:
      this._send({ type: FrameType.PONG, reply_serial: f.serial });
      return;
    default:
      return;
    }
  }

  // A CALL for a namespace we registered: exactly one RETURN or ERROR, whatever the handler does.
  async _serve(f) {
    const handlers = this.services.get(f.namespace);
    const handler = handlers && Object.prototype.hasOwnProperty.call(handlers, f.member) ? handlers[f.member] : null;
    const answer = { reply_serial: f.serial, destination: f.sender };
    try {
      if (!handler)
        throw new MbusError("org.mbus.Error.UnknownProcedure",
                            `${f.namespace} offers no procedure ${f.member}`);
      const result = await handler(f.body === undefined ? {} : f.body, new Request(f));
      Object.assign(answer, { type: FrameType.RETURN, body: result === undefined ? {} : result });
    } catch (e) {
      const name = e && typeof e.name === "string" && e.name.includes(".") ? e.name : "org.mbus.Error.Failed";
      Object.assign(answer, { type: FrameType.ERROR, error_name: name,
                              body: { message: String((e && e.message) || e) } });
    }
    if (!this.closed)
      this._send(answer);
  }

  _end(reason) {
    if (this.closed)
      return;
    this.closed = true;
    for (const [, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new MbusError("org.mbus.Error.Disconnected", reason));
    }
    this.pending.clear();
    if (this.onclose)
      this.onclose(reason);
  }

  // Calls namespace.procedure with args (a JSON value, default {}). options.timeout in
  // milliseconds is sent to the broker, which answers org.mbus.Error.Timeout when it passes.
  // Resolves with the result; rejects with an MbusError.
  call(namespace, procedure, args = {}, { timeout } = {}) {
    const frame = { type: FrameType.CALL, namespace, member: procedure, body: args };
    if (timeout !== undefined)
      frame.timeout = Math.max(1, Math.round(timeout * 1000));
    // The broker answers every call; our own timer only covers a connection gone silent.
    return this._request(frame, (timeout !== undefined ? timeout : 25000) + 5000);
  }

  // Calls callback({namespace, member, sender, payload}) for every event matching pattern.
  // Resolves once the broker took the subscription, with a function that undoes it.
  async subscribe(pattern, callback) {
    await this._request({ type: FrameType.SUBSCRIBE, pattern }, 30000);
    const entry = { pattern, callback };
    this.subscriptions.push(entry);
    return async () => {
      const i = this.subscriptions.indexOf(entry);
      if (i < 0)
        return;
      this.subscriptions.splice(i, 1);
      await this._request({ type: FrameType.UNSUBSCRIBE, pattern }, 30000);
    };
  }

  // Owns namespace and answers its calls: handlers maps procedure names to functions
  // (args, request) returning the result or a Promise of it; throwing an Error whose name
  // has a dot ("org.example.Error.Busy") answers that error, any other org.mbus.Error.Failed.
  // options.events lists the events this namespace emits.
  async register(namespace, handlers, { events } = {}) {
    const body = { procedures: Object.keys(handlers) };
    if (events)
      body.events = events;
    await this._request({ type: FrameType.REGISTER, namespace, body }, 30000);
    this.services.set(namespace, handlers);
  }

  async unregister(namespace) {
    await this._request({ type: FrameType.UNREGISTER, namespace }, 30000);
    this.services.delete(namespace);
  }

  // Emits an event of a namespace this connection owns; options.destination sends it to
  // one peer only. Returns without waiting, as the protocol does; see emitWait().
  emit(namespace, event, payload, { destination } = {}) {
    this._send({ type: FrameType.EVENT, namespace, member: event, destination, body: payload });
  }

  // Emits, then resolves once the broker routed the event (or rejects with its refusal):
  // the broker answers our PING only after every earlier frame.
  async emitWait(namespace, event, payload, { destination } = {}) {
    const serial = this.nextSerial++;
    // Only a refusal answers an event: ERROR with its serial, before the PONG.
    const refused = new Promise((resolve, reject) => this.pending.set(serial, { resolve, reject, timer: null }));
    this._send({ type: FrameType.EVENT, serial, namespace, member: event, destination, body: payload });
    try {
      await Promise.race([refused, this.ping()]);
    } finally {
      this.pending.delete(serial);
    }
  }

  ping() {
    return this._request({ type: FrameType.PING }, 30000);
  }

  // The introspection of namespace (org.mbus.Broker.Introspect).
  introspect(namespace) {
    return this.call("org.mbus.Broker", "Introspect", { namespace });
  }

  close() {
    if (!this.closed)
      this.ws.close();
    this._end("closed by the client");
  }
}

// The WebSocket URL of the broker that served this page: ws(s)://its host/v1/ws.
export function defaultUrl() {
  const loc = globalThis.location;
  if (!loc)
    throw new Error("no page location: pass a URL to connect()");
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/v1/ws`;
}

// Connects and says HELLO. url: ws://HOST:PORT/v1/ws (default: the page's own broker).
// options.name names this client in ListPeers. Resolves with a Client.
export function connect(url = defaultUrl(), { name = "mbus.js", WebSocket: WS = globalThis.WebSocket } = {}) {
  return new Promise((resolve, reject) => {
    if (!WS) {
      reject(new Error("no WebSocket class"));
      return;
    }
    const ws = new WS(url, "mbus");
    ws.binaryType = "arraybuffer";
    ws.onerror = () => reject(new MbusError("org.mbus.Error.Disconnected", `cannot connect to ${url}`));
    ws.onopen = async () => {
      const client = new Client(ws, name);
      try {
        const welcome = await client._request({ type: FrameType.HELLO, body: { name } }, 10000);
        client.id = welcome.id;
        client.welcome = welcome;
        resolve(client);
      } catch (e) {
        reject(e);
      }
    };
  });
}
