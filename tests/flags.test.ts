// Bad values on the command line, checked the same way for every script (the contract: ONE line
// naming the flag, exit 2): a value that looks like a flag (`--port -1`) and an empty `--host`
// for all ten scripts, and `--port 0` for the five clients. Unknown flags and `--help` are
// checked in each script's own test file.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runScript } from "./helpers.ts";

const scripts = [
  "UDP_Server.ts", "UDP_Client.ts", "TCP_Server.ts", "TCP_Client.ts",
  "q3/UDP_Server.ts", "q3/UDP_Client.ts", "q6/TCP_Server.ts", "q6/TCP_Client.ts",
  "q8/Chat_Server.ts", "q8/Chat_Client.ts",
];

for (const script of scripts.filter((name) => name.includes("Client"))) {
  test(`${script}: --port 0 is a bad value for a client (one line, exit 2)`, async () => {
    const run = await runScript(script, ["--port", "0"], { ms: 30000 });
    assert.equal(run.code, 2, run.err);
    assert.equal(run.stderr.length, 1, run.err);
    assert.match(run.err, /--port/);
  });
}

for (const script of scripts) {
  test(`${script}: a value that looks like a flag (--port -1) is one line naming --port, exit 2`, async () => {
    // parseArgs words this error over three lines; the scripts must still print one.
    const run = await runScript(script, ["--port", "-1"], { ms: 30000 });
    assert.equal(run.code, 2, run.err);
    assert.equal(run.stderr.length, 1, run.err);
    assert.match(run.err, /--port/);
    assert.equal(run.out, "");
  });

  test(`${script}: an empty --host is one line naming --host, exit 2 (a server must not bind everything)`, async () => {
    const run = await runScript(script, ["--host=", "--port", "9"], { ms: 30000 });
    assert.equal(run.code, 2, run.err);
    assert.equal(run.stderr.length, 1, run.err);
    assert.match(run.err, /--host/);
    assert.equal(run.out, "");
  });
}

// The wording of a bad value is the shared helpers' (portNumber(), positiveNumber()), one text
// in every script. Checked here for the four templates; the other scripts follow when their
// helpers match the canonical copies.
for (const script of scripts.slice(0, 4)) {
  const lowest = script.includes("Server") ? 0 : 1;
  test(`${script}: a bad --port is worded as a whole number from ${lowest} to 65535`, async () => {
    const run = await runScript(script, ["--port", "70000"], { ms: 30000 });
    assert.equal(run.code, 2, run.err);
    assert.deepEqual(run.stderr,
      [`Invalid --port '70000': expected a whole number from ${lowest} to 65535 (see --help)`]);
  });
}

for (const script of ["UDP_Client.ts", "TCP_Client.ts"]) {
  test(`${script}: a bad --timeout is worded as seconds above 0, at most 2147483`, async () => {
    const run = await runScript(script, ["--timeout", "0.0"], { ms: 30000 });
    assert.equal(run.code, 2, run.err);
    assert.deepEqual(run.stderr,
      ["Invalid --timeout '0.0': expected seconds above 0, at most 2147483 (see --help)"]);
  });
}
