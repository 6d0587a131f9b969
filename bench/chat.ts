// bench/chat.ts — the chat room benchmark (`npm run bench:chat`): our Q8 server beside the
// lab's threaded Python design and ngIRCd (a C IRC daemon), in one run, on this machine.
//
// The load comes from ../shared/bench/chatbench.c, a C generator (epoll, one thread) that
// checks every delivery (sender, never echoed, order per sender) and keeps up with ~20 M
// deliveries/s on one core, so the server, not the generator, is the limit. It is copied
// into .cache/bench (git-ignored; ../shared may be read-only) and built there with `make`.
//
// Workloads (in each run a fresh server per workload and server, servers in rotating order):
//   pair    2 members, 1 sender, one message in flight (--window 1): the cost of ONE message.
//           Twice: server and generator pinned to one core, then to two (on this VM a wakeup
//           across cores costs more than the message; unpinned, the scheduler decides).
//   paced   N = 100 and 500 members, 10 senders x 20 lines/s: latency in a busy classroom
//   full    N = 500, 10 senders at full speed: throughput
//   idle    N = 1000 members log in and do nothing: the server's RSS per member
// Server CPU per delivery = the server's CPU time (/proc, all its threads) / deliveries.
// Ours and Python's print every message, one line at a time, to a file (PYTHONUNBUFFERED=1
// for Python); ngIRCd logs no messages.
//
//   $ npm run bench:chat                       # 3 runs, medians; about 6 minutes
//   $ npm run bench:chat -- --quick            # 1 run, short workloads: does it all work?
//   $ npm run bench:chat -- --workloads pair --also lean=.cache/lean.ts   # an idea, beside
//
// Progress goes to stderr, the Markdown table to stdout, every generator record to --out.

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const usage = `Usage: npm run bench:chat -- [options]
  --runs K          runs of every workload and server; the table shows medians (default 3)
  --quick           1 run, short workloads (about a minute): to see that everything works
  --servers LIST    ours, python, ngircd (default: all three)
  --workloads LIST  pair, paced, full, idle (default: all)
  --also NAME=FILE  one more TypeScript server, run like ours (repeatable): side by side
  --node-options S  extra node options for our servers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"
  --shared DIR      where chatbench.c and the reference servers are (default ../shared/bench)
  --out FILE        append every generator record (one JSON line each) to FILE
  --timeout S       bound on each generator run, in seconds (default 120)
  --help            show this help`;

const values = flags();
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const quick = values.quick;
const runs = quick ? 1 : Number(values.runs);
const timeout = Number(values.timeout);
if (!Number.isInteger(runs) || runs < 1 || !(timeout > 0)) fail("--runs, --timeout: a number", 2);
const nodeOptions = values["node-options"].split(" ").filter((option) => option !== "");

// ---------------------------------------------------------------------------------------
// The generator and the reference servers, copied and built in .cache/bench.

const cache = path.join(ROOT, ".cache", "bench");
const generator = path.join(cache, "chatbench");
if (fs.existsSync(path.join(values.shared, "chatbench.c"))) {
  fs.mkdirSync(cache, { recursive: true });
  for (const file of ["chatbench.c", "Makefile", "py_chat_server.py", "ngircd.conf"]) {
    const from = path.join(values.shared, file);
    const to = path.join(cache, file);
    const same = fs.existsSync(to) && fs.readFileSync(from, "utf8") === fs.readFileSync(to, "utf8");
    if (!same) fs.cpSync(from, to); // a new time stamp: make rebuilds
  }
  const compiler = process.env.CC ?? "cc";
  if (installed(compiler, ["--version"])) {
    execFileSync("make", ["-s", "-C", cache, "chatbench", `CC=${compiler}`], { stdio: "inherit" });
  } else note(`no C compiler (${compiler}; apt-get install gcc): using the chatbench built before`);
} else note(`no chatbench.c in ${values.shared} (see --shared): using the chatbench built before`);
if (!fs.existsSync(generator)) fail(`no load generator (${generator}): nothing to measure`, 1);

// A lab-protocol server takes --port 0 and names its port in its first line; ngIRCd (irc)
// is given a free port in a copy of its config, and is ready when a connection succeeds.
type Server = { name: string; argv: (port: number) => string[]; env?: NodeJS.ProcessEnv;
  irc?: boolean };
