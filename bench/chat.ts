// bench/chat.ts — the chat room benchmark (`npm run bench:chat`): how many lines per second
// the Q8 server fans out, how late they arrive, and how much memory a member costs.
//
// For each --clients N and each of --runs K runs it:
//   1. starts a fresh server (`node --import tsx q8/Chat_Server.ts --port 0`, or the Python
//      anchor with --server python) and reads HOST:PORT from its first line
//   2. starts the load generator, bench/load.ts, as a separate process (so that it does not
//      share the server's event loop), which logs in N members, then lets S senders send M
//      lines each at full speed and then paced at R lines/s, and reports deliveries, order
//      errors, latency, the server's memory (/proc/PID/status) and both processes' CPU time
//   3. stops both (also on failure, timeout or Ctrl-C)
// Then idle runs: --idle N (and N/2) members log in and do nothing -> the server's RSS per
// idle connection 0.5 s after the joins and after a full garbage collection, and the
// marginal cost of a member (the growth at N minus the growth at N/2).
// It prints a Markdown table of the medians of the K runs.
//
//   $ npm run bench:chat                                  # N = 10, 100, 500; ~3 minutes
//   $ npm run bench:chat -- --clients 500 --runs 1 --mode full
//   $ npm run bench:chat -- --server node,python         # the threaded Python anchor too

