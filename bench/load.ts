// bench/load.ts — the load generator of the chat benchmark (bench/chat.ts starts it; you
// normally don't run it by hand). It runs as its own process so that it never shares an event
// loop with the server it measures.
//
// What it does, against a chat server that speaks the Q8 wire format (CONTRACT.md):
//   1. reads the server's memory (VmRSS in /proc/<pid>/status) before anyone connects
//      (with --gc-url after a full garbage collection in the server, and again in step 3)
//   2. connects --clients N sockets and logs each in as c0001, c0002, ...; waits until every
//      client has seen its own join announcement and an announcement with "Member count=N"
//   3. reads the server's memory again -> memory per connection
//   4. after an unreported warm-up burst (--warmup lines per sender, for the server's JIT),
//      for each --modes entry: the first --senders S clients send --messages M lines each,
//      at full speed (as fast as the socket accepts them) or paced (--rate R lines/s per
//      sender); every other member must receive every line, in order, exactly once
//   5. prints one JSON object per phase on stdout and exits
//
// A chat line's text is "<phase> <seq> <sendMicros>": the phase number, the sequence number
// within that sender, and performance.now() in whole microseconds at the moment of write().
// The receivers run in this same process, so their clock is the same clock: latency is
// simply receive time minus send time.
//
//   $ node --import tsx bench/load.ts --port 43392 --clients 100 --modes full --server-pid 1234

import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { fstatSync, readFileSync } from "node:fs";
import net from "node:net";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import process from "node:process";
import { parseArgs } from "node:util";

