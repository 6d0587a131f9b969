// `npm start`: the guided tour runs every pair and exits 0, showing each side's real output.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./helpers.ts";

test("the tour runs every pair, prints both sides of each, and exits 0", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "tools/tour.ts"], {
    cwd: ROOT,
    timeout: 90_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const expected = [
    /Q1 server +│ Server received MESSAGE= I could tell you a UDP joke/,
    /Q1 client +│ Client received MESSAGE= Ok from ADDR= 127\.0\.0\.1:\d+/,
    /Q4 server +│ SERVER RECEIVED: Knock knock/,
    /Q4 client +│ CLIENT RECEIVED: Whose there\?/,
    /Q3 client +│ Client: SEND_(DATE -> \d{4}-\d\d-\d\d|TIME -> \d\d:\d\d:\d\d)/,
    /Q6 Alice +│ 54$/,
    /Q6 server +│ .*waits until the session with "Alice" ends/,
    /Q6 Alice +│ Client: Invalid/,
    /Q6 Alice +│ ERROR division by zero/,
    /Q6 Bob +│ 0\.3$/,
    /Q6 server +│ Session ended/,
    /Batman's window/,
    /^ +Voldemort: Crucio!$/,
    /^ +Server: time=\d\d:\d\d:\d\d Batman has left\. Member count=1$/,
  ];
  const lines = stdout.split("\n");
  for (const pattern of expected) {
    assert.ok(lines.some((line) => pattern.test(line)), `no line matching ${pattern} in:\n${stdout}`);
  }
});