import { Buffer } from "node:buffer";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const usage = `Usage: npm run bench:chat -- [options]
  --clients LIST     members logged in, comma-separated (default 10,100,500;
                     "" = none, only the idle runs)
  --senders S        how many members send (default 10)
  --messages M       lines per sender per mode (default 200)
  --rate R           lines/s per sender in paced mode (default 20)
  --mode LIST        full, paced or full,paced (default full,paced)
  --warmup W         lines per sender sent (unreported) before the modes, to warm up
                     the server's JIT compiler (default 50; 0 = none)
  --idle N           also an idle run: N members log in, memory per idle connection
                     (default 1000; 0 = no idle run). Also an idle run with N/2 members,
                     each on a fresh server: (RSS at N − RSS at N/2) / (N/2) = the marginal
                     cost of one more member
  --settle S         in the idle run, read the RSS again S seconds after the joins
                     (default 0 = don't). Either way the Node server's RSS is read
                     once more after a full garbage collection, asked for through its
                     inspector (node --inspect=127.0.0.1:0, idle runs only)
  --runs K           runs per setting; the table shows medians (default 3)
  --server LIST      node (q8/Chat_Server.ts), python (bench/python_threaded_server.py)
                     or node,python (default node)
  --server-file F    run this TypeScript server instead of q8/Chat_Server.ts
  --timeout S        bound on each phase, in seconds (default 60)
  --node-options S   extra options for the Node server, space-separated
                     (e.g. "--max-semi-space-size=1" to see what V8's heap sizing costs)
  --cpu-prof DIR     write a V8 CPU profile of each Node server run into DIR
                     (node --cpu-prof; open it in Chrome DevTools or VS Code)
  --help             show this help
Progress goes to stderr, the Markdown table to stdout.`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      clients: { type: "string", default: "10,100,500" },
      senders: { type: "string", default: "10" },
      messages: { type: "string", default: "200" },
      rate: { type: "string", default: "20" },
      mode: { type: "string", default: "full,paced" },
      warmup: { type: "string", default: "50" },
      idle: { type: "string", default: "1000" },
      settle: { type: "string", default: "0" },
      runs: { type: "string", default: "3" },
      server: { type: "string", default: "node" },
      "server-file": { type: "string", default: "q8/Chat_Server.ts" },
      timeout: { type: "string", default: "60" },
      "cpu-prof": { type: "string" },
      "node-options": { type: "string", default: "" },
      help: { type: "boolean" },
    },
  }));
} catch (error) {
  console.error(`bench: ${(error as Error).message.split(". ")[0]} (see --help)`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const clientCounts = values.clients.split(",").filter((text) => text !== "").map((text) => wholeNumber("clients", text, 2, 9999));
const senders = wholeNumber("senders", values.senders, 1, 9999);
const messages = wholeNumber("messages", values.messages, 1, 1_000_000);
const rate = Number(values.rate);
if (!(rate > 0 && rate <= 100_000)) fail(`invalid --rate '${values.rate}': expected a number of lines per second`);
const modes = values.mode.split(",");
for (const mode of modes) if (mode !== "full" && mode !== "paced") fail(`invalid --mode '${mode}': expected full, paced or full,paced`);
const warmup = wholeNumber("warmup", values.warmup, 0, 1_000_000);
const idleCount = values.idle === "0" ? 0 : wholeNumber("idle", values.idle, 2, 9999);
const settle = wholeNumber("settle", values.settle, 0, 600);
const runs = wholeNumber("runs", values.runs, 1, 100);
const servers = values.server.split(",");
for (const server of servers) if (server !== "node" && server !== "python") fail(`invalid --server '${server}': expected node, python or node,python`);
const serverFile = values["server-file"];
const timeoutSeconds = wholeNumber("timeout", values.timeout, 1, 3600);
const nodeOptions = values["node-options"].split(" ").filter((option) => option !== "");
const profileDirectory = values["cpu-prof"] === undefined ? undefined : path.resolve(values["cpu-prof"]);

// Every child we start is killed when we leave, however we leave (an error, a timeout,
// Ctrl-C): a benchmark must not leave a server holding ports and a core behind it.
const children = new Set<ChildProcess>();
function killChildren() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
// The servers' console output goes to a file in here (see `Spawned`); removed at the end.
const scratch = mkdtempSync(path.join(tmpdir(), "bench-chat-"));
process.on("exit", () => {
  killChildren();
  rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping`);
    killChildren();
    process.exit(130);
  });
}

// Each member is one file descriptor in the server and one in the generator. If the soft
// limit (`ulimit -n`) is too low we raise it for the children only, through bash's ulimit.
const largestN = Math.max(...clientCounts, idleCount);
const neededFiles = largestN + 256;
const [softFiles, hardFiles] = openFileLimits();
let wrap = (argv: string[]) => argv;
if (softFiles < neededFiles) {
  if (hardFiles < neededFiles) fail(`${largestN} members need ${neededFiles} open files, but the hard limit is ${hardFiles} (ulimit -Hn)`);
  wrap = (argv) => ["bash", "-c", `ulimit -n ${neededFiles} && exec "$0" "$@"`, ...argv];
}

// ---------------------------------------------------------------------------------------

/** A child process whose output we keep line by line, with bounded waits. */
class Spawned {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  #firstLine: Promise<string>;
  #exited: Promise<number | null>;

  /**
   * Starts `argv`. With `stdoutFile`, the child's stdout goes to that file instead of a pipe:
   * the server prints a line per chat message, and a pipe whose reader (this process) is
   * slow to be scheduled on a busy machine would block those writes and slow the server down.
   */
  constructor(argv: string[], stdoutFile?: string, onStdoutLine?: (line: string) => void) {
    const stdoutFd = stdoutFile === undefined ? undefined : openSync(stdoutFile, "w");
    this.child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ["pipe", stdoutFd ?? "pipe", "pipe"] });
    if (stdoutFd !== undefined) closeSync(stdoutFd); // the child has its own copy
    children.add(this.child);
    this.child.stdin!.on("error", () => {});
    this.#exited = new Promise((resolve) => this.child.on("exit", (code) => {
      children.delete(this.child);
      resolve(code);
    }));
    this.child.on("error", () => {}); // a missing binary shows up as an exit code below
    if (stdoutFile === undefined) {
      let resolveFirst: (line: string) => void;
      this.#firstLine = new Promise((resolve) => (resolveFirst = resolve));
      this.#collect(this.child.stdout!, this.stdout, (line) => {
        resolveFirst(line);
        onStdoutLine?.(line);
      });
    } else {
      this.#firstLine = firstLineOf(stdoutFile, this.#exited);
    }
    this.#collect(this.child.stderr!, this.stderr, () => {});
  }

  // We keep the last lines, for error messages.
  #collect(stream: NodeJS.ReadableStream, into: string[], onLine: (line: string) => void) {
    let pending = "";
    stream.on("data", (bytes: Buffer) => {
      pending += bytes.toString("utf8");
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        onLine(line);
        into.push(line);
      }
      if (into.length > 2000) into.splice(0, into.length - 1000);
    });
  }

  /** The WebSocket address that `node --inspect` prints on stderr. */
  async inspectorUrl(ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const url = this.stderr.map((line) => /ws:\/\/\S+/.exec(line)?.[0]).find((found) => found !== undefined);
      if (url !== undefined) return url;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no inspector address on the server's stderr within ${ms / 1000} s`);
  }

  firstLine(ms: number): Promise<string> {
    return race(this.#firstLine, ms, () => `no first line from the server within ${ms / 1000} s: ${this.stderr.slice(-5).join(" | ")}`);
  }

  exit(ms: number): Promise<{ code: number | null }> {
    return race(this.#exited.then((code) => ({ code })), ms, () => {
      this.child.kill("SIGKILL");
      return `the load generator did not finish within ${ms / 1000} s`;
    });
  }

  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    try {
      await race(this.#exited, 5000, () => "");
    } catch {
      this.child.kill("SIGKILL");
      await this.#exited;
    }
  }
}

type Json = Record<string, unknown>;
interface Row {
  server: string;
  clients: number;
  mode: string;
  phases: Json[]; // one per run (a "phase" record of bench/load.ts)
  joins: Json[]; // one per run (its "joined" record)
  failures: string[];
}
const rows = new Map<string, Row>();
function row(server: string, clients: number, mode: string): Row {
  const key = `${server} ${clients} ${mode}`;
  let found = rows.get(key);
  if (!found) rows.set(key, (found = { server, clients, mode, phases: [], joins: [], failures: [] }));
  return found;
}

const loadBefore = loadavg();
const started = Date.now();
for (const server of servers) {
  for (const clients of clientCounts) {
    for (let run = 1; run <= runs; run++) {
      await oneSession(server, clients, modes, `${server} N=${clients} run ${run}/${runs}`, modes.map((mode) => row(server, clients, mode)));
    }
  }
  if (idleCount > 0) {
    // N/2 and N alternate, so that a change in the machine's load affects both alike.
    for (let run = 1; run <= runs; run++) {
      for (const count of [Math.floor(idleCount / 2), idleCount]) {
        await oneSession(server, count, ["idle"], `${server} idle N=${count} run ${run}/${runs}`, [row(server, count, "idle")]);
      }
    }
  }
}
const loadAfter = loadavg();

/** One server, one generator: N joins, then the send phases; results go into `into`. */
async function oneSession(server: string, clients: number, sessionModes: string[], label: string, into: Row[]) {
  let serverProcess: Spawned | undefined;
  let generator: Spawned | undefined;
  try {
    // Idle runs of the Node server get its inspector, so that the generator can ask for a
    // full garbage collection before and after the joins (bench/load.ts, --gc-url).
    const collect = server === "node" && sessionModes[0] === "idle";
    serverProcess = await startServer(server, collect);
    const address = await serverProcess.firstLine(20_000);
    const match = /(\S+):(\d+)/.exec(address);
    if (!match) throw new Error(`the server's first line names no HOST:PORT: "${address}"`);
    const host = match[1]!.replace(/^\[|\]$/g, "");
    const args = [
      "--host", host === "0.0.0.0" ? "127.0.0.1" : host, "--port", match[2]!,
      "--clients", String(clients), "--senders", String(senders), "--messages", String(messages),
      "--rate", String(rate), "--warmup", String(warmup), "--modes", sessionModes.join(","), "--server-pid", String(serverProcess.child.pid),
      "--join-timeout", String(timeoutSeconds), "--phase-timeout", String(timeoutSeconds),
      ...(sessionModes[0] === "idle" ? ["--settle", String(settle)] : []),
      ...(collect ? ["--gc-url", await serverProcess.inspectorUrl(10_000)] : []),
    ];
    // The generator reports each phase as one JSON line as soon as it is over.
    let phaseIndex = 0;
    let joined: Json | undefined;
    let reportedError: string | undefined;
    const onRecord = (line: string) => {
      let record: Json;
      try {
        record = JSON.parse(line) as Json;
      } catch {
        return;
      }
      if (record.type === "joined") {
        joined = record;
        for (const target of into) target.joins.push(record);
        if (sessionModes[0] === "idle") into[0]!.phases.push(record);
        progress(`${label}: ${clients} joined in ${fixed(record.joinSeconds, 2)} s, server RSS ${kib(record.rssBeforeKiB)} -> ${kib(record.rssAfterKiB)} (${kib(record.rssPerConnectionKiB)}/connection)` +
          (record.rssSettledKiB === null || record.rssSettledKiB === undefined ? "" : `, ${kib(record.rssSettledKiB)} after ${record.settleSeconds} s (${kib(record.rssSettledPerConnectionKiB)}/connection)`) +
          (record.rssCollectedKiB === null || record.rssCollectedKiB === undefined ? "" : `, ${kib(record.rssCollectedKiB)} after a full GC (${kib(record.rssCollectedPerConnectionKiB)}/connection)`) +
          `, CPU server ${fixed(record.serverCpuSeconds, 2)} s / generator ${fixed(record.generatorCpuSeconds, 2)} s`);
      } else if (record.type === "phase") {
        into[phaseIndex++]?.phases.push(record);
        progress(`${label}: ${record.mode}: ${record.received}/${record.expected} delivered, ${rateText(record.deliveriesPerSecond)}, p50 ${ms(record.p50ms)}, p99 ${ms(record.p99ms)}` +
          `, CPU server ${fixed(record.serverCpuSeconds, 2)} s / generator ${fixed(record.generatorCpuSeconds, 2)} s in ${fixed(record.wallSeconds, 2)} s` +
          `, first copy p50 ${ms(record.firstP50ms)} p99 ${ms(record.firstP99ms)}, generator loop delay p99 ${ms(record.genLoopDelayP99ms)}` +
          (record.problem ? ` — ${record.problem}` : "") + problems(record));
      } else if (record.type === "error") {
        reportedError = String(record.message);
      }
    };
    // Node 20 has WebSocket (for --gc-url) only behind a flag; later versions have it anyway.
    const webSocketFlag = typeof WebSocket === "undefined" ? ["--experimental-websocket", "--no-warnings"] : [];
    generator = new Spawned(wrap([process.execPath, ...webSocketFlag, "--import", "tsx", path.join(ROOT, "bench/load.ts"), ...args]), undefined, onRecord);
    const pacedSeconds = sessionModes.includes("paced") ? messages / rate : 0;
    const budgetMs = (timeoutSeconds * (2 + sessionModes.length) + pacedSeconds + 30) * 1000; // joins, warm-up, modes
    const { code } = await generator.exit(budgetMs);
    await new Promise((resolve) => setImmediate(resolve)); // its last output line, if still in flight
    if (reportedError !== undefined) throw new Error(reportedError);
    if (code !== 0 || !joined) throw new Error(`the load generator exited with code ${code}: ${generator.stderr.slice(-5).join(" | ")}`);
    if (serverProcess.child.exitCode !== null || serverProcess.child.signalCode !== null) {
      throw new Error(`the server died during the run (${serverProcess.child.exitCode ?? serverProcess.child.signalCode}): ${serverProcess.stderr.slice(-5).join(" | ")}`);
    }
  } catch (error) {
    const message = (error as Error).message;
    progress(`${label}: FAILED: ${message}`);
    for (const target of into) target.failures.push(message);
    if (serverProcess && serverProcess.stderr.length > 0) progress(`  server stderr: ${serverProcess.stderr.slice(-5).join(" | ")}`);
  } finally {
    generator?.child.kill("SIGKILL");
    if (serverProcess) await serverProcess.stop();
  }
}

function startServer(server: string, inspect: boolean): Promise<Spawned> {
  const argv = server === "node"
    ? [process.execPath, ...nodeOptions, ...(profileDirectory ? ["--cpu-prof", "--cpu-prof-dir", profileDirectory] : []),
      ...(inspect ? ["--inspect=127.0.0.1:0"] : []), "--import", "tsx", path.resolve(ROOT, serverFile), "--port", "0"]
    : ["python3", path.join(ROOT, "bench/python_threaded_server.py"), "--port", "0"];
  return Promise.resolve(new Spawned(wrap(argv), path.join(scratch, "server-stdout.txt")));
}

// ---------------------------------------------------------------------------------------
// The table.

const lines: string[] = [];
lines.push(`| server | N | mode | deliveries expected / received | lost / reordered / dup | deliveries/s | p50 | p99 | server RSS per connection | CPU: server / generator |`);
lines.push(`| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
for (const { server, clients, mode, phases, joins, failures } of rows.values()) {
  const name = server === "node" ? (serverFile === "q8/Chat_Server.ts" ? "Node (q8/Chat_Server.ts)" : `Node (${serverFile})`) : "Python, threaded";
  const perConnection = kib(median(joins.map((join) => join.rssPerConnectionKiB)));
  const failed = failures.length > 0 ? ` (${failures.length} run${failures.length > 1 ? "s" : ""} failed)` : "";
  if (mode === "idle") {
    lines.push(`| ${name} | ${clients} | idle | – | – | – | – | – | ${perConnection}${failed} | – |`);
    continue;
  }
  const senderCount = Number(phases[0]?.senders ?? Math.min(senders, clients));
  const label = mode === "paced" ? `paced ${rate}/s × ${senderCount}` : `full speed × ${senderCount}`;
  if (phases.length === 0) {
    lines.push(`| ${name} | ${clients} | ${label} | – | – | – | – | – | ${perConnection} | – |${failed}`);
    continue;
  }
  const expected = phases.map((phase) => Number(phase.expected));
  const received = phases.map((phase) => Number(phase.received));
  const worst = received.indexOf(Math.min(...received));
  const delivery = received.every((value, i) => value === expected[i])
    ? `${group(expected[0]!)} / ${group(received[0]!)}`
    : `${group(expected[worst]!)} / **${group(received[worst]!)}** (worst run)`;
  const sum = (key: string) => phases.reduce((total, phase) => total + Number(phase[key] ?? 0), 0);
  const errors = `${sum("lost")} / ${sum("reordered")} / ${sum("duplicates")}` +
    (sum("disconnects") > 0 ? `, ${sum("disconnects")} dropped` : "") + (sum("echoed") > 0 ? `, ${sum("echoed")} echoed` : "");
  const serverShare = median(phases.map((phase) => (phase.serverCpuSeconds === null ? null : Number(phase.serverCpuSeconds) / Number(phase.wallSeconds))));
  const generatorShare = median(phases.map((phase) => Number(phase.generatorCpuSeconds) / Number(phase.wallSeconds)));
  lines.push(`| ${name} | ${clients} | ${label} | ${delivery} | ${errors} | ${rateText(median(phases.map((phase) => phase.deliveriesPerSecond)))} | ` +
    `${ms(median(phases.map((phase) => phase.p50ms)))} | ${ms(median(phases.map((phase) => phase.p99ms)))} | ${perConnection} | ` +
    `${percent(serverShare)} / ${percent(generatorShare)}${failed} |`);
}

// The idle runs' memory, each figure with its own definition (medians of the runs).
const memoryLines: string[] = [];
const idleRows = [...rows.values()].filter((entry) => entry.mode === "idle" && entry.joins.length > 0);
for (const { server, clients, joins } of idleRows) {
  const name = server === "node" ? "Node" : "Python, threaded";
  const m = (key: string) => median(joins.map((join) => join[key]));
  // The marginal cost: this row against the N/2 row of the same server. Each run's growth
  // (RSS after − RSS before, in its own process) is compared, because the starting RSS of
  // two fresh servers differs by several MiB.
  const half = idleRows.find((other) => other.server === server && other.clients === Math.floor(clients / 2));
  const growth = (joinRecords: Json[] | undefined, key: string) =>
    median((joinRecords ?? []).map((join) => (typeof join[key] === "number" && typeof join.rssBeforeKiB === "number" ? join[key] - join.rssBeforeKiB : null)));
  const marginal = (key: string) => {
    const at = growth(joins, key);
    const atHalf = growth(half?.joins, key);
    return at === null || atHalf === null ? "–" : kib((at - atHalf) / (clients - Math.floor(clients / 2)));
  };
  const collected = m("rssCollectedKiB") !== null;
  memoryLines.push(`| ${name} | ${clients} | ${mib(m("rssBeforeKiB"))} | ${mib(m("rssAfterKiB"))} | ${kib(m("rssPerConnectionKiB"))} | ` +
    (settle > 0 ? `${kib(m("rssSettledPerConnectionKiB"))} | ` : "") +
    `${collected ? `**${kib(m("rssCollectedPerConnectionKiB"))}**` : "–"} | ` +
    `${half ? [marginal("rssAfterKiB"), ...(settle > 0 ? [marginal("rssSettledKiB")] : []), ...(collected ? [marginal("rssCollectedKiB")] : [])].join(" / ") : "–"} |`);
}

const cpuModel = cpus()[0]?.model ?? "unknown CPU";
const serverVersion = servers.includes("node") ? ` ${serverFile} at ${gitVersion(serverFile)};` : "";
console.log(`Chat benchmark: ${senders} senders × ${messages} lines per mode; paced = ${rate} lines/s per sender; ` +
  `medians of ${runs} run${runs > 1 ? "s" : ""};${serverVersion} ${cpus().length} × ${cpuModel}, Node ${process.version}; ` +
  `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after; ${((Date.now() - started) / 1000).toFixed(0)} s.`);
console.log("");
console.log(lines.join("\n"));
console.log("");
console.log("deliveries/s = chat lines received by all members together, from the first send to the last delivery; " +
  "p50/p99 = receive time − send time (one clock: senders and receivers share the generator process); " +
  "RSS per connection = (server VmRSS 0.5 s after the joins − before) / N; CPU = share of one core during the send phase.");
if (memoryLines.length > 0) {
  console.log("");
  const settled = settle > 0 ? [`per connection, ${settle} s later`] : [];
  console.log(`| server | N idle | RSS before | RSS 0.5 s after the joins | per connection, 0.5 s after the joins | ${settled.map((text) => `${text} | `).join("")}` +
    `per connection, after a full GC | marginal (growth at N − growth at N/2) / (N/2): ${["0.5 s after", ...(settle > 0 ? [`${settle} s later`] : []), "after a full GC"].join(" / ")} |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ${settled.map(() => "---: | ").join("")}---: | ---: |`);
  console.log(memoryLines.join("\n"));
  console.log("");
  console.log("RSS before = the server's VmRSS before anyone connected, after a full garbage collection (Node; the Python server frees memory at once); " +
    "per connection, 0.5 s after the joins = (RSS then − RSS before) / N: includes the young generation V8 grew while it wrote the N²/2 join announcements; " +
    (settle > 0 ? "S s later = the same, read once more after S seconds without traffic; " : "") +
    "after a full GC = the same after HeapProfiler.collectGarbage through the server's inspector (what V8's memory reducer does by itself 30–60 s into idleness): what the members themselves take; " +
    "marginal = median RSS growth (within one server) at N minus the same at N/2 (separate fresh servers, same waits), per added member.");
}
// Exit 1 when any run failed or any line was lost, reordered, duplicated, echoed or stray.
const anyFailure = [...rows.values()].some((entry) => entry.failures.length > 0 ||
  entry.phases.some((phase) => phase.type === "phase" && (Number(phase.received) !== Number(phase.expected) ||
    ["reordered", "duplicates", "echoed", "strays", "unexpectedLines", "disconnects"].some((key) => Number(phase[key]) > 0))));
process.exitCode = anyFailure ? 1 : 0;

// ---------------------------------------------------------------------------------------
// Helpers.

/** Polls `file` until it holds a whole first line (or the process exits). */
async function firstLineOf(file: string, exited: Promise<unknown>): Promise<string> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 60_000; // firstLine() gives up earlier; this only ends the polling
  while (Date.now() < deadline) {
    const text = readFileSync(file, "utf8");
    const newline = text.indexOf("\n");
    if (newline !== -1) return text.slice(0, newline);
    if (gone) throw new Error(`the server exited before printing its address${text ? `: "${text}"` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error("no first line from the server");
}

function race<T>(promise: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms)))]).finally(() => clearTimeout(timer));
}

