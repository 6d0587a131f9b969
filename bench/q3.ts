// bench/q3.ts — the Q3 benchmark (`npm run bench:q3`): our date/time server against the
// template-style Python loop (../shared/bench/py_q3_server.py), side by side in one run.
//
// It builds the C load generator ../shared/bench/udpbench.c into .cache/bench (cc, or $CC),
// then, for each of --runs rounds, starts every server in turn (the order rotates each round),
// each with its stdout to a file of its own (every request is logged, by every server), and:
//   1. keeps --window requests in flight from 8 sockets for --seconds s (throughput and
//      latency under load), then one request at a time for --seconds s (unloaded latency);
//   2. reads the server's CPU time from /proc/PID/stat around each load (CPU per request);
//   3. stops it with SIGINT and counts its log lines against the replies it sent.
// It prints a Markdown table of the medians.
//
// Python's stdout to a file is block-buffered (8 KiB: one write() per ~100 lines) unless
// PYTHONUNBUFFERED is set, which makes print() issue a write() per piece (about 12 per
// request). Both are measured: "python" runs with PYTHONUNBUFFERED removed from its
// environment, "python -u" with PYTHONUNBUFFERED=1.
//
//   $ npm run bench:q3                                   # 3 rounds, ~2 minutes
//   $ npm run bench:q3 -- --runs 5 --seconds 6
//   $ npm run bench:q3 -- --node-files q3/UDP_Server.ts,.cache/bench/UDP_Server.before.ts

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { once } from "node:events";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const usage = `Usage: npm run bench:q3 -- [options]
  --runs K          rounds; the table shows medians (default 3)
  --seconds S       length of each load, in seconds (default 4)
  --window W        requests in flight in the loaded run (default 64)
  --servers LIST    node, python, python-u, comma-separated (default all three)
  --node-files F,G  TypeScript servers to run as "node" (default q3/UDP_Server.ts)
  --shared DIR      where udpbench.c and py_q3_server.py are (default ../shared/bench)
  --out DIR         where udpbench is built and the logs go (default .cache/bench)
  --help            show this help
Progress goes to stderr, the Markdown table to stdout. Server logs: DIR/logs/.
The C compiler is $CC, or cc.`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      seconds: { type: "string", default: "4" },
      window: { type: "string", default: "64" },
      servers: { type: "string", default: "node,python,python-u" },
      "node-files": { type: "string", default: "q3/UDP_Server.ts" },
      shared: { type: "string", default: path.resolve(ROOT, "..", "shared", "bench") },
      out: { type: "string", default: path.join(ROOT, ".cache", "bench") },
      help: { type: "boolean" },
    },
  }));
} catch (error) {
  console.error(`bench:q3: ${(error as Error).message.split(/\.\s/)[0]} (see --help)`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const OUT = path.resolve(values.out);
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const window = Number(values.window);
for (const [flag, value] of [["runs", runs], ["seconds", seconds], ["window", window]] as const) {
  if (!(value > 0)) {
    console.error(`bench:q3: --${flag} must be a positive number (see --help)`);
    process.exit(2);
  }
}

/** One server to measure: a label and the command that starts it on a free port. */
interface Server { label: string; argv: string[]; env: NodeJS.ProcessEnv }
const withoutUnbuffered = { ...process.env };
delete withoutUnbuffered.PYTHONUNBUFFERED;
const servers: Server[] = [];
for (const name of values.servers.split(",")) {
  if (name === "node") {
    for (const file of values["node-files"].split(",")) {
      servers.push({ label: `node ${file}`, env: process.env,
        argv: [process.execPath, "--import", "tsx", path.resolve(ROOT, file), "--port", "0"] });
    }
  } else if (name === "python" || name === "python-u") {
    servers.push({ label: name === "python" ? "python" : "python -u",
      env: name === "python" ? withoutUnbuffered : { ...process.env, PYTHONUNBUFFERED: "1" },
      argv: ["python3", path.join(OUT, "py_q3_server.py"), "--port", "0"] });
  } else {
    console.error(`bench:q3: unknown server '${name}' in --servers (node, python, python-u)`);
    process.exit(2);
  }
}

// The generator, built here: ../shared may be read-only.
mkdirSync(path.join(OUT, "logs"), { recursive: true });
for (const file of ["udpbench.c", "py_q3_server.py"]) {
  if (!existsSync(path.join(values.shared, file))) {
    console.error(`bench:q3: ${path.join(values.shared, file)} not found (see --shared)`);
    process.exit(1);
  }
  copyFileSync(path.join(values.shared, file), path.join(OUT, file));
}
const udpbench = path.join(OUT, "udpbench");
const compiler = process.env.CC ?? "cc";
const source = statSync(path.join(values.shared, "udpbench.c")).mtimeMs;
if (!existsSync(udpbench) || statSync(udpbench).mtimeMs < source) {
  try {
    execFileSync(compiler, ["-O2", "-Wall", "-o", udpbench, `${udpbench}.c`], { stdio: "pipe" });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    console.error(missing
      ? `bench:q3: no C compiler '${compiler}' to build udpbench.c (apt-get install gcc); nothing measured`
      : `bench:q3: ${compiler} could not build udpbench.c: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
    process.exit(1);
  }
}

// Every child we start is killed when we leave, however we leave.
const children = new Set<ChildProcess>();
const killChildren = () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
};
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

/** The CPU time (user + system) a process has used so far, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
}

interface Load { replies_per_s: number; replies: number; lost: number; bad: number; p50_ms: number; p99_ms: number }
interface Result { loaded: Load; single: Load; cpuPerRequest: number; logged: number; replies: number }

async function measure(server: Server, round: number): Promise<Result> {
  const name = server.label.replace(/[^\w.-]+/g, "_");
  const logFile = path.join(OUT, "logs", `${name}-${round}.log`);
  const out = openSync(logFile, "w");
  const err = openSync(`${logFile}.err`, "w");
  const child = spawn(server.argv[0]!, server.argv.slice(1), { cwd: ROOT, env: server.env, stdio: ["ignore", out, err] });
  children.add(child);
  try {
    let port = 0;
    for (let waited = 0; port === 0; waited += 50) {
      if (waited > 20000 || child.exitCode !== null) throw new Error(`${server.label} did not start; see ${logFile}.err`);
      await sleep(50);
      const match = /:(\d+)/.exec(readFileSync(logFile, "utf8").split("\n")[0] ?? "");
      if (match && readFileSync(logFile, "utf8").includes("\n")) port = Number(match[1]);
    }
    const load = async (inFlight: number, sockets: number): Promise<[Load, number]> => {
      const before = cpuSeconds(child.pid!);
      const args = [port, inFlight, seconds, sockets].map(String);
      const { stdout } = await promisify(execFile)(udpbench, args,
        { timeout: (seconds + 15) * 1000 }).catch((error) => error as { stdout: string }); // exit 1 = bad replies
      return [JSON.parse(stdout) as Load, cpuSeconds(child.pid!) - before];
    };
    const [loaded, loadedCpu] = await load(window, 8);
    const [single] = await load(1, 1);
    // SIGINT: Python flushes its buffered stdout on the KeyboardInterrupt, Node on its handler.
    const exited = once(child, "exit");
    child.kill("SIGINT");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
    // The first line is the start-up line; the Node server also prints one when it stops.
    const lines = readFileSync(logFile, "utf8").split("\n").filter((line) => /SEND_(DATE|TIME)/.test(line));
    return { loaded, single, cpuPerRequest: loadedCpu / loaded.replies, logged: lines.length,
      replies: loaded.replies + single.replies };
  } finally {
    children.delete(child);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const pythonVersion = execFileSync("python3", ["--version"], { encoding: "utf8" }).trim();
console.error(`bench:q3: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}, `
  + `node ${process.version}, ${pythonVersion}, ${runs} rounds x ${servers.length} servers`);
const results = new Map<string, Result[]>(servers.map((server) => [server.label, []]));
for (let round = 1; round <= runs; round++) {
  // Interleaved, and the order rotates: no server always runs first (or last) in a round.
  const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]!);
  for (const server of order) {
    const result = await measure(server, round);
    results.get(server.label)!.push(result);
    console.error(`  round ${round} ${server.label.padEnd(34)} ${String(result.loaded.replies_per_s).padStart(7)} req/s`
      + `  p50/p99 ${result.loaded.p50_ms}/${result.loaded.p99_ms} ms  single ${result.single.p50_ms}/`
      + `${result.single.p99_ms} ms  CPU ${(result.cpuPerRequest * 1e6).toFixed(1)} µs/req`
      + `  logged ${result.logged}/${result.replies}  lost ${result.loaded.lost + result.single.lost}`
      + `  bad ${result.loaded.bad + result.single.bad}`);
  }
}

const rateOf = (label: string) => median((results.get(label) ?? []).map((r) => r.loaded.replies_per_s));
const [pythonRate, unbufferedRate] = [rateOf("python"), rateOf("python -u")];
console.log(`Q3 server, ${window} requests in flight (8 sockets) then 1, ${seconds} s each, medians of `
  + `${runs}; every request logged to a file; ${cpus().length} CPUs shared with the generator.\n`);
console.log(`| server | requests/s (${window} in flight) | × python | × python -u `
  + `| p50 / p99 ms (${window} in flight) | p50 / p99 ms (1 in flight) | server CPU per request `
  + "| every reply logged |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [label, rows] of results) {
  const rate = median(rows.map((r) => r.loaded.replies_per_s));
  const pick = (get: (r: Result) => number, digits: number) => median(rows.map(get)).toFixed(digits);
  // A request the generator gave up on (lost) may still have been answered and logged.
  const short = rows.filter((r) => r.logged < r.replies).map((r) => `${r.logged}/${r.replies}`);
  const logged = label.includes("udp_floor") ? "(no log)" : short.length ? `no: ${short.join(", ")}` : "yes";
  console.log(`| ${label} | ${rate.toFixed(0)} | ${(rate / pythonRate).toFixed(2)} `
    + `| ${(rate / unbufferedRate).toFixed(2)} `
    + `| ${pick((r) => r.loaded.p50_ms, 2)} / ${pick((r) => r.loaded.p99_ms, 2)} `
    + `| ${pick((r) => r.single.p50_ms, 2)} / ${pick((r) => r.single.p99_ms, 2)} `
    + `| ${pick((r) => r.cpuPerRequest * 1e6, 1)} µs | ${logged} |`);
}
