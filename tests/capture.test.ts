// `npm run capture` (tools/capture.ts): the loopback capture behind Q5. These tests run the
// real tool, which runs the real lab scripts under tshark, and read the packet lists it saves:
// the handshake, both directions' payloads in plain text and the FINs must appear, in order.
// The run saves where `npm run capture` does by default, the git-ignored .cache/captures/, and
// must leave the committed docs/captures/ (which answers.md quotes) as it was.
// They use `--free-ports`: other tests may aim clients at the pairs' default ports meanwhile.
// Without tshark, or without the right to capture (root), they skip and say why.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { before, describe, test } from "node:test";
import { committedEvidence } from "./evidence.ts";
import { ROOT } from "./helpers.ts";

const tshark = spawnSync("tshark", ["--version"], { timeout: 15_000 });
// A one-second capture that sees nothing tells whether we may capture at all (root, or the
// wireshark group; a container may also lack the capability).
const canCapture = () => spawnSync("tshark", ["-i", "lo", "-c", "1", "-a", "duration:1", "-f", "udp port 9", "-w", "/dev/null"], { timeout: 20_000 }).status === 0;
// The tools always start the lab scripts with Node and tsx, so under another LAB_RUNTIME
// (npm run test:runtimes) these runs would test nothing new.
const otherRuntime = (process.env.LAB_RUNTIME ?? "tsx") !== "tsx" && `the tools run the scripts with tsx, whatever LAB_RUNTIME (${process.env.LAB_RUNTIME}) says`;
const skip = otherRuntime || (tshark.error || tshark.status !== 0
  ? "tshark is not installed (Debian: apt-get install tshark)"
  : !canCapture()
    ? `this user may not capture on lo (${process.getuid?.() === 0 ? "root without CAP_NET_RAW?" : "run as root"})`
    : false);
if (skip) console.log(`# capture tests skipped: ${skip}`);

/**
 * Runs a tool as `npm run` would (this Node with tsx, whatever LAB_RUNTIME the lab scripts are
 * tested under) and returns its exit code and output. After `ms` it gets SIGTERM, so that its
 * cleanup stops tshark and the scripts and removes its temp files; SIGKILL 5 s later.
 */
async function runTool(file: string, args: string[], ms: number, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, file), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  let kill: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    child.kill("SIGTERM");
    kill = setTimeout(() => child.kill("SIGKILL"), 5000);
  }, ms);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  clearTimeout(kill);
  return { code, stdout, stderr, pid: child.pid! };
}

/** One row of a saved packet list. */
interface Row {
  number: number;
  from: "client" | "server";
  to: "client" | "server";
  flags: string;
  length: number;
  payload: string;
  note: string;
}

// The row format tools/capture.ts writes: No., time, "side addr:port" twice, flags (or "(UDP)"),
// Seq and Ack (TCP only), Len, the payload as a JSON string, an optional "<- note".
const ROW = /^\s*(\d+)\s+\d+\.\d+\s+(client|server) \S+\s+(client|server) \S+\s+(\S+)\s+(?:\d+\s+\d+\s+)?(\d+)(?:\s+("(?:[^"\\]|\\.)*"))?(?:\s+<- (.*))?$/;

function rows(text: string): Row[] {
  const found: Row[] = [];
  for (const line of text.split("\n")) {
    const match = ROW.exec(line);
    if (!match) continue;
    found.push({
      number: Number(match[1]),
      from: match[2] as Row["from"],
      to: match[3] as Row["to"],
      flags: match[4]!,
      length: Number(match[5]),
      payload: match[6] ? (JSON.parse(match[6]) as string) : "",
      note: match[7] ?? "",
    });
  }
  return found;
}

/** Index of the first row at or after `from` that satisfies `test`; fails the test if none. */
function indexOf(list: Row[], from: number, what: string, predicate: (row: Row) => boolean): number {
  const index = list.findIndex((row, i) => i >= from && predicate(row));
  assert.notEqual(index, -1, `no ${what} after row ${from}: ${JSON.stringify(list, null, 1)}`);
  return index;
}

/** The bytes one side sent, in order, joined (TCP may split or merge messages across segments). */
const sent = (list: Row[], side: "client" | "server") => list.filter((row) => row.from === side).map((row) => row.payload).join("");

/** Asserts the three-way handshake is the first three segments of `list`. */
function assertHandshake(list: Row[]) {
  assert.ok(list.length >= 3, "fewer than three packets");
  assert.deepEqual(
    list.slice(0, 3).map((row) => [row.from, row.flags, row.length]),
    [["client", "SYN", 0], ["server", "SYN/ACK", 0], ["client", "ACK", 0]],
    "the first three segments are not SYN, SYN/ACK, ACK",
  );
  assert.match(list[0]!.note, /handshake 1\/3/);
  assert.match(list[2]!.note, /handshake 3\/3/);
}

/** TCP template: handshake, the message in plain text each way, then a FIN from each side. */
function checkTcpTemplate(text: string) {
  const list = rows(text);
  assertHandshake(list);
  // The text the server printed is the text the capture shows on the wire.
  const received = /SERVER RECEIVED: (.*)$/m.exec(text);
  assert.ok(received, "the server did not print SERVER RECEIVED");
  assert.equal(sent(list, "client"), received[1]);
  assert.equal(sent(list, "server"), "Whose there?");
  const request = indexOf(list, 3, "client payload", (row) => row.from === "client" && row.length > 0);
  const reply = indexOf(list, request + 1, "server payload", (row) => row.from === "server" && row.length > 0);
  const firstFin = indexOf(list, reply + 1, "FIN", (row) => row.flags.includes("FIN"));
  const secondFin = indexOf(list, firstFin + 1, "second FIN", (row) => row.flags.includes("FIN"));
  assert.notEqual(list[firstFin]!.from, list[secondFin]!.from, "both FINs came from the same side");
  assert.match(list[firstFin]!.note, /teardown/);
}

