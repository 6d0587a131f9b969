// `npm run two-hosts` (tools/two-hosts.ts): Q2's two computers, as two network namespaces
// 192.0.2.1 (server) and 192.0.2.2 (client). These tests run the real tool over the real lab
// scripts: the UDP and TCP template pairs and Q3 must work across the "computers", a server
// left on 127.0.0.1 must not, and the namespaces must be gone afterwards, even after Ctrl-C.
// The run saves where `sudo npm run two-hosts` does by default, the git-ignored
// .cache/captures/, and must leave the committed docs/captures/ as it was.
// Without root or `ip netns` they skip and say why.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { before, describe, test } from "node:test";
import { committedEvidence } from "./evidence.ts";
import { ROOT } from "./helpers.ts";
import { namespaceSkip } from "./netns.ts";

// The tools always start the lab scripts with Node and tsx, so under another LAB_RUNTIME
// (npm run test:runtimes) these runs would test nothing new.
const otherRuntime = (process.env.LAB_RUNTIME ?? "tsx") !== "tsx" && `the tools run the scripts with tsx, whatever LAB_RUNTIME (${process.env.LAB_RUNTIME}) says`;
const skip = otherRuntime || namespaceSkip();
if (skip) console.log(`# two-hosts tests skipped: ${skip}`);

/**
 * Starts the tool as `npm run two-hosts` would; the caller waits on `done`. After `ms` it gets
 * SIGTERM, so that its cleanup removes the namespaces; SIGKILL 5 s later.
 */
function startTool(args: string[], ms: number) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "tools/two-hosts.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const output = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output.stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output.stderr += text));
  let kill: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    child.kill("SIGTERM");
    kill = setTimeout(() => child.kill("SIGKILL"), 5000);
  }, ms);
  const done = once(child, "close").then(([code]) => {
    clearTimeout(timer);
    clearTimeout(kill);
    return code as number | null;
  });
  return { child, output, done };
}

/** The namespaces that a run with this process id created and has not removed. */
function leftovers(pid: number): string[] {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 }).stdout;
  return list.split("\n").filter((line) => line.includes(`-${pid}`));
}

/** The lines of one "== title ==" section of the output. */
function section(text: string, title: RegExp): string[] {
  const parts = text.split(/^(?===)/m);
  const part = parts.find((candidate) => title.test(candidate.split("\n")[0]!));
  assert.ok(part, `no section ${title} in:\n${text}`);
  return part.split("\n");
}

const has = (lines: string[], pattern: RegExp) => assert.ok(lines.some((line) => pattern.test(line)), `no line matching ${pattern} in:\n${lines.join("\n")}`);

/** What each section of a run must show, checked on a fresh run and on the committed file. */
const sections: [string, (text: string) => void][] = [
  ["UDP template pair: the datagram crosses from 192.0.2.2 and Ok comes back from 192.0.2.1", (text) => {
    const lines = section(text, /UDP template pair/);
    has(lines, /server \| .*I could tell you a UDP joke.*192\.0\.2\.2/);
    has(lines, /client \| .*Ok.*192\.0\.2\.1:43387/);
    has(lines, /client +\(exited with code 0\)/);
  }],
  ["TCP template pair: the connection comes from 192.0.2.2 and the reply reaches it", (text) => {
    const lines = section(text, /TCP template pair/);
    has(lines, /server \| Server started on 192\.0\.2\.1:43389/);
    has(lines, /server \| Connection initiated from 192\.0\.2\.2:\d+/);
    has(lines, /server \| SERVER RECEIVED: \S/);
    has(lines, /client \| .*Whose there\?/);
    has(lines, /client +\(exited with code 0\)/);
  }],
  ["the server's end of the cable shows ARP, then the datagrams and the TCP handshake", (text) => {
    const lines = section(text, /network card saw/);
    const at = (pattern: RegExp) => {
      const index = lines.findIndex((line) => pattern.test(line));
      assert.notEqual(index, -1, `no line matching ${pattern} in:\n${lines.join("\n")}`);
      return index;
    };
    // Before the first datagram can go, the client computer must learn the server's Ethernet address.
    const arp = at(/ARP .*Who has 192\.0\.2\.1\? Tell 192\.0\.2\.2/);
    const datagram = at(/192\.0\.2\.2 → 192\.0\.2\.1 UDP .*→ 43387 Len=59/);
    const syn = at(/192\.0\.2\.2 → 192\.0\.2\.1 TCP .*→ 43389 \[SYN\]/);
    const synAck = at(/192\.0\.2\.1 → 192\.0\.2\.2 TCP .*43389 → \d+ \[SYN, ACK\]/);
    const fin = at(/\[FIN, ACK\]/);
    assert.ok(arp < datagram && datagram < syn && syn < synAck && synAck < fin, lines.join("\n"));
  }],
  ["Q3: three requests from 192.0.2.2, each answered with a date or a time", (text) => {
    const lines = section(text, /Q3 date\/time/);
    const replies = lines.filter((line) => /^ *client \| .*SEND_(DATE|TIME)/.test(line));
    assert.equal(replies.length, 3, lines.join("\n"));
    for (const line of replies) {
      if (line.includes("SEND_DATE")) assert.match(line, /\d{4}-\d{2}-\d{2}/);
      else assert.match(line, /\d{2}:\d{2}:\d{2}/);
    }
    has(lines, /server \| .*192\.0\.2\.2/);
  }],
  ["a server left on 127.0.0.1 cannot be reached from the other computer", (text) => {
    const lines = section(text, /common mistake/);
    has(lines, /server \| Server started on 127\.0\.0\.1:43389/);
    has(lines, /client \| Client: .*192\.0\.2\.1:43389\b/); // names the server it could not reach
    has(lines, /client +\(exited with code 1\)/);
  }],
];
const needsTshark = (name: string) => name.includes("cable") && spawnSync("tshark", ["--version"], { timeout: 15_000 }).status !== 0 && "tshark is not installed";

