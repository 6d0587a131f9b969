// bench/chat.ts — the chat room benchmark (`npm run bench:chat`): our Q8 server beside the
// lab's threaded Python design and ngIRCd (a C IRC daemon), in one run, on this machine.
//
// The load comes from ../shared/bench/chatbench.c, a C generator (epoll, one thread) that
// checks every delivery (sender, never echoed, order per sender) and verifies ~20 M
// deliveries/s on one core, so the server, not the generator, is the limit. It is copied
// into .cache/bench (git-ignored; ../shared may be read-only) and built there with `make`.
//
// Workloads (each run: a fresh server per workload and server, servers in rotating order):
//   pair       2 members, 1 sender, one message in flight (--window 1): the cost of ONE
//              message. Run twice: server and generator pinned to one core, then to two
//              cores (on this VM a wakeup across cores costs more than the message itself).
//   paced      N = 100 and 500, 10 senders x 20 lines/s: latency in a busy classroom
//   full       N = 500, 10 senders at full speed: throughput
//   idle       N = 1000 members log in and do nothing: server RSS per member
// Server CPU per message = the server's CPU time (from /proc) / deliveries. Every server
// logs every message: ours and Python's write one line per message to a file as it goes
// (PYTHONUNBUFFERED=1), ngIRCd logs no messages at all.
//
//   $ npm run bench:chat                      # 3 runs, medians; about 5 minutes
//   $ npm run bench:chat -- --quick           # 1 run, short workloads: a smoke test
//   $ npm run bench:chat -- --workloads pair --also lean=bench/scratch/lean.ts
//
// Progress goes to stderr, the Markdown table to stdout, every generator record to --out.

import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const quick = values.quick;
const runs = quick ? 1 : Number(values.runs);
const timeout = Number(values.timeout);
if (!Number.isInteger(runs) || runs < 1 || !(timeout > 0)) fail("--runs and --timeout take positive numbers", 2);
const wantedWorkloads = values.workloads.split(",");
const nodeOptions = values["node-options"].split(" ").filter((option) => option !== "");

// ---------------------------------------------------------------------------------------
// The generator and the reference servers, copied and built in .cache/bench.

const cache = path.join(ROOT, ".cache", "bench");
const generator = path.join(cache, "chatbench");
const source = path.join(values.shared, "chatbench.c");
if (existsSync(source)) {
  mkdirSync(cache, { recursive: true });
  // Copy what changed, then let make decide whether to rebuild.
  for (const file of ["chatbench.c", "Makefile", "py_chat_server.py", "ngircd.conf"]) {
    const from = path.join(values.shared, file);
    const to = path.join(cache, file);
    if (!existsSync(to) || readFileSync(from, "utf8") !== readFileSync(to, "utf8")) cpSync(from, to);
  }
  const compiler = process.env.CC ?? "cc";
  if (spawnSync(compiler, ["--version"]).error === undefined) {
    execFileSync("make", ["-s", "-C", cache, "chatbench", `CC=${compiler}`], { stdio: "inherit" });
  } else {
    note(`no C compiler (${compiler}; apt-get install gcc): using the chatbench built before, if any`);
  }
} else {
  note(`${source} not found (--shared DIR): using the chatbench built before, if any`);
}
if (!existsSync(generator)) fail(`no load generator at ${generator}: nothing can be measured`, 1);

// A lab-protocol server takes --port 0 and names its port in its first line; ngIRCd (irc) is
// given a free port and asked for it until it answers.
type Server = { name: string; argv: (port: number) => string[]; env?: NodeJS.ProcessEnv; irc?: boolean };
const ourServer = (file: string) => (port: number) =>
  [process.execPath, ...nodeOptions, "--import", "tsx", file, "--port", String(port)];