const usage = `Usage: node --import tsx bench/load.ts --port P [options]
  --host H            server address (default 127.0.0.1)
  --port P            server port (required)
  --clients N         members to log in (default 100)
  --senders S         how many of them send (default 10)
  --messages M        lines per sender per phase (default 200)
  --rate R            lines/s per sender in paced mode (default 20)
  --warmup W          lines per sender in an unreported full-speed phase first (default 50)
  --modes LIST        comma-separated phases: full, paced, idle (default full,paced)
  --server-pid PID    read the server's RSS and CPU time from /proc/PID (optional)
  --join-timeout S    bound on connecting and logging in everybody (default 60)
  --phase-timeout S   bound on one send phase beyond its planned length (default 60)
  --stall-timeout S   end a phase when nothing arrived for S seconds after the last send (default 5)
  --settle-ms MS      wait before reading the server's RSS after the joins (default 500)
  --settle S          then wait S s more and read it again (default 0 = don't)
  --gc-url URL        the server's inspector (node --inspect): before the first RSS reading
                      and after the last, ask it for a full garbage collection
                      (HeapProfiler.collectGarbage) and read the RSS once it is over ->
                      memory per connection without the heap V8 keeps for garbage
  --in-halves         log in N/2 first, read the RSS there too (after the same waits), then
                      the rest. The final RSS then differs from a single burst of N joins:
                      V8 may shrink its heap during the pause (bench.md). bench/chat.ts does
                      not use it; its marginal cost compares two fresh servers
  --help              show this help`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      clients: { type: "string", default: "100" },
      senders: { type: "string", default: "10" },
      messages: { type: "string", default: "200" },
      rate: { type: "string", default: "20" },
      warmup: { type: "string", default: "50" },
      modes: { type: "string", default: "full,paced" },
      "server-pid": { type: "string" },
      "join-timeout": { type: "string", default: "60" },
      "phase-timeout": { type: "string", default: "60" },
      "stall-timeout": { type: "string", default: "5" },
      "settle-ms": { type: "string", default: "500" },
      settle: { type: "string", default: "0" },
      "in-halves": { type: "boolean", default: false },
      "gc-url": { type: "string" },
      help: { type: "boolean" },
    },
  }));
} catch (error) {
  console.error(`load: ${(error as Error).message.split(". ")[0]} (see --help)`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const host = values.host;
const port = wholeNumber("port", values.port ?? "", 1, 65535);
const clientCount = wholeNumber("clients", values.clients, 1, 9999);
const senderCount = Math.min(wholeNumber("senders", values.senders, 1, 9999), clientCount);
const messageCount = wholeNumber("messages", values.messages, 1, 10_000_000);
const rate = positiveNumber("rate", values.rate);
const warmupCount = wholeNumber("warmup", values.warmup, 0, 1_000_000);
const modes = values.modes.split(",").filter((mode) => mode !== "");
for (const mode of modes) {
  if (mode !== "full" && mode !== "paced" && mode !== "idle") fail(2, `unknown mode '${mode}' (full, paced, idle)`);
}
const serverPid = values["server-pid"] === undefined ? undefined : wholeNumber("server-pid", values["server-pid"], 1, 2 ** 31);
const joinTimeoutMs = positiveNumber("join-timeout", values["join-timeout"]) * 1000;
const phaseTimeoutMs = positiveNumber("phase-timeout", values["phase-timeout"]) * 1000;
const stallTimeoutMs = positiveNumber("stall-timeout", values["stall-timeout"]) * 1000;
const settleMs = wholeNumber("settle-ms", values["settle-ms"], 0, 600_000);
const settleSeconds = wholeNumber("settle", values.settle, 0, 600);
const inHalves = values["in-halves"] === true;
const gcUrl = values["gc-url"];
if (gcUrl !== undefined && typeof WebSocket === "undefined") fail(2, "--gc-url needs WebSocket (Node >= 22, or node --experimental-websocket)");

// If the parent (bench/chat.ts) goes away, so do we: our stdin is its pipe, and the pipe's
// end means the parent died without killing us.
if (fstatSync(0).isFIFO()) {
  process.stdin.on("end", () => process.exit(3));
  process.stdin.on("error", () => process.exit(3));
  process.stdin.resume();
}

// ---------------------------------------------------------------------------------------
// Per-client state. Everything the hot path touches is a number or a typed array, so that
// receiving a chat line allocates nothing.

interface Client {
  index: number; // 0-based; the name is c0001 for index 0
  name: string;
  socket: net.Socket;
  carry: Buffer; // the start of a line whose "\n" has not arrived yet
  carryLength: number;
  joined: boolean; // saw its own "has joined" announcement
  sawFinalCount: boolean; // saw an announcement ending in "Member count=N"
  closed: boolean;
  onJoined?: () => void;
  onJoinFailed?: (why: string) => void;
}

const clients: Client[] = [];
let finalCountBytes = Buffer.from(`Member count=${clientCount}`); // set by joinEverybody()
let finalCountSeen = 0;
let onFinalCountProgress: (() => void) | undefined;

// Counters of the current send phase.
let phase = 0; // 1, 2, ... while a send phase runs; 0 during the joins
let expected = 0;
let delivered = 0; // distinct chat lines of the current phase received by someone else
let duplicates = 0; // a line received a second time
let reordered = 0; // a line received after a later line of the same sender
let echoed = 0; // a line that came back to its own sender
let strays = 0; // chat lines of another phase, or not ours at all
let unexpectedLines = 0; // server lines during a phase (e.g. someone "has left")
const unexpectedSamples: string[] = [];
let disconnects = 0;
let latencies = new Uint32Array(0); // microseconds, one per delivery
// firstLatency[sender * phaseMessages + seq] = the smallest latency of that line over all its
// receivers: how late the FIRST copy of a line arrived. The difference to the overall p99 is
// the fan-out (the server's 499 writes and our 499 reads of one line, one after another).
let firstLatency = new Uint32Array(0);
let firstSendMicros = 0;
let lastDeliveryMicros = 0;
let lastProgressMs = 0;
let onPhaseProgress: (() => void) | undefined;
// nextSeq[receiver * senderCount + sender] = the sequence number the receiver expects next.
let nextSeq = new Int32Array(0);
let seen = new Uint8Array(0);
let phaseMessages = 0;

/** performance.now() in whole microseconds: the clock both senders and receivers use. */
function nowMicros(): number {
  return Math.floor(performance.now() * 1000);
}

// One read buffer shared by all sockets: with `onread`, Node reads straight into it and calls
// our callback synchronously, so no Buffer is allocated per read and no stream machinery
// runs per chunk. Partial lines are copied out (into `carry`) before the callback returns.
const readBuffer = Buffer.allocUnsafe(1 << 17);

function onBytes(client: Client, bytes: Buffer, count: number) {
  const now = nowMicros(); // one timestamp per read: every line in it arrived together
  const chunk = bytes.subarray(0, count);
  let start = 0;
  if (client.carryLength > 0) {
    const newline = chunk.indexOf(10);
    if (newline === -1) {
      appendCarry(client, chunk, 0, count);
      return;
    }
    appendCarry(client, chunk, 0, newline);
    const line = client.carry;
    const length = client.carryLength;
    client.carryLength = 0;
    onLine(client, line, 0, length, now);
    start = newline + 1;
  }
  let newline: number;
  while ((newline = chunk.indexOf(10, start)) !== -1) {
    onLine(client, chunk, start, newline, now);
    start = newline + 1;
  }
  if (start < count) appendCarry(client, chunk, start, count);
}

function appendCarry(client: Client, chunk: Buffer, from: number, to: number) {
  const need = client.carryLength + (to - from);
  if (need > client.carry.length) {
    const bigger = Buffer.allocUnsafe(Math.max(need, client.carry.length * 2));
    client.carry.copy(bigger, 0, 0, client.carryLength);
    client.carry = bigger;
  }
  chunk.copy(client.carry, client.carryLength, from, to);
  client.carryLength = need;
}

/** One received line, bytes [start, end) of `line` without the "\n". */
function onLine(client: Client, line: Buffer, start: number, end: number, now: number) {
  if (end > start && line[end - 1] === 13) end--; // a trailing "\r" is ignored
  // Chat lines are "c0001: <phase> <seq> <micros>". Parse the digits straight from the bytes.
  if (line[start] === 0x63 /* c */ && client.joined) {
    let at = start + 1;
    let sender = 0;
    let digits = 0;
    while (at < end && line[at]! >= 0x30 && line[at]! <= 0x39) {
      sender = sender * 10 + line[at]! - 0x30;
      at++;
      digits++;
    }
    if (digits > 0 && line[at] === 0x3a /* : */ && line[at + 1] === 0x20) {
      at += 2;
      let linePhase = 0;
      while (at < end && line[at] !== 0x20) linePhase = linePhase * 10 + line[at++]! - 0x30;
      at++;
      let seq = 0;
      while (at < end && line[at] !== 0x20) seq = seq * 10 + line[at++]! - 0x30;
      at++;
      let sent = 0;
      while (at < end) sent = sent * 10 + line[at++]! - 0x30;
      const senderIndex = sender - 1;
      if (linePhase !== phase || phase === 0 || senderIndex < 0 || senderIndex >= senderCount) {
        strays++;
        return;
      }
      if (senderIndex === client.index) {
        echoed++; // the contract: never echoed to its sender
        return;
      }
      if (seq >= phaseMessages) {
        strays++;
        return;
      }
      // Order and duplicates: one bit per (receiver, sender, seq) says "already received".
      // A line that arrives after a later one of the same sender counts as reordered; a line
      // that never arrives counts as lost (expected minus distinct deliveries).
      const slot = client.index * senderCount + senderIndex;
      const bit = slot * phaseMessages + seq;
      if (seen[bit >> 3]! & (1 << (bit & 7))) {
        duplicates++;
        return;
      }
      seen[bit >> 3]! |= 1 << (bit & 7);
      if (seq < nextSeq[slot]!) reordered++;
      else nextSeq[slot] = seq + 1;
      const latency = now > sent ? now - sent : 0;
      if (delivered < latencies.length) latencies[delivered] = latency;
      const lineIndex = senderIndex * phaseMessages + seq;
      if (latency < firstLatency[lineIndex]!) firstLatency[lineIndex] = latency;
      delivered++;
      lastDeliveryMicros = now;
      if (delivered >= expected) onPhaseProgress?.();
      return;
    }
  }
  // Everything else is rare: announcements (joins, leaves), ERROR lines. Decode those.
  onServerLine(client, line, start, end);
}

function onServerLine(client: Client, line: Buffer, start: number, end: number) {
  if (!client.joined) {
    const text = line.toString("utf8", start, end);
    if (text.includes(` ${client.name} has joined.`)) {
      client.joined = true;
      client.onJoined?.();
    } else if (text.startsWith("ERROR")) {
      client.onJoinFailed?.(`${client.name} got "${text}"`);
      return;
    }
    // Otherwise someone else's announcement reached us before our own (a server may add us
    // to the room before it announces us): it may still be the one that counts everybody.
  } else if (phase > 0) {
    unexpectedLines++;
    if (unexpectedSamples.length < 5) unexpectedSamples.push(`${client.name} got "${line.toString("utf8", start, end)}"`);
    return;
  }
  // During the joins, all we need is the announcement that counts everybody.
  if (!client.sawFinalCount && end - start >= finalCountBytes.length &&
      line.compare(finalCountBytes, 0, finalCountBytes.length, end - finalCountBytes.length, end) === 0) {
    client.sawFinalCount = true;
    finalCountSeen++;
    onFinalCountProgress?.();
  }
}

// ---------------------------------------------------------------------------------------
// Step 2: connect and log in everybody, at most `window` logins in flight at once (a burst of
// 1000 SYNs could overflow the listen backlog and cost a 1 s retransmission).

async function joinEverybody(upTo: number): Promise<void> {
  const window = 50;
  const first = clients.length;
  let next = first;
  // Each client (also those who joined earlier) must now see the announcement counting `upTo`.
  finalCountBytes = Buffer.from(`Member count=${upTo}`);
  finalCountSeen = 0;
  for (const client of clients) client.sawFinalCount = false;
  let failure: string | undefined;
  const deadline = Date.now() + joinTimeoutMs;
  const startOne = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const name = `c${String(index + 1).padStart(4, "0")}`;
      const socket = net.connect({
        host,
        port,
        noDelay: true,
        onread: { buffer: readBuffer, callback: (count: number, bytes: Buffer) => (onBytes(client, bytes, count), true) },
      });
      const client: Client = { index, name, socket, carry: Buffer.allocUnsafe(256), carryLength: 0, joined: false, sawFinalCount: false, closed: false };
      clients[index] = client;
      client.onJoined = () => resolve();
      client.onJoinFailed = (why) => reject(new Error(why));
      socket.setNoDelay(true);
      socket.on("connect", () => socket.write(`${name}\n`));
      socket.on("error", (error) => {
        if (!client.joined) reject(new Error(`${name}: ${error.message}`));
      });
      socket.on("close", () => {
        client.closed = true;
        if (!client.joined) reject(new Error(`${name}: the server closed the connection before the join`));
        else {
          disconnects++;
          onPhaseProgress?.();
        }
      });
    });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`joins timed out: ${clients.filter((c) => c?.joined).length}/${clientCount} joined, ${finalCountSeen} saw the final count`)), Math.max(0, deadline - Date.now()));
    if (first >= upTo) resolve();
    let running = 0;
    let done = 0;
    const pump = () => {
      while (running < window && next < upTo && failure === undefined) {
        running++;
        startOne(next++).then(
          () => {
            running--;
            done++;
            if (done === upTo - first) resolve();
            else pump();
          },
          (error: Error) => {
            failure = error.message;
            reject(error);
          },
        );
      }
    };
    pump();
  }).catch((error) => {
    throw error;
  });
  // Everybody is in; wait until each one has also seen the announcement counting all N.
  await waitFor(() => finalCountSeen >= upTo, deadline, (callback) => (onFinalCountProgress = callback),
    () => `joins timed out: ${finalCountSeen}/${upTo} clients saw "Member count=${upTo}"`);
  onFinalCountProgress = undefined;
}

