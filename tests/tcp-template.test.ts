// End-to-end tests for the TCP template pair (Q4): TCP_Server.ts driven by a raw socket.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LineSocket, runScript, startServer } from "./helpers.ts";

test("TCP_Server answers the first message and exits 0", async () => {
  const { server, port, firstLine } = await startServer("TCP_Server.ts");
  assert.match(firstLine, /^Server started on 127\.0\.0\.1:\d+ \.\.\.waiting for a connection from the client$/);
  const client = await LineSocket.connect(port);
  client.send("Knock knock");
  await client.waitForClose();
  assert.equal(client.lines.join(""), "");
  assert.deepEqual((await server.waitForExit()).code, 0);
  assert.ok(server.stdout.includes("SERVER RECEIVED: Knock knock"), server.stdout.join("\n"));
});

test("TCP_Server --help exits 0 and an unknown flag exits 2 with one line", async () => {
  const help = await runScript("TCP_Server.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--port/);
  const bad = await runScript("TCP_Server.ts", ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.length, 1);
  assert.match(bad.err, /--bogus/);
});