function openFileLimits(): [number, number] {
  try {
    const match = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync("/proc/self/limits", "utf8"));
    if (match) return [Number(match[1]) || Infinity, Number(match[2]) || Infinity];
  } catch {
    // not Linux: assume the limits are fine, the joins would fail loudly otherwise
  }
  return [Infinity, Infinity];
}

/** The last commit of `file`, with "+ uncommitted changes" when the working copy differs. */
function gitVersion(file: string): string {
  try {
    const commit = execFileSync("git", ["log", "-1", "--format=%h", "--", file], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", file], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    return `${commit || "no commit"}${dirty ? " + uncommitted changes" : ""}`;
  } catch {
    return "unknown version";
  }
}

function median(values: unknown[]): number | null {
  const numbers = values.filter((value): value is number => typeof value === "number" && Number.isFinite(value)).sort((a, b) => a - b);
  if (numbers.length === 0) return null;
  const middle = numbers.length >> 1;
  return numbers.length % 2 ? numbers[middle]! : (numbers[middle - 1]! + numbers[middle]!) / 2;
}

function problems(record: Json): string {
  const parts: string[] = [];
  for (const key of ["lost", "reordered", "duplicates", "echoed", "strays", "unexpectedLines", "disconnects"]) {
    if (Number(record[key]) > 0) parts.push(`${key} ${record[key]}`);
  }
  if (Array.isArray(record.unexpectedSamples) && record.unexpectedSamples.length > 0) parts.push(`e.g. ${record.unexpectedSamples[0]}`);
  return parts.length > 0 ? ` — ${parts.join(", ")}` : "";
}

function progress(text: string) {
  console.error(`bench: ${text}`);
}

function fixed(value: unknown, digits: number): string {
  return typeof value === "number" ? value.toFixed(digits) : "?";
}
function group(value: number): string {
  return value.toLocaleString("en-US");
}
function mib(value: unknown): string {
  return typeof value === "number" ? `${(value / 1024).toFixed(1)} MiB` : "?";
}
function kib(value: unknown): string {
  return typeof value === "number" ? `${value.toFixed(1)} KiB` : "?";
}
function ms(value: unknown): string {
  return typeof value === "number" ? `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms` : "–";
}
function percent(value: number | null): string {
  return value === null ? "?" : `${Math.round(value * 100)}%`;
}
function rateText(value: unknown): string {
  if (typeof value !== "number") return "–";
  return value >= 1e6 ? `${(value / 1e6).toFixed(2)} M/s` : `${(value / 1e3).toFixed(0)} k/s`;
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) fail(`invalid --${name} '${text}': expected a whole number from ${min} to ${max}`);
  return value;
}

function fail(message: string): never {
  console.error(`bench: ${message} (see --help)`);
  process.exit(2);
}