const servers: Server[] = [];
for (const name of values.servers.split(",")) {
  if (name === "ours") servers.push({ name: "ours", argv: ourServer("q8/Chat_Server.ts") });
  else if (name === "python") {
    // The interpreter itself, not a wrapper script (pyenv's), so that its PID is the server's.
    const python = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" });
    if (python.status === 0) {
      servers.push({
        name: "python", argv: (port) => [python.stdout.trim(), path.join(cache, "py_chat_server.py"), "--port", String(port), "--nodelay"],
        env: { ...process.env, PYTHONUNBUFFERED: "1" }, // one write per log line, as ours
      });
    } else note("python3 not found: the threaded Python server is left out");
  } else if (name === "ngircd") {
    if (installed("ngircd", ["--version"])) servers.push({ name: "ngircd", argv: ngircd, irc: true });
    else note("ngIRCd not installed (apt-get install ngircd): its column is left out");
  } else fail(`unknown server '${name}' (ours, python, ngircd)`, 2);
}
for (const also of values.also) {
  const [name, file] = also.split("=");
  if (!name || !file || !existsSync(path.resolve(ROOT, file))) fail(`--also ${also}: expected NAME=FILE of a server`, 2);
  servers.push({ name, argv: ourServer(file) });
}

// ngIRCd has no --port flag: a copy of its config per run names the port.
const scratch = mkdtempSync(path.join(tmpdir(), "bench-chat-"));
function ngircd(port: number): string[] {
  const config = path.join(scratch, `ngircd-${port}.conf`);
  writeFileSync(config, readFileSync(path.join(cache, "ngircd.conf"), "utf8").replace(/Ports = \d+/, `Ports = ${port}`));
  return ["ngircd", "-n", "-f", config];
}

// ---------------------------------------------------------------------------------------
// The workloads: chatbench arguments, and where the two processes may run.

type Workload = { name: string; kind: string; args: string[]; serverCpu?: number; generatorCpu?: number };
const size = (full: number, small: number) => String(quick ? small : full);
// The pair's warm-up is long: V8 compiles the hot code while it runs (on its worker threads,
// counted as the server's CPU), and 500 lines left that in the measured part (~60 µs/line).
const pair = ["--clients", "2", "--senders", "1", "--window", "1", "--messages", size(20_000, 5_000),
  "--warmup", "5000"];
const paced = (n: number) => ["--clients", String(n), "--senders", "10", "--rate", "20",
  "--messages", size(100, 40), "--warmup", "20"];
const workloads: Workload[] = [];
if (wantedWorkloads.includes("pair")) {
  // Pinned with taskset: otherwise the scheduler's choice decides the result (see the header).
  if (installed("taskset", ["-V"]) && availableParallelism() >= 2) {
    workloads.push({ name: "pair, one core", kind: "pair", args: pair, serverCpu: 1, generatorCpu: 1 });
    workloads.push({ name: "pair, two cores", kind: "pair", args: pair, serverCpu: 1, generatorCpu: 0 });
  } else workloads.push({ name: "pair", kind: "pair", args: pair });
}
if (wantedWorkloads.includes("paced")) {
  for (const n of [100, 500]) workloads.push({ name: `paced, N = ${n}`, kind: "paced", args: paced(n) });
}
if (wantedWorkloads.includes("full")) {
  workloads.push({ name: "full speed, N = 500", kind: "full",
    args: ["--clients", "500", "--senders", "10", "--messages", size(500, 200), "--warmup", "100"] });
}
if (wantedWorkloads.includes("idle")) {
  workloads.push({ name: `idle, N = ${size(1000, 500)}`, kind: "idle", args: ["--clients", size(1000, 500), "--messages", "0"] });
}
if (workloads.length === 0 || servers.length === 0) fail("nothing to measure (see --workloads and --servers)", 2);

// ---------------------------------------------------------------------------------------
// Every child is stopped when we leave, however we leave.

const children = new Set<ChildProcess>();
function stopAll() {
  for (const child of children) killGroup(child, "SIGKILL");
}
process.on("exit", () => {
  stopAll();
  rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    note(`${signal}: stopping`);
    process.exit(130);
  });
}