/** UDP template: one datagram each way, no handshake, the text in plain view. */
function checkUdpTemplate(text: string) {
  const list = rows(text);
  assert.deepEqual(list.map((row) => [row.from, row.flags]), [["client", "(UDP)"], ["server", "(UDP)"]]);
  assert.equal(list[1]!.payload, "Ok");
  assert.ok(list[0]!.payload.length > 0);
  const serverLines = text.split("\n").filter((line) => line.startsWith("  server | "));
  assert.ok(serverLines.some((line) => line.includes(list[0]!.payload)), "the server did not print the text that was on the wire");
}

/** Q6 session: handshake, each line and reply in plain text, q, then the server's FIN first. */
function checkQ6Session(text: string) {
  const list = rows(text);
  assertHandshake(list);
  assert.equal(sent(list, "client"), "Ada\n12 + 42\n4.5 / -6\nq\n");
  assert.equal(sent(list, "server"), "54\n-0.75\n");
  const quit = indexOf(list, 3, "the q line", (row) => row.from === "client" && row.payload.endsWith("q\n"));
  const fin = indexOf(list, quit + 1, "FIN", (row) => row.flags.includes("FIN"));
  assert.equal(list[fin]!.from, "server", "the server should close first, after q");
  indexOf(list, fin + 1, "the client's FIN", (row) => row.flags.includes("FIN") && row.from === "client");
}

const checks = { "tcp-template.txt": checkTcpTemplate, "udp-template.txt": checkUdpTemplate, "q6-session.txt": checkQ6Session };

describe("npm run capture", { skip }, () => {
  // Its default output folder, git-ignored.
  const out = path.join(ROOT, ".cache", "captures");
  let stdout = "";
  let code: number | null = null;
  let started = 0;
  let evidenceBefore: Record<string, string> = {};

  before(async () => {
    evidenceBefore = committedEvidence();
    started = Date.now();
    const run = await runTool("tools/capture.ts", ["--free-ports"], 120_000);
    ({ code, stdout } = run);
    if (code !== 0) console.log(`capture output:\n${stdout}\n${run.stderr}`);
  });

  test("exits 0, saving a text file per exchange and the raw capture in .cache/captures/", () => {
    assert.equal(code, 0);
    for (const file of ["tcp-template.txt", "udp-template.txt", "q6-session.txt", "loopback.pcapng"]) {
      assert.ok(existsSync(path.join(out, file)), `${file} missing`);
      assert.ok(statSync(path.join(out, file)).size > 0, `${file} is empty`);
      // Written by this run, not left over from an earlier one (mtime has whole-second precision on some file systems).
      assert.ok(statSync(path.join(out, file)).mtimeMs >= started - 2000, `${file} is older than this run`);
    }
    // What it prints is what it saves, and it says where.
    assert.ok(stdout.includes(readFileSync(path.join(out, "tcp-template.txt"), "utf8").trim()));
    assert.match(stdout, /saved \.cache\/captures\/tcp-template\.txt/);
  });

  test("leaves the committed docs/captures/ untouched", () => {
    assert.deepEqual(committedEvidence(), evidenceBefore);
  });

  for (const [file, check] of Object.entries(checks)) {
    test(`${file}: the packets Q5 asks about (handshake, both directions' text, teardown), in order`, () => {
      check(readFileSync(path.join(out, file), "utf8"));
    });
  }
});

// The committed captures are checked the same way, and (with tshark) against the raw capture
// saved beside them: every packet row must be a packet of loopback.pcapng, with its payload.
describe("docs/captures, as committed", () => {
  const dir = path.join(ROOT, "docs", "captures");
  for (const [file, check] of Object.entries(checks)) {
    test(`${file} shows the same, and says how it was made`, () => {
      const text = readFileSync(path.join(dir, file), "utf8");
      assert.match(text, /by `npm run capture` \(tools\/capture\.ts\)\. Regenerate, do not edit\./);
      check(text);
    });
  }

  test("every packet row is in loopback.pcapng, with the same payload", { skip: (tshark.error || tshark.status !== 0) && "tshark is not installed" }, () => {
    const read = spawnSync("tshark", ["-r", path.join(dir, "loopback.pcapng"), "-T", "fields", "-e", "frame.number", "-e", "tcp.payload", "-e", "udp.payload"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(read.status, 0, read.stderr);
    const payloads = new Map(read.stdout.trim().split("\n").map((line) => {
      const [number, tcp, udp] = line.split("\t");
      return [Number(number), Buffer.from((tcp || udp || "").replace(/:/g, ""), "hex").toString("utf8")];
    }));
    const all = Object.keys(checks).flatMap((file) => rows(readFileSync(path.join(dir, file), "utf8")));
    assert.equal(all.length, payloads.size, "the text files and the capture hold different numbers of packets");
    for (const row of all) assert.equal(row.payload, payloads.get(row.number), `packet ${row.number}`);
  });
});

test("without tshark it says how to install it and exits non-zero", async () => {
  // An empty PATH hides tshark (the tool itself is started by absolute path).
  const empty = mkdtempSync(path.join(os.tmpdir(), "no-tshark-"));
  try {
    const { code, stderr } = await runTool("tools/capture.ts", ["--out", empty], 30_000, { PATH: empty });
    assert.notEqual(code, 0);
    assert.match(stderr, /tshark is not installed.*\n.*apt-get install tshark/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