const scratch = fs.mkdtempSync(path.join(tmpdir(), "bench-chat-"));
const servers: Server[] = [];
for (const name of values.servers.split(",")) {
  if (name === "ours") servers.push({ name, argv: typeScript("q8/Chat_Server.ts") });
  else if (name === "python") {
    // The interpreter itself, not a wrapper script (pyenv's): its PID is then the server's.
    const found = spawnSync("python3", ["-c", "import sys; print(sys.executable)"]);
    const python = String(found.stdout).trim();
    const script = path.join(cache, "py_chat_server.py");
    if (found.status === 0) {
      servers.push({ name, argv: (port) => [python, script, "--port", `${port}`, "--nodelay"],
        env: { ...process.env, PYTHONUNBUFFERED: "1" } }); // one write per log line, like ours
    } else note("python3 not found: the threaded Python server is left out");
  } else if (name === "ngircd") {
    if (installed("ngircd", ["--version"])) servers.push({ name, argv: ngircd, irc: true });
    else note("ngIRCd is not installed (apt-get install ngircd): its column is left out");
  } else fail(`unknown server '${name}' (ours, python, ngircd)`, 2);
}
for (const also of values.also) {
  const [name, file] = also.split("=");
  if (!name || !file || !fs.existsSync(file)) fail(`--also ${also}: expected NAME=FILE`, 2);
  servers.push({ name, argv: typeScript(path.resolve(file)) });
}

function typeScript(file: string) {
  return (port: number) =>
    [process.execPath, ...nodeOptions, "--import", "tsx", file, "--port", `${port}`];
}
function ngircd(port: number): string[] {
  const config = path.join(scratch, `ngircd-${port}.conf`);
  const text = fs.readFileSync(path.join(cache, "ngircd.conf"), "utf8");
  fs.writeFileSync(config, text.replace(/Ports = \d+/, `Ports = ${port}`));
  return ["ngircd", "-n", "-f", config];
}

// ---------------------------------------------------------------------------------------
// The workloads: chatbench's arguments, and the cores the two processes are pinned to.

type Workload = { name: string; kind: string; args: string[]; warm?: string[][];
  serverCpu?: number; generatorCpu?: number };
const size = (full: number, small: number) => String(quick ? small : full);
// The pair is measured warm: two unreported runs first, on connections of their own. V8
// compiles the hot code on worker threads (the server's CPU too) for ~0.2 s into each of
// the first two runs ("wrong map" for the second run's new sockets), not in the third.
const pairArgs = (messages: string) =>
  ["--clients", "2", "--senders", "1", "--window", "1", "--messages", messages];
const pair = { kind: "pair", args: pairArgs(size(20_000, 5_000)),
  warm: [pairArgs("5000"), pairArgs("5000")] };
const paced = (n: number) => ["--clients", `${n}`, "--senders", "10", "--rate", "20",
  "--messages", size(100, 40), "--warmup", "20"];
const workloads: Workload[] = [];
const wanted = values.workloads.split(",");
if (wanted.includes("pair") && installed("taskset", ["-V"]) && availableParallelism() >= 2) {
  workloads.push({ name: "pair, one core", ...pair, serverCpu: 1, generatorCpu: 1 });
  workloads.push({ name: "pair, two cores", ...pair, serverCpu: 1, generatorCpu: 0 });
} else if (wanted.includes("pair")) workloads.push({ name: "pair", ...pair });
for (const n of wanted.includes("paced") ? [100, 500] : []) {
  workloads.push({ name: `paced, N = ${n}`, kind: "paced", args: paced(n) });
}
if (wanted.includes("full")) {
  workloads.push({ name: "full speed, N = 500", kind: "full", args: ["--clients", "500",
    "--senders", "10", "--messages", size(500, 200), "--warmup", "100"] });
}
if (wanted.includes("idle")) {
  workloads.push({ name: `idle, N = ${size(1000, 500)}`, kind: "idle",
    args: ["--clients", size(1000, 500), "--messages", "0"] });
}
if (workloads.length === 0 || servers.length === 0) fail("nothing to measure (see --help)", 2);

// ---------------------------------------------------------------------------------------
// One session: a fresh server, one generator run against it, the server stopped. Every
// child is stopped when we leave, however we leave.

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) killGroup(child, "SIGKILL");
  fs.rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    note(`${signal}: stopping`);
    process.exit(130);
  });
}

type Json = Record<string, any>; // a chatbench record
type Result = { server: string; workload: Workload; record?: Json; error?: string };

