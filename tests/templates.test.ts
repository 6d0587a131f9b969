// Tests for the four template scripts (Q1, Q4): UDP_Server.ts, UDP_Client.ts, TCP_Server.ts,
// TCP_Client.ts. The pairs run end to end on --port 0; raw sockets stand in for a partner
// that misbehaves (silent, never replies, drops the connection); every script's flags and
// failure lines are checked against the contract (one plain line, exit 1 or 2, no stack trace).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { describe, test } from "node:test";
import { closedPort, runScript, sleep, startServer, udpRequest } from "./helpers.ts";

const JOKE = "I could tell you a UDP joke but I'm not sure you'll get it.";
// The machine running the tests may be busy: starting a script can take seconds, so every
// wait for a process is generous. (The scripts' own --timeout values stay short.)
const MS = 30000;
const FIRST_LINE = /^Server started on 127\.0\.0\.1:\d+ \.\.\.waiting for a connection from the client$/;

/** A stack trace shows up as lines starting with "    at "; no expected failure may print one. */
function assertNoStackTrace(lines: string[]) {
  for (const line of lines) assert.doesNotMatch(line, /^\s+at /, `stack trace line: ${line}\n${lines.join("\n")}`);
}

/** An expected failure: exactly one line in all (on stderr), nothing on stdout, the given exit code. */
function assertOneLineFailure(run: { code: number | null; stdout: string[]; stderr: string[] }, code: number, pattern: RegExp) {
  assert.equal(run.code, code, `exit code; stderr: ${run.stderr.join("\n")}`);
  assert.deepEqual(run.stdout, []);
  assert.equal(run.stderr.length, 1, `expected one stderr line, got:\n${run.stderr.join("\n")}`);
  assert.match(run.stderr[0]!, pattern);
  assertNoStackTrace(run.stderr);
}

/** Connects a raw TCP socket; resolves once connected. */
async function rawConnect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  socket.on("error", () => {});
  socket.setTimeout(5000, () => socket.destroy(new Error("raw connect/read timed out")));
  await once(socket, "connect");
  return socket;
}

