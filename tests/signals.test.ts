// The servers that run until stopped (q3, q6, q8) exit 0 on SIGINT or SIGTERM (CONTRACT.md),
// also when the signal comes the moment their first line appears: a caller that passed
// `--port 0` reads the port from that line and may stop the server at once.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { test } from "node:test";
import { startServer } from "./helpers.ts";

for (const file of ["q3/UDP_Server.ts", "q6/TCP_Server.ts", "q8/Chat_Server.ts"]) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${file} exits 0 on ${signal} sent right after its first line (3 times)`, async () => {
      const runs = await Promise.all([1, 2, 3].map(async () => {
        const { server } = await startServer(file);
        return server.stop(signal, 10000);
      }));
      for (const run of runs) assert.deepEqual([run.code, run.signal], [0, null]);
    });
  }
}

test("q8/Chat_Server.ts exits 0 on a second SIGTERM while a member holds its side open", async () => {
  const { server, port } = await startServer("q8/Chat_Server.ts");
  // allowHalfOpen: this member does not answer the server's FIN, so shutting down waits for it.
  const member = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  try {
    member.on("error", () => {});
    await once(member, "connect", { signal: AbortSignal.timeout(5000) });
    member.write("Tonks\n");
    await server.waitForLine(/Tonks has joined/, 5000);
    server.child.kill("SIGTERM");
    await server.waitForLine(/SIGTERM received/, 5000);
    server.child.kill("SIGTERM");
    const { code, signal } = await server.waitForExit(5000);
    assert.deepEqual([code, signal], [0, null]);
  } finally {
    member.destroy();
  }
});