async function session(server: Server, workload: Workload, run: number): Promise<Result> {
  const log = path.join(scratch, `${server.name}.log`);
  const pin = (cpu?: number) => (cpu === undefined ? [] : ["taskset", "-c", `${cpu}`]);
  const fixedPort = server.irc ? await freePort() : undefined;
  const argv = [...pin(workload.serverCpu), ...server.argv(fixedPort ?? 0)];
  // The server's console goes to a file: a pipe that we read would make it wait for us.
  const output = [fs.openSync(log, "w"), fs.openSync(`${log}.err`, "w")];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT, env: server.env, detached: true, // its own process group: stopped as a whole
    stdio: ["ignore", ...output],
  });
  output.forEach((fd) => fs.closeSync(fd)); // the child has its own copies
  children.add(child);
  child.on("error", () => {}); // a missing program shows up as an early exit below
  try {
    const port = await listening(child, fixedPort, log);
    const common = [...pin(workload.generatorCpu), generator, "--port", `${port}`, "--server-pid",
      `${child.pid}`, "--proto", server.irc ? "irc" : "lab", "--timeout", `${timeout}`];
    for (const args of workload.warm ?? []) {
      const warm = await runGenerator([...common, ...args]);
      if (!warm.ok) throw new Error(`in the warm-up: ${warm.error}`);
    }
    const record = await runGenerator([...common, ...workload.args, "--label", server.name,
      "--tag", `workload=${workload.name}`, "--tag", `run=${run}`,
      ...(values.out === undefined ? [] : ["--out", path.resolve(values.out)])]);
    return { server: server.name, workload, record, error: record.ok ? undefined : record.error };
  } catch (error) {
    return { server: server.name, workload, error: (error as Error).message };
  } finally {
    await stop(child);
  }
}