/** One fresh server, one generator run against it, the server stopped. */
async function session(server: Server, workload: Workload, run: number): Promise<Result> {
  const log = path.join(scratch, `${server.name}.log`);
  const pin = (cpu: number | undefined) => (cpu === undefined ? [] : ["taskset", "-c", String(cpu)]);
  const fixedPort = server.irc ? await freePort() : undefined;
  const argv = [...pin(workload.serverCpu), ...server.argv(fixedPort ?? 0)];
  // The server's console goes to a file, as a student's terminal would take it: a pipe that we
  // read would make the server wait for us.
  const output = [openSync(log, "w"), openSync(`${log}.err`, "w")];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT, env: server.env, detached: true, // its own process group: stopped as a whole
    stdio: ["ignore", ...output],
  });
  output.forEach((fd) => closeSync(fd)); // the child has its own copies
  children.add(child);
  child.on("error", () => {}); // a missing program shows up as an early exit below
  try {
    const port = await listening(child, fixedPort, log);
    const args = [...pin(workload.generatorCpu), generator, "--port", String(port), "--server-pid", String(child.pid),
      "--proto", server.irc ? "irc" : "lab", "--timeout", String(timeout), ...workload.args,
      "--label", server.name, "--tag", `workload=${workload.name}`, "--tag", `run=${run}`,
      ...(values.out ? ["--out", path.resolve(values.out)] : [])];
    const output = await runGenerator(args);
    const record = JSON.parse(output.trim().split("\n").pop() ?? "") as Json;
    return { server: server.name, workload, record, error: record.ok ? undefined : String(record.error) };
  } catch (error) {
    return { server: server.name, workload, error: (error as Error).message };
  } finally {
    await stop(child);
  }
}

/**
 * The server's port, once it listens (at most 20 s): the HOST:PORT of its first line, or, for
 * a server given `port`, as soon as a connection to it succeeds.
 */
