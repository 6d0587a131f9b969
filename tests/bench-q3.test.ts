// Tests for bench/q3.ts (`npm run bench:q3`) that need no load: its help, and what it says when
// it cannot build the C load generator. (The benchmark itself is run by hand: it loads the
// machine for minutes.)

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./helpers.ts";

/** Runs bench/q3.ts with Node and tsx; resolves with its exit code and output (never rejects). */
async function bench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = promisify(execFile)(process.execPath, ["--import", "tsx", "bench/q3.ts", ...args],
    { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30000 });
  try {
    const { stdout, stderr } = await run;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test("bench:q3 --help exits 0 and names its flags", async () => {
  const run = await bench(["--help"]);
  assert.equal(run.code, 0, run.stderr);
  for (const flag of ["--runs", "--seconds", "--window", "--servers", "--node-files", "--out"]) {
    assert.match(run.stdout, new RegExp(flag));
  }
});

test("without a C compiler, bench:q3 says so in one line and exits 1, having started nothing", async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), "bench-q3-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  // A stand-in for ../shared/bench, which a fresh checkout (CI) may not have beside it.
  for (const file of ["udpbench.c", "py_q3_server.py"]) writeFileSync(path.join(out, file), "");
  const run = await bench(["--out", out, "--shared", out], { CC: path.join(out, "no-such-cc") });
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(run.stderr, /^bench:q3: no C compiler .*no-such-cc.* nothing measured/);
  assert.equal(run.stdout, "");
});

test("without ../shared/bench, bench:q3 names the missing file in one line and exits 1", async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), "bench-q3-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const run = await bench(["--out", out, "--shared", path.join(out, "nowhere")]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr.trim(), /^bench:q3: \S*nowhere\S*udpbench\.c not found \(see --shared\)$/);
  assert.equal(run.stdout, "");
});