/** Collects everything a socket receives until `done(text)` is true; rejects after `ms`. */
function receiveUntil(socket: net.Socket, done: (text: string) => boolean, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const check = () => {
      if (done(text)) finish(() => resolve(text));
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8");
      check();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out; received so far: ${JSON.stringify(text)}`))), ms);
    const finish = (then: () => void) => {
      clearTimeout(timer);
      socket.off("data", onData);
      then();
    };
    socket.on("data", onData);
    check();
  });
}

/** A UDP socket on 127.0.0.1 that receives datagrams and never answers. */
async function silentUdpSocket() {
  const socket = dgram.createSocket("udp4");
  const received: string[] = [];
  socket.on("message", (data: Buffer) => received.push(data.toString("utf8")));
  socket.on("error", () => {});
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return { socket, port: socket.address().port, received };
}

describe("UDP template pair (Q1)", () => {
  test("server and client exchange the joke and Ok, both exit 0", async () => {
    const { server, port, firstLine } = await startServer("UDP_Server.ts", [], MS);
    assert.match(firstLine, FIRST_LINE);
    assert.equal(server.stdout[0], firstLine, "the bound address is the server's first line");
    const client = await runScript("UDP_Client.ts", ["--port", String(port)], { ms: MS });
    assert.equal(client.code, 0, client.err);
    assert.deepEqual(client.stdout, [`Client received MESSAGE= Ok from ADDR= 127.0.0.1:${port}`]);
    assert.deepEqual(client.stderr, []);
    assert.equal((await server.waitForExit(MS)).code, 0);
    const received = server.stdout[1] ?? "";
    const match = /^Server received MESSAGE= (.*) from ADDR= 127\.0\.0\.1:(\d+)$/.exec(received);
    assert.ok(match, `server line: ${received}`);
    assert.equal(match[1], JOKE);
    assert.notEqual(Number(match[2]), port, "the client sends from its own (ephemeral) port");
    assert.deepEqual(server.stderr, []);
  });

  test("--message sends the given text, UTF-8 included", async () => {
    const { server, port } = await startServer("UDP_Server.ts", [], MS);
    const client = await runScript("UDP_Client.ts", ["--port", String(port), "--message", "Grüße, 世界 ✓"], { ms: MS });
    assert.equal(client.code, 0, client.err);
    await server.waitForExit(MS);
    assert.match(server.stdout[1] ?? "", /^Server received MESSAGE= Grüße, 世界 ✓ from ADDR= 127\.0\.0\.1:\d+$/);
  });

  test("the server's reply is exactly the two bytes Ok, to the datagram's sender", async () => {
    const { server, port } = await startServer("UDP_Server.ts", [], MS);
    assert.equal(await udpRequest(port, "hello"), "Ok");
    assert.equal((await server.waitForExit(MS)).code, 0);
    assert.match(server.stdout[1] ?? "", /^Server received MESSAGE= hello from ADDR= 127\.0\.0\.1:\d+$/);
  });

  test("the client against a silent port times out with one line naming HOST:PORT, exit 1", async () => {
    const silent = await silentUdpSocket();
    try {
      const client = await runScript("UDP_Client.ts", ["--port", String(silent.port), "--timeout", "0.5"], { ms: MS });
      assertOneLineFailure(client, 1, new RegExp(`127\\.0\\.0\\.1:${silent.port}\\b.*`));
      assert.match(client.err, /^Client: no reply from 127\.0\.0\.1:\d+ \(timed out\); /);
      assert.match(client.err, /is UDP_Server\.ts running there, with --host 0\.0\.0\.0 .*Check --host and --port\.$/, "says what to check");
      assert.deepEqual(silent.received, [JOKE], "the datagram was sent");
    } finally {
      silent.socket.close();
    }
  });

  test("the client against a port nobody listens on also times out (UDP has no connection to refuse)", async () => {
    const probe = dgram.createSocket("udp4");
    probe.bind(0, "127.0.0.1");
    await once(probe, "listening");
    const port = probe.address().port;
    probe.close();
    const client = await runScript("UDP_Client.ts", ["--port", String(port), "--timeout", "0.5"], { ms: MS });
    assertOneLineFailure(client, 1, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
  });

  test("the client with a host name that does not resolve prints one line naming HOST:PORT, exit 1", async () => {
    // `.invalid` never resolves (RFC 2606); the lookup error reaches the client as an "error" event.
    const client = await runScript("UDP_Client.ts", ["--host", "nosuch.invalid", "--port", "9", "--timeout", "20"], { ms: MS });
    assertOneLineFailure(client, 1, /^Client: no reply from nosuch\.invalid:9 \((?!timed out).+\); is UDP_Server\.ts running there/);
  });

  test("the server on a port already in use prints one line and exits 1", async () => {
    const taken = await silentUdpSocket();
    try {
      const server = await runScript("UDP_Server.ts", ["--port", String(taken.port)], { ms: MS });
      assertOneLineFailure(server, 1, new RegExp(`127\\.0\\.0\\.1:${taken.port}.*EADDRINUSE`));
    } finally {
      taken.socket.close();
    }
  });
});

describe("TCP template pair (Q4)", () => {
  test("server and client do the knock-knock exchange, both exit 0", async () => {
    const { server, port, firstLine } = await startServer("TCP_Server.ts", [], MS);
    assert.match(firstLine, FIRST_LINE);
    assert.equal(server.stdout[0], firstLine, "the bound address is the server's first line");
    const client = await runScript("TCP_Client.ts", ["--port", String(port)], { ms: MS });
    assert.equal(client.code, 0, client.err);
    assert.deepEqual(client.stdout, ["CLIENT RECEIVED: Whose there?"]);
    assert.deepEqual(client.stderr, []);
    assert.equal((await server.waitForExit(MS)).code, 0);
    assert.match(server.stdout[1] ?? "", /^Connection initiated from 127\.0\.0\.1:\d+$/);
    // The template's greeting, two dots included.
    assert.equal(server.stdout[2], "SERVER RECEIVED: Knock knock..");
    assert.deepEqual(server.stderr, []);
  });

  test("--message sends the given text, UTF-8 included", async () => {
    const { server, port } = await startServer("TCP_Server.ts", [], MS);
    const client = await runScript("TCP_Client.ts", ["--port", String(port), "--message", "Grüße, 世界 ✓"], { ms: MS });
    assert.equal(client.code, 0, client.err);
    assert.deepEqual(client.stdout, ["CLIENT RECEIVED: Whose there?"]);
    await server.waitForExit(MS);
    assert.equal(server.stdout[2], "SERVER RECEIVED: Grüße, 世界 ✓");
  });

  test("the server replies as soon as the first message arrives, while the client keeps its side open", async () => {
    const { server, port } = await startServer("TCP_Server.ts", [], MS);
    const socket = await rawConnect(port);
    try {
      socket.write("Knock knock..");
      // Our side stays open (no end()): the reply must come anyway, then the server's FIN.
      const ended = once(socket, "end");
      assert.equal(await receiveUntil(socket, (text) => text.length >= "Whose there?".length), "Whose there?");
      await ended;
      assert.equal((await server.waitForExit(MS)).code, 0);
      assert.equal(server.stdout[2], "SERVER RECEIVED: Knock knock..");
    } finally {
      socket.destroy();
    }
  });

  test("a client that connects and hangs up without sending gets one line from the server, exit 1", async () => {
    const { server, port } = await startServer("TCP_Server.ts", [], MS);
    const socket = await rawConnect(port);
    socket.end();
    const { code } = await server.waitForExit(MS);
    socket.destroy();
    assert.equal(code, 1, server.stderr.join("\n"));
    assert.deepEqual(server.stderr, ["Server: the client sent nothing (it closed the connection)"]);
  });

  test("a client that resets the connection gets one line from the server, no stack trace", async () => {
    const { server, port } = await startServer("TCP_Server.ts", [], MS);
    const socket = await rawConnect(port);
    await server.waitForLine(/^Connection initiated from/, MS);
    socket.resetAndDestroy();
    const { code } = await server.waitForExit(MS);
    assert.equal(code, 1);
    assert.equal(server.stderr.length, 1, server.stderr.join("\n"));
    assert.match(server.stderr[0]!, /^Server: .*ECONNRESET/);
    assertNoStackTrace(server.stderr);
  });

  test("the server on a port already in use prints one line and exits 1", async () => {
    const taken = net.createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const { port } = taken.address() as net.AddressInfo;
    try {
      const server = await runScript("TCP_Server.ts", ["--port", String(port)], { ms: MS });
      assertOneLineFailure(server, 1, new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  test("the client against a closed port prints connected()'s one line with 127.0.0.1:PORT, exit 1", async () => {
    const port = await closedPort();
    const client = await runScript("TCP_Client.ts", ["--port", String(port)], { ms: MS });
    assertOneLineFailure(client, 1, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
    // The one wording every TCP client shares for a server it cannot reach (connected()).
    assert.equal(client.err, `Client: cannot reach the server at 127.0.0.1:${port} (ECONNREFUSED); is it running`
      + " there, with --host 0.0.0.0 if on another computer? Check --host and --port.");
  });

  test("the client gives up with one line when a connected server never replies", async () => {
    const mute = net.createServer((socket) => socket.on("error", () => {}));
    mute.listen(0, "127.0.0.1");
    await once(mute, "listening");
    const { port } = mute.address() as net.AddressInfo;
    try {
      const client = await runScript("TCP_Client.ts", ["--port", String(port), "--timeout", "0.5"], { ms: MS });
      assertOneLineFailure(client, 1, new RegExp(`^Client: no reply from 127\\.0\\.0\\.1:${port} \\(no answer in 0\\.5 s\\)$`));
    } finally {
      mute.close();
    }
  });

  test("the client says so when the server closes without replying", async () => {
    const rude = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.end();
    });
    rude.listen(0, "127.0.0.1");
    await once(rude, "listening");
    const { port } = rude.address() as net.AddressInfo;
    try {
      const client = await runScript("TCP_Client.ts", ["--port", String(port)], { ms: MS });
      assertOneLineFailure(client, 1, new RegExp(`^Client: no reply from 127\\.0\\.0\\.1:${port} \\(it hung up\\)$`));
    } finally {
      rude.close();
    }
  });

  // On Linux a listener whose accept queue is full drops new SYNs: the connect gets no answer
  // at all, which is what a firewall that drops packets looks like from the client.
  test("the client's connect times out with one line when the server never answers the SYN", { skip: process.platform !== "linux" }, async () => {
    // A child that listens with a backlog of 1 and then blocks, so it never accepts.
    const blocker = spawn(process.execPath, [
      "-e",
      `const s = require("node:net").createServer();
       s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
         console.log(s.address().port);
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);
       });`,
    ]);
    const fillers: net.Socket[] = [];
    try {
      blocker.stdout.setEncoding("utf8");
      const [text] = (await once(blocker.stdout, "data", { signal: AbortSignal.timeout(MS) })) as [string];
      const port = Number(text.trim());
      // Fill the accept queue: the kernel keeps backlog + 1 = 2 finished handshakes, and
      // drops the SYNs after them.
      let connected = 0;
      const queueFull = new Promise<void>((resolve) => {
        for (let i = 0; i < 4; i++) {
          const filler = net.connect({ port, host: "127.0.0.1" });
          filler.on("error", () => {});
          filler.once("connect", () => ++connected === 2 && resolve());
          fillers.push(filler);
        }
      });
      await Promise.race([queueFull, sleep(MS).then(() => Promise.reject(new Error(`the accept queue did not fill within ${MS} ms`)))]);
      const client = await runScript("TCP_Client.ts", ["--port", String(port), "--timeout", "0.5"], { ms: MS });
      assertOneLineFailure(client, 1, new RegExp(`^Client: cannot reach the server at 127\\.0\\.0\\.1:${port} \\(no answer in 0\\.5 s\\); is it running there`));
    } finally {
      for (const filler of fillers) filler.destroy();
      blocker.kill("SIGKILL");
    }
  });
});

describe("flags of every template script", { concurrency: 2 }, () => {
  for (const file of ["UDP_Server.ts", "UDP_Client.ts", "TCP_Server.ts", "TCP_Client.ts"]) {
    test(`${file}: --help prints the usage and exits 0`, async () => {
      const run = await runScript(file, ["--help"], { ms: MS });
      assert.equal(run.code, 0);
      assert.match(run.stdout[0] ?? "", new RegExp(`^Usage: npx tsx ${file.replace(".", "\\.")} `));
      for (const flag of ["--host", "--port", "--help"]) assert.match(run.out, new RegExp(`^\\s+${flag}\\b`, "m"));
      if (file.includes("Client")) assert.match(run.out, /^\s+--message TEXT/m);
      assert.deepEqual(run.stderr, []);
    });

    test(`${file}: an unknown flag exits 2 with one line naming it`, async () => {
      assertOneLineFailure(await runScript(file, ["--bogus"], { ms: MS }), 2, /'--bogus'/);
    });

    test(`${file}: a bad --port exits 2 with one line naming it`, async () => {
      const bad = file.includes("Server") ? ["abc", "-1"] : ["70000"];
      const runs = await Promise.all(bad.map((value) => runScript(file, [`--port=${value}`], { ms: MS })));
      runs.forEach((run, i) => assertOneLineFailure(run, 2, new RegExp(`--port '${bad[i]}'`)));
    });
  }

  for (const file of ["UDP_Client.ts", "TCP_Client.ts"]) {
    test(`${file}: --port 0 and a bad --timeout exit 2 with one line naming the flag`, async () => {
      assertOneLineFailure(await runScript(file, ["--port", "0"], { ms: MS }), 2, /--port '0'/);
      // positiveNumber(): plain decimals above 0, at most 2147483 s (setTimeout's limit).
      const bad = ["0", "1e9", "abc", "2147484"];
      const runs = await Promise.all(bad.map((value) => runScript(file, [`--timeout=${value}`], { ms: MS })));
      runs.forEach((run, i) => assertOneLineFailure(run, 2, new RegExp(`--timeout '${bad[i]}'`)));
    });
  }

});