/** Resolves when `ready()` holds; checks whenever `subscribe`'s callback fires; rejects at `deadline`. */
function waitFor(ready: () => boolean, deadline: number, subscribe: (callback: () => void) => void, why: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ready()) return resolve();
    const timer = setTimeout(() => reject(new Error(why())), Math.max(0, deadline - Date.now()));
    subscribe(() => {
      if (ready()) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------
// Step 4: one send phase.

async function sendPhase(mode: "full" | "paced", messageCount: number, report = true) {
  phase++;
  const receivers = clientCount - 1;
  expected = senderCount * messageCount * receivers;
  delivered = duplicates = reordered = echoed = strays = unexpectedLines = 0;
  unexpectedSamples.length = 0;
  const disconnectsBefore = disconnects;
  latencies = new Uint32Array(expected);
  firstLatency = new Uint32Array(senderCount * messageCount).fill(0xffffffff);
  nextSeq = new Int32Array(clientCount * senderCount);
  phaseMessages = messageCount;
  seen = new Uint8Array(Math.ceil((clientCount * senderCount * messageCount) / 8));
  lastDeliveryMicros = 0;
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = serverCpuSeconds();
  const wallBefore = performance.now();
  firstSendMicros = nowMicros();
  // How late this process's own event loop runs (sampled every 1 ms): a receiver's read that
  // waits behind other reads is timed late, and that delay is ours, not the server's.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();

  const sending = mode === "full" ? sendFullSpeed(messageCount) : sendPaced(messageCount);
  const plannedMs = mode === "paced" ? (messageCount / rate) * 1000 : 0;
  const hardDeadline = Date.now() + plannedMs + phaseTimeoutMs;
  let sendsDone = false;
  let sendError: string | undefined;
  sending.then(
    () => {
      sendsDone = true;
      lastProgressMs = Date.now();
    },
    (error: Error) => {
      sendsDone = true;
      sendError = error.message;
    },
  );
  // Wait for every delivery; give up when the hard deadline passes, or when nothing has
  // arrived for --stall-timeout seconds after the last line was sent (lost lines never come).
  let timedOut = "";
  let lastDelivered = -1;
  await new Promise<void>((resolve) => {
    const finish = () => {
      clearInterval(ticker);
      onPhaseProgress = undefined;
      resolve();
    };
    onPhaseProgress = () => {
      if (sendsDone && delivered >= expected) finish();
    };
    const ticker = setInterval(() => {
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        lastProgressMs = Date.now();
      }
      if (sendsDone && delivered >= expected) finish();
      else if (sendError !== undefined) finish();
      else if (Date.now() > hardDeadline) {
        timedOut = `phase timed out after ${((plannedMs + phaseTimeoutMs) / 1000).toFixed(0)} s`;
        finish();
      } else if (sendsDone && Date.now() - lastProgressMs > stallTimeoutMs) {
        timedOut = `nothing arrived for ${stallTimeoutMs / 1000} s`;
        finish();
      }
    }, 20);
  });
  loopDelay.disable();
  const wallSeconds = (performance.now() - wallBefore) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuAfter = serverCpuSeconds();
  const sample = latencies.subarray(0, Math.min(delivered, latencies.length)).sort();
  const percentile = (p: number) => (sample.length === 0 ? null : sample[Math.min(sample.length - 1, Math.floor(p * (sample.length - 1)))]! / 1000);
  const firsts = firstLatency.filter((value) => value !== 0xffffffff).sort();
  const firstPercentile = (p: number) => (firsts.length === 0 ? null : firsts[Math.min(firsts.length - 1, Math.floor(p * (firsts.length - 1)))]! / 1000);
  const spanSeconds = (lastDeliveryMicros - firstSendMicros) / 1e6;
  if (!report) return sendError ?? (timedOut || null);
  emit({
    type: "phase",
    mode,
    clients: clientCount,
    senders: senderCount,
    messages: messageCount,
    rate: mode === "paced" ? rate : null,
    expected,
    received: delivered,
    lost: Math.max(0, expected - delivered),
    duplicates,
    reordered,
    echoed,
    strays,
    unexpectedLines,
    unexpectedSamples,
    disconnects: disconnects - disconnectsBefore,
    deliveriesPerSecond: spanSeconds > 0 ? delivered / spanSeconds : null,
    spanSeconds,
    p50ms: percentile(0.5),
    p99ms: percentile(0.99),
    maxMs: percentile(1),
    firstP50ms: firstPercentile(0.5),
    firstP99ms: firstPercentile(0.99),
    // The event-loop delay histogram is in nanoseconds; its floor is the 1 ms resolution.
    genLoopDelayP99ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : null,
    genLoopDelayMaxMs: loopDelay.count > 0 ? loopDelay.max / 1e6 : null,
    wallSeconds,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    generatorSystemSeconds: cpu.system / 1e6,
    serverCpuSeconds: serverCpuBefore === null || serverCpuAfter === null ? null : serverCpuAfter - serverCpuBefore,
    problem: sendError ?? (timedOut || null),
  });
  return sendError ?? (timedOut || null);
}

/**
 * Full speed: round after round, every sender that the kernel is not pushing back on writes
 * its next lines, until write() returns false (the socket's buffer is full: backpressure; it
 * then waits for "drain") or it has written `burst` lines this round. Between rounds we yield
 * to the event loop, so that the receivers' reads are timed when they happen and the senders
 * take turns fairly; the burst keeps the sending rate from being tied to how often our event
 * loop comes round while it is busy receiving.
 */
async function sendFullSpeed(messageCount: number) {
  const burst = 64;
  const sent = new Int32Array(senderCount);
  const blocked = new Uint8Array(senderCount);
  let remaining = senderCount * messageCount;
  let wake: (() => void) | undefined;
  while (remaining > 0) {
    let wrote = false;
    for (let s = 0; s < senderCount; s++) {
      if (blocked[s]) continue;
      const socket = clients[s]!.socket;
      for (let n = 0; n < burst && sent[s]! < messageCount; n++) {
        if (socket.destroyed) throw new Error(`sender ${clients[s]!.name} was disconnected`);
        const ok = socket.write(`${phase} ${sent[s]} ${nowMicros()}\n`);
        sent[s]!++;
        remaining--;
        wrote = true;
        if (!ok) {
          blocked[s] = 1;
          socket.once("drain", () => {
            blocked[s] = 0;
            wake?.();
          });
          break;
        }
      }
    }
    if (remaining === 0) break;
    if (wrote) await new Promise<void>((resolve) => setImmediate(resolve));
    else await new Promise<void>((resolve) => (wake = resolve));
  }
}

/**
 * Paced: each sender writes one line every 1/R seconds, on a schedule fixed in advance (so a
 * late timer does not drift the rate), the senders' schedules spread evenly over the interval.
 */
async function sendPaced(messageCount: number) {
  const intervalMs = 1000 / rate;
  const start = performance.now() + 5;
  await Promise.all(
    clients.slice(0, senderCount).map(async (client, s) => {
      const offset = (intervalMs * s) / senderCount;
      for (let seq = 0; seq < messageCount; seq++) {
        const due = start + offset + seq * intervalMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (client.socket.destroyed) throw new Error(`sender ${client.name} was disconnected`);
        if (!client.socket.write(`${phase} ${seq} ${nowMicros()}\n`)) await new Promise((resolve) => client.socket.once("drain", resolve));
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------
// The server's resources, read from Linux's /proc (null elsewhere or without --server-pid).

let clockTicks: number | undefined;
function serverCpuSeconds(): number | null {
  if (serverPid === undefined) return null;
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    const stat = readFileSync(`/proc/${serverPid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime + stime
  } catch {
    return null;
  }
}

function serverRssKiB(): number | null {
  if (serverPid === undefined) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${serverPid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

type Memory = { rssAfterKiB: number | null; rssSettledKiB: number | null; rssCollectedKiB: number | null };

/**
 * The server's VmRSS --settle-ms after the joins ("right after": V8 has not yet given back
 * the heap it grew while it wrote the N²/2 join announcements), then, with --settle S, once
 * more after S further seconds of quiet (V8 may shrink its heap when allocation stops).
 */
async function memoryAfterJoins(): Promise<Memory> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const rssAfterKiB = serverRssKiB();
  let rssSettledKiB = null;
  if (settleSeconds > 0) {
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    rssSettledKiB = serverRssKiB();
  }
  return { rssAfterKiB, rssSettledKiB, rssCollectedKiB: await rssAfterCollection() };
}

// With --gc-url: the server's RSS after a full garbage collection, through its inspector
// (the Chrome DevTools protocol over a WebSocket). V8 keeps the young generation it grew
// during a burst of work (here: the N²/2 join announcements) until its "memory reducer"
// runs a memory-reducing collection, which on an idle server happens 30-60 s later, or
// never if nothing triggers it. HeapProfiler.collectGarbage is such a collection at once,
// so the figure is what the members themselves take. One session serves every request, so
// that its own cost is in the baseline too.
let inspector: WebSocket | undefined;
let inspectorRequests = 0;

async function rssAfterCollection(): Promise<number | null> {
  if (gcUrl === undefined) return null;
  if (inspector === undefined) {
    const socket = new WebSocket(gcUrl);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer from the server's inspector at ${gcUrl} within 10 s`)), 10_000);
      socket.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.onerror = () => {
        clearTimeout(timer);
        reject(new Error(`cannot reach the server's inspector at ${gcUrl}`));
      };
    });
    inspector = socket;
  }
  const id = ++inspectorRequests;
  const socket = inspector;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server's inspector did not answer within 30 s")), 30_000);
    socket.onmessage = (event) => {
      if ((JSON.parse(String(event.data)) as { id?: number }).id !== id) return;
      clearTimeout(timer);
      resolve();
    };
    socket.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
  });
  // V8 unmaps the freed pages on a background thread: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return serverRssKiB();
}