async function listening(child: ChildProcess, port: number | undefined, log: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited: ${tail(`${log}.err`) || tail(log)}`);
    }
    if (port === undefined) {
      const first = readFileSync(log, "utf8").split("\n");
      if (first.length > 1) {
        const found = /(?:\d+\.\d+\.\d+\.\d+|localhost|\[[0-9a-f:]*\]):(\d+)/i.exec(first[0]!);
        if (found === null) throw new Error(`no HOST:PORT in the server's first line: ${first[0]}`);
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

/** Runs chatbench; its own --timeout bounds it, ours (10 s later) bounds it again. */
async function runGenerator(args: string[]): Promise<string> {
  const child = spawn(args[0]!, args.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), (timeout + 10) * 1000);
  const [code] = await once(child, "close");
  clearTimeout(timer);
  children.delete(child);
  if (!stdout.includes("{")) throw new Error(`the generator exited with ${code}: ${stderr.trim().slice(-300)}`);
  return stdout;
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
// The table: medians of the runs, ours / python / ngircd / the goal.

function table(): string {
  const names = servers.map((server) => server.name);
  const lines = [
    `Chat benchmark, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC, ${runs} run(s), medians; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after; ` +
      `${availableParallelism()} CPUs; node ${process.version}; generator chatbench (C)`,
    "",
    `| workload | ${names.join(" | ")} | goal |`,
    `| --- | ${names.map(() => "---:").join(" | ")} | --- |`,
  ];
  for (const workload of workloads) {
    const metrics = workload.kind === "pair" ? [latency, cpuPerMessage]
      : workload.kind === "paced" ? [latency, cpuPerMessage]
      : workload.kind === "full" ? [throughput, cpuPerMessage] : [rssPerMember];
    for (const metric of metrics) {
      const cells = names.map((name) => metric.cell(workload, name));
      lines.push(`| ${workload.name}: ${metric.label} | ${cells.join(" | ")} | ${metric.goal(workload)} |`);
    }
  }
  const failures = results.filter((result) => result.error !== undefined);
  for (const failure of failures) lines.push("", `- failed: ${failure.server}, ${failure.workload.name}: ${failure.error}`);
  return lines.join("\n");
}

/** The values of one metric over the runs that worked. */
function samples(workload: Workload, server: string, value: (record: Json) => number): number[] {
  return results.filter((result) => result.workload === workload && result.server === server && !result.error)
    .map((result) => value(result.record!)).filter((x) => Number.isFinite(x));
}
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
/** "median (lowest–highest)" with more than one run, "–" with none. */
function cellOf(xs: number[], format: (x: number) => string): string {
  if (xs.length === 0) return "–";
  const range = xs.length > 1 ? ` (${format(Math.min(...xs))}–${format(Math.max(...xs))})` : "";
  return `${format(median(xs))}${range}`;
}
const ms = (x: number) => (x < 1 ? x.toFixed(3) : x.toFixed(1));
const p99 = (record: Json) => record.lat_ms.p99 as number;
const perMessage = (record: Json) => (record.server_cpu_pct / 100 / record.deliveries_per_s) * 1e6;
const ours = (workload: Workload, value: (record: Json) => number) => median(samples(workload, "ours", value));
const other = (workload: Workload, server: string, value: (record: Json) => number) => median(samples(workload, server, value));
/** " — met" or " — not met"; nothing when a figure is missing. */
const met = (value: number, limit: number, below: boolean) =>
  Number.isNaN(value) || Number.isNaN(limit) ? "" : (below ? value <= limit : value >= limit) ? " — met" : " — not met";

const latency = {
  label: "p50 / p99 latency, ms",
  cell: (workload: Workload, server: string) => {
    const p50 = samples(workload, server, (record) => record.lat_ms.p50);
    return p50.length === 0 ? "–" : `${ms(median(p50))} / ${cellOf(samples(workload, server, p99), ms)}`;
  },
  goal: (workload: Workload) => {
    if (workload.kind === "pair") return `p99 ≤ 0.1 ms${met(ours(workload, p99), 0.1, true)}`;
    return `p99 ≤ Python's${met(ours(workload, p99), other(workload, "python", p99), true)}`;
  },
};
const cpuPerMessage = {
  label: "server CPU per delivery, µs",
  cell: (workload: Workload, server: string) =>
    cellOf(samples(workload, server, perMessage), (x) => x.toFixed(x < 1 ? 2 : 1)),
  goal: (workload: Workload) => {
    if (workload.kind !== "pair") return "–";
    return `≤ Python's${met(ours(workload, perMessage), other(workload, "python", perMessage), true)}`;
  },
};
const throughput = {
  label: "deliveries/s",
  cell: (workload: Workload, server: string) =>
    cellOf(samples(workload, server, (record) => record.deliveries_per_s / 1e6), (x) => `${x.toFixed(2)} M`),
  goal: (workload: Workload) => {
    const rate = (record: Json) => record.deliveries_per_s as number;
    return `≥ 10 × ngIRCd${met(ours(workload, rate), 10 * other(workload, "ngircd", rate), false)}`;
  },
};
const rssPerMember = {
  label: "server RSS per idle member, KiB",
  cell: (workload: Workload, server: string) =>
    cellOf(samples(workload, server, (record) => record.rss_per_conn_kb), (x) => x.toFixed(1)),
  goal: () => "–",
};

function summary(result: Result): string {
  if (result.error !== undefined) return `FAILED: ${result.error}`;
  const record = result.record!;
  const load = `load ${loadavg()[0]!.toFixed(2)}`;
  if (result.workload.kind === "idle") return `${record.rss_per_conn_kb.toFixed(1)} KiB per member (${load})`;
  return `${Math.round(record.deliveries_per_s)} deliveries/s, p50 ${ms(record.lat_ms.p50)} p99 ${ms(p99(record))} ms, ` +
    `server CPU ${Math.round(record.server_cpu_pct)}% = ${perMessage(record).toFixed(2)} µs/delivery (${load})`;
}

// ---------------------------------------------------------------------------------------

function installed(program: string, args: string[]): boolean {
  return spawnSync(program, args, { stdio: "ignore" }).error === undefined;
}
function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-3).join(" | ") : "";
}
function note(text: string) {
  console.error(`bench: ${text}`);
}
function fail(text: string, code: number): never {
  note(text);
  process.exit(code);
}

// ---------------------------------------------------------------------------------------
// The run: every workload for every server, `runs` times over.

type Json = Record<string, any>; // a chatbench record
type Result = { server: string; workload: Workload; record?: Json; error?: string };
const results: Result[] = [];
const startedAt = new Date();
const loadBefore = loadavg();
note(`${runs} run(s) x ${workloads.length} workloads x ${servers.length} servers; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
for (let run = 1; run <= runs; run++) {
  for (const workload of workloads) {
    // Rotate the servers' order, so that none always runs first (or last) after a change.
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + run - 1) % servers.length]!;
      const result = await session(server, workload, run);
      results.push(result);
      note(`run ${run}/${runs} ${workload.name}, ${server.name}: ${summary(result)}`);
    }
  }
}
const loadAfter = loadavg();
console.log(table());