describe("npm run two-hosts", { skip }, () => {
  // Its default output folder, git-ignored; the committed docs/captures/ must stay as it was.
  const out = path.join(ROOT, ".cache", "captures");
  let code: number | null = null;
  let stdout = "";
  let pid = 0;
  let evidenceBefore: Record<string, string> = {};

  before(async () => {
    evidenceBefore = committedEvidence();
    const run = startTool([], 150_000);
    pid = run.child.pid!;
    code = await run.done;
    stdout = run.output.stdout;
    if (code !== 0) console.log(`two-hosts output:\n${stdout}\n${run.output.stderr}`);
  });

  test("exits 0, saves what it printed in .cache/captures/, and leaves no namespace behind", () => {
    assert.equal(code, 0);
    assert.match(stdout, /saved \.cache\/captures\/two-hosts\.txt/);
    // The saved transcript is this run's: it names this run's namespaces.
    const saved = readFileSync(path.join(out, "two-hosts.txt"), "utf8");
    assert.ok(saved.includes(`lab3-server-${pid}`), "two-hosts.txt is not from this run");
    assert.ok(stdout.includes(saved.trim()));
    assert.deepEqual(leftovers(pid), []);
    has(stdout.split("\n"), /192\.0\.2\.1\/24/);
    has(stdout.split("\n"), /192\.0\.2\.2\/24/);
  });

  test("leaves the committed docs/captures/ untouched", () => {
    assert.deepEqual(committedEvidence(), evidenceBefore);
  });

  for (const [name, check] of sections) test(name, { skip: needsTshark(name) }, () => check(stdout));

  test("Ctrl-C in the middle still removes the namespaces", async () => {
    const run = startTool(["--out", os.tmpdir()], 60_000);
    let code: number | null;
    try {
      // Interrupt once the first pair is under way.
      const deadline = Date.now() + 45_000;
      while (!run.output.stdout.includes("== UDP template pair") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(run.output.stdout.includes("== UDP template pair"), `the tool did not get going:\n${run.output.stdout}${run.output.stderr}`);
      assert.equal(leftovers(run.child.pid!).length, 2, "the namespaces should exist while it runs");
    } finally {
      // Even when an assertion above failed: the tool must not run on (its cleanup removes the namespaces).
      run.child.kill("SIGINT");
      code = await run.done;
    }
    assert.equal(code, 130);
    assert.match(run.output.stderr, /namespaces were removed/);
    assert.deepEqual(leftovers(run.child.pid!), []);
  });
});

// The committed transcript must show the same (it needs nothing installed to check).
describe("docs/captures/two-hosts.txt, as committed", () => {
  const text = readFileSync(path.join(ROOT, "docs", "captures", "two-hosts.txt"), "utf8");
  test("says how it was made", () => assert.match(text, /by `sudo npm run two-hosts` \(tools\/two-hosts\.ts\)\. Regenerate, do not edit\./));
  for (const [name, check] of sections) test(name, () => check(text));
});

/**
 * How to run a command here without root, as [prefix, who]; or the reason it cannot be done.
 * Not root: as ourselves. As root: a user that can still load tsx from this checkout, which may
 * sit in a private (mode 700) folder: the checkout's owner when that is not root; else a fresh
 * user namespace (`unshare --user`: uid 65534 inside, while files are still opened as their
 * owner, root); else `nobody`, who can only when the checkout is readable by everyone.
 */
function withoutRoot(): [string[], string] | string {
  if (process.getuid?.() !== 0) return [[], "this user"];
  const owner = statSync(ROOT);
  const candidates: [string[], string][] = [
    [["unshare", "--user"], "root in a user namespace without root (unshare --user)"],
    [["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], "nobody"],
  ];
  if (owner.uid !== 0) {
    candidates.unshift([["setpriv", `--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups"], `the checkout's owner (uid ${owner.uid})`]);
  }
  const tried: string[] = [];
  for (const [prefix, who] of candidates) {
    // A Node that loads tsx and sees a uid other than 0 is all the tool needs to show its refusal.
    const probe = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, "--import", "tsx", "--eval", "process.exit(process.getuid() === 0 ? 3 : 0)"], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    if (probe.status === 0) return [prefix, who];
    tried.push(`${who}: ${probe.error?.message ?? (probe.stderr.match(/ERR_\w+|[^\n]*denied[^\n]*/)?.[0] ?? `exit ${probe.status}`)}`);
  }
  return `as root, no other identity can load tsx from this checkout (${tried.join("; ")})`;
}
const unprivileged = withoutRoot();

test("without root it says so and exits 1", { skip: typeof unprivileged === "string" && unprivileged }, async (t) => {
  const [prefix, who] = unprivileged as [string[], string];
  t.diagnostic(`run as ${who}`);
  const command = [...prefix, process.execPath, "--import", "tsx", path.join(ROOT, "tools/two-hosts.ts"), "--out", os.tmpdir()];
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code] = await once(child, "close");
  clearTimeout(timer);
  assert.match(stderr, /needs root.*sudo npm run two-hosts/);
  assert.equal(code, 1, stderr);
});