function emit(record: object) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

function fail(code: number, message: string): never {
  console.error(`load: ${message}`);
  process.exit(code);
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) fail(2, `invalid --${name} '${text}': expected a whole number from ${min} to ${max}`);
  return value;
}

function positiveNumber(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) fail(2, `invalid --${name} '${text}': expected a positive number`);
  return value;
}

// ---------------------------------------------------------------------------------------
// The steps.

try {
  // Step 1: the server's memory before anyone connects.
  // (With --gc-url after a full garbage collection: startup leaves garbage behind, which a
  // collection after the joins would otherwise count as a saving.)
  const rssBefore = gcUrl === undefined ? serverRssKiB() : await rssAfterCollection();
  // Step 2: connect and log in everybody (with --in-halves: half of them first, and the
  // server's memory read at that point too, after the same waits as below).
  const halfCount = Math.floor(clientCount / 2);
  let joinSeconds = 0;
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = serverCpuSeconds();
  let half: Memory | undefined;
  if (inHalves && halfCount > 0) {
    const halfStart = performance.now();
    await joinEverybody(halfCount);
    joinSeconds += (performance.now() - halfStart) / 1000;
    half = await memoryAfterJoins();
  }
  const joinStart = performance.now();
  await joinEverybody(clientCount);
  joinSeconds += (performance.now() - joinStart) / 1000;
  const joinCpu = process.cpuUsage(cpuBefore);
  const serverCpuAfter = serverCpuSeconds();
  // Step 3: the server's memory again: --settle-ms after the joins, and after --settle more seconds.
  const full = await memoryAfterJoins();
  const perConnection = (after: number | null, before: number | null, count: number) => (after === null || before === null ? null : (after - before) / count);
  emit({
    type: "joined",
    clients: clientCount,
    joinSeconds,
    rssBeforeKiB: rssBefore,
    rssAfterKiB: full.rssAfterKiB,
    rssPerConnectionKiB: perConnection(full.rssAfterKiB, rssBefore, clientCount),
    settleSeconds: settleSeconds,
    rssSettledKiB: full.rssSettledKiB,
    rssSettledPerConnectionKiB: perConnection(full.rssSettledKiB, rssBefore, clientCount),
    rssCollectedKiB: full.rssCollectedKiB,
    rssCollectedPerConnectionKiB: perConnection(full.rssCollectedKiB, rssBefore, clientCount),
    // --in-halves: the server's RSS when half of the members had joined, after the same waits
    halfClients: half === undefined ? null : halfCount,
    rssHalfAfterKiB: half?.rssAfterKiB ?? null,
    rssHalfSettledKiB: half?.rssSettledKiB ?? null,
    rssHalfCollectedKiB: half?.rssCollectedKiB ?? null,
    generatorCpuSeconds: (joinCpu.user + joinCpu.system) / 1e6,
    serverCpuSeconds: serverCpuBefore === null || serverCpuAfter === null ? null : serverCpuAfter - serverCpuBefore,
  });
  // Step 4: the send phases, each after a short pause so the previous one's stragglers and
  // garbage do not bleed into it. A short unreported full-speed phase first warms up the
  // server's JIT compiler: a chat server runs for days, the first thousand lines are not
  // what it is like.
  if (warmupCount > 0 && modes.some((mode) => mode !== "idle")) {
    const problem = await sendPhase("full", warmupCount, false);
    if (problem !== null || delivered !== expected) throw new Error(`warm-up: ${problem ?? `${delivered}/${expected} delivered`}`);
  }
  for (const mode of modes) {
    if (mode === "idle") continue;
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sendPhase(mode as "full" | "paced", messageCount);
  }
  emit({ type: "done" });
} catch (error) {
  emit({ type: "error", message: (error as Error).message });
  process.exitCode = 1;
}
// Step 5: hang up. Destroying the sockets (instead of sending "quit") spares the server
// nothing, but the benchmark is over: the parent stops the server right after.
for (const client of clients) client?.socket.destroy();
process.exit();