/** The server's port, once it listens (at most 20 s). */
async function listening(child: ChildProcess, port: number | undefined, log: string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited: ${tail(`${log}.err`) || tail(log)}`);
    }
    if (port === undefined) {
      const lines = fs.readFileSync(log, "utf8").split("\n");
      if (lines.length > 1) { // a whole first line
        const found = /(?:\d+\.\d+\.\d+\.\d+|localhost|\[[0-9a-f:]*\]):(\d+)/i.exec(lines[0]!);
        if (found === null) throw new Error(`no HOST:PORT in the first line: ${lines[0]}`);
        return Number(found[1]);
      }
    } else {
      const socket = net.connect(port, "127.0.0.1");
      const connected = await Promise.race([once(socket, "connect").then(() => true, () => false),
        new Promise((resolve) => setTimeout(resolve, 1000, false))]);
      socket.destroy();
      if (connected) return port;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the server did not listen within 20 s");
}

/** Runs chatbench to its JSON record; its own --timeout bounds it, ours 10 s later. */
async function runGenerator(argv: string[]): Promise<Json> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"],
    detached: true });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), (timeout + 10) * 1000);
  const [code] = await once(child, "close");
  clearTimeout(timer);
  children.delete(child);
  const last = stdout.trim().split("\n").pop()!;
  if (!last.startsWith("{")) throw new Error(`chatbench exited with ${code}: ${stderr.trim()}`);
  return JSON.parse(last) as Json;
}

/** SIGTERM to the server's process group; SIGKILL if it is still there 5 s later. */
async function stop(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    killGroup(child, "SIGTERM");
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  children.delete(child);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {} // already gone
}

/** A port that was free a moment ago, for ngIRCd. */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as net.AddressInfo).port;
  probe.close();
  await once(probe, "close");
  return port;
}

// ---------------------------------------------------------------------------------------
// The table: medians of the runs (lowest–highest), one column per server, and the goal.

type Value = (record: Json) => number;
const p50: Value = (record) => record.lat_ms.p50;
const p99: Value = (record) => record.lat_ms.p99;
const cpu: Value = (record) => (record.server_cpu_pct / 100 / record.deliveries_per_s) * 1e6;
const rate: Value = (record) => record.deliveries_per_s / 1e6;
const rss: Value = (record) => record.rss_per_conn_kb;
const ms = (x: number) => (x < 1 ? x.toFixed(3) : x.toFixed(1));
const us = (x: number) => x.toFixed(x < 1 ? 2 : 1);

/** The values of one metric over the runs that worked. */
function samples(workload: Workload, server: string, value: Value): number[] {
  return results.filter((r) => r.workload === workload && r.server === server && !r.error)
    .map((r) => value(r.record!)).filter((x) => Number.isFinite(x));
}
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
const medianOf = (workload: Workload, server: string, value: Value) =>
  median(samples(workload, server, value));
function cell(workload: Workload, server: string, value: Value, format: (x: number) => string) {
  const xs = samples(workload, server, value);
  if (xs.length === 0) return "–";
  const range = xs.length > 1 ? ` (${format(Math.min(...xs))}–${format(Math.max(...xs))})` : "";
  return `${format(median(xs))}${range}`;
}
/** "goal — met" or "goal — not met"; only the goal when a figure is missing. */
function goal(text: string, workload: Workload, value: Value, limit: number, atMost = true) {
  const ours = medianOf(workload, "ours", value);
  if (Number.isNaN(ours) || Number.isNaN(limit)) return text;
  return `${text} — ${(atMost ? ours <= limit : ours >= limit) ? "met" : "not met"}`;
}

type Row = { label: string; cell: (w: Workload, server: string) => string;
  goal: (w: Workload) => string };
const latencyRow: Row = {
  label: "p50 / p99 latency, ms",
  cell: (w, server) => samples(w, server, p50).length === 0 ? "–"
    : `${ms(medianOf(w, server, p50))} / ${cell(w, server, p99, ms)}`,
  goal: (w) => w.kind === "pair" ? goal("p99 ≤ 0.1 ms", w, p99, 0.1)
    : goal("p99 ≤ Python's", w, p99, medianOf(w, "python", p99)),
};
const cpuRow: Row = {
  label: "server CPU per delivery, µs",
  cell: (w, server) => cell(w, server, cpu, us),
  goal: (w) => w.kind === "pair" ? goal("≤ Python's", w, cpu, medianOf(w, "python", cpu)) : "–",
};
const rateRow: Row = {
  label: "deliveries/s",
  cell: (w, server) => cell(w, server, rate, (x) => `${x.toFixed(2)} M`),
  goal: (w) => goal("≥ 10 × ngIRCd", w, rate, 10 * medianOf(w, "ngircd", rate), false),
};
const rssRow: Row = {
  label: "server RSS per idle member, KiB",
  cell: (w, server) => cell(w, server, rss, (x) => x.toFixed(1)),
  goal: () => "–",
};
const rowsOf: Record<string, Row[]> = { pair: [latencyRow, cpuRow], paced: [latencyRow, cpuRow],
  full: [rateRow, cpuRow], idle: [rssRow] };

function table(): string {
  const names = servers.map((server) => server.name);
  const load = (l: number[]) => l[0]!.toFixed(2);
  const lines = [
    `Chat benchmark, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC: ` +
      `${runs} run(s), medians (lowest–highest); load average ${load(loadBefore)} before, ` +
      `${load(loadavg())} after; ${availableParallelism()} CPUs; node ${process.version}`,
    "",
    `| workload | ${names.join(" | ")} | goal |`,
    `| --- | ${names.map(() => "---:").join(" | ")} | --- |`,
  ];
  for (const w of workloads) {
    for (const row of rowsOf[w.kind]!) {
      const cells = names.map((name) => row.cell(w, name));
      lines.push(`| ${w.name}: ${row.label} | ${cells.join(" | ")} | ${row.goal(w)} |`);
    }
  }
  for (const failed of results.filter((result) => result.error !== undefined)) {
    lines.push("", `- failed: ${failed.server}, ${failed.workload.name}: ${failed.error}`);
  }
  return lines.join("\n");
}

/** One line of progress per session. */
function summary(result: Result): string {
  if (result.error !== undefined) return `FAILED: ${result.error}`;
  const record = result.record!;
  const load = `load ${loadavg()[0]!.toFixed(2)}`;
  if (result.workload.kind === "idle") return `${us(rss(record))} KiB per member (${load})`;
  return `${Math.round(record.deliveries_per_s)} deliveries/s, p50 ${ms(p50(record))} ` +
    `p99 ${ms(p99(record))} ms, server CPU ${Math.round(record.server_cpu_pct)}% = ` +
    `${cpu(record).toFixed(2)} µs/delivery (${load})`;
}

// ---------------------------------------------------------------------------------------

function flags() {
  try {
    return parseArgs({
      options: {
        runs: { type: "string", default: "3" },
        quick: { type: "boolean", default: false },
        servers: { type: "string", default: "ours,python,ngircd" },
        workloads: { type: "string", default: "pair,paced,full,idle" },
        also: { type: "string", multiple: true, default: [] },
        "node-options": { type: "string", default: "" },
        shared: { type: "string", default: path.resolve(ROOT, "../shared/bench") },
        out: { type: "string" },
        timeout: { type: "string", default: "120" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (error) {
    fail(`${(error as Error).message.split(". ")[0]} (see --help)`, 2);
  }
}
function installed(program: string, args: string[]): boolean {
  return spawnSync(program, args, { stdio: "ignore" }).error === undefined;
}
function tail(file: string): string {
  if (!fs.existsSync(file)) return "";
  return fs.readFileSync(file, "utf8").trim().split("\n").slice(-3).join(" | ");
}
function note(text: string) {
  console.error(`bench: ${text}`);
}
function fail(text: string, code: number): never {
  note(text);
  process.exit(code);
}

// ---------------------------------------------------------------------------------------
// The run: every workload for every server, `runs` times over, interleaved.

const results: Result[] = [];
const startedAt = new Date();
const loadBefore = loadavg();
note(`${runs} run(s) x ${workloads.length} workloads x ${servers.length} servers; ` +
  `load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
for (let run = 1; run <= runs; run++) {
  for (const workload of workloads) {
    // The servers' order rotates, so that none always runs first (or last) after a change.
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + run - 1) % servers.length]!;
      const result = await session(server, workload, run);
      results.push(result);
      note(`run ${run}/${runs} ${workload.name}, ${server.name}: ${summary(result)}`);
    }
  }
}
console.log(table());
