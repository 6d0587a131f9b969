// End-to-end tests for the chat room manager (Q8): the real q8/Chat_Server.ts in its own
// process, driven by raw sockets (helpers.LineSocket) exactly as the contract's Q8 section
// describes the wire. This file: the three limits, the signals and the flags; tests/q8-server.test.ts has the
// room itself, tests/q8-server-functions.test.ts the pure functions.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { JOINED, LEFT, login, receivesInOrder } from "./chat-helpers.ts";
import { LineSocket, runScript, sleep, startServer } from "./helpers.ts";

const SERVER = "q8/Chat_Server.ts";
describe("q8 server: limits, signals and flags (a room of its own per test)", () => {
  test("--login-timeout: a connection that sends no name is told why and closed; members are undisturbed", async () => {
    const { server, port } = await startServer(SERVER, ["--login-timeout", "0.5"]);
    const member = await login(port, "Early");
    const silent = await LineSocket.connect(port);
    const tooSlow = await LineSocket.connect(port);
    tooSlow.send("half a na"); // no "\n": not a login
    await silent.waitForClose(5000);
    await tooSlow.waitForClose(5000);
    assert.match(silent.lines[0] ?? "", /^ERROR .*login/);
    assert.equal(silent.lines.length, 1);
    // A member who logged in in time stays, however long it is quiet.
    await sleep(800);
    assert.equal(member.closed, false);
    const other = await login(port, "Later");
    other.send("ping\n");
    await member.waitFor(/^Later: ping$/);
    for (const socket of [member, other]) socket.close();
    await server.stop();
  });

  test("--login-timeout: a name sent after the timeout, on the half-closed connection, does not log in", async () => {
    const { server, port } = await startServer(SERVER, ["--login-timeout", "0.5"]);
    const member = await login(port, "Early");
    // allowHalfOpen: our side stays writable after the server's FIN, as a misbehaving client's may.
    const late = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    late.on("error", () => {});
    let told = "";
    late.on("data", (chunk: Buffer) => (told += chunk.toString("utf8")));
    await once(late, "end", { signal: AbortSignal.timeout(5000) }); // the server closed its side
    assert.match(told, /^ERROR .*login/);
    late.end("Late\n");
    await sleep(500);
    member.send("anyone?\n");
    await sleep(300);
    assert.ok(!member.lines.some((line) => line.includes("Late")), member.lines.join("\n"));
    assert.ok(!server.stdout.some((line) => line.includes("Late has joined")), server.stdout.join("\n"));
    late.destroy();
    member.close();
    await server.stop();
  });

  test("--max-line: a longer line gets 'ERROR line too long' and the connection is closed (a member is announced as left)", async () => {
    const { server, port } = await startServer(SERVER, ["--max-line", "100"]);
    const listener = await login(port, "Listener");
    const talker = await login(port, "Talker");
    talker.send(`${"a".repeat(100)}\n`); // exactly the limit: fine
    talker.send(`${"é".repeat(50)}\r\n`); // 100 bytes and a "\r": fine
    await receivesInOrder(listener, [`Talker: ${"a".repeat(100)}`, `Talker: ${"é".repeat(50)}`]);
    talker.send(`${"b".repeat(101)}\n`);
    await talker.waitFor(/^ERROR line too long$/);
    await talker.waitForClose();
    await listener.waitFor(LEFT("Talker", "1"));
    assert.ok(!listener.lines.some((line) => line.includes("bbb")));
    await server.waitForLine(/Talker has left\. Member count=1 \(line too long\)$/);
    // A line that never ends counts too, and before login as well (no announcement then).
    const stranger = await LineSocket.connect(port);
    stranger.send("c".repeat(5000));
    await stranger.waitFor(/^ERROR line too long$/);
    await stranger.waitForClose();
    const third = await login(port, "Third");
    listener.send("hello Third\n");
    await third.waitFor(/^Listener: hello Third$/);
    assert.equal(listener.lines.filter((line) => line.includes("has left")).length, 1);
    for (const socket of [listener, third]) socket.close();
    await server.stop();
  });

  test("--max-queue: a member that stops reading is cut off and announced; the others keep up", async () => {
    const { server, port } = await startServer(SERVER, ["--max-queue", "65536"]);
    const reader = await login(port, "Reader");
    const flooder = await login(port, "Flooder");
    // The sleeper logs in, then never reads again: the kernel's buffers fill, then the server's.
    const sleeper = await login(port, "Sleeper");
    await reader.waitFor(JOINED("Sleeper", "3"));
    sleeper.socket.pause();
    const line = "z".repeat(1000);
    let sent = 0;
    // Bounded flood: at most 30 MB, stopped as soon as the sleeper is announced as left.
    while (sent < 30000 && !reader.lines.some((l) => LEFT("Sleeper").test(l))) {
      for (let i = 0; i < 100; i++) flooder.send(`${sent++} ${line}\n`);
      await sleep(5);
    }
    await reader.waitFor(LEFT("Sleeper", "2"), 20000);
    await server.waitForLine(/Sleeper has left\. Member count=2 \(too slow\)$/);
    // The reader got every line so far, in order, and still gets new ones at once.
    flooder.send("after the sleeper\n");
    await reader.waitFor(/^Flooder: after the sleeper$/, 20000);
    const numbers = reader.lines.filter((l) => l.startsWith("Flooder: ") && l.endsWith(line)).map((l) => Number(l.split(" ")[1]));
    assert.deepEqual(numbers, [...Array(sent).keys()]);
    sleeper.socket.resume();
    await sleeper.waitForClose(10000);
    for (const socket of [reader, flooder]) socket.close();
    await server.stop();
  });

  test("a member that never reads does not delay the others", async () => {
    // A queue limit far above what is sent, so the stuck member stays, and about 6 MB sent: on
    // loopback the kernel takes about 4 MB for a member that does not read (its receive buffer
    // and the server's send buffer, which grows), so the rest really waits in the server process.
    const { server, port } = await startServer(SERVER, ["--max-queue", "16777216"]);
    const stuck = await login(port, "Stuck");
    stuck.socket.pause();
    const a = await login(port, "A");
    const b = await login(port, "B");
    const count = 12000;
    for (let k = 0; k < count; k++) a.send(`message ${k} ${"y".repeat(500)}\n`);
    await b.waitFor(new RegExp(`^A: message ${count - 1} `), 10000);
    assert.equal(b.lines.filter((l) => l.startsWith("A: message ")).length, count);
    for (const socket of [stuck, a, b]) socket.close();
    await server.stop();
  });

  test("--heartbeat-timeout: a member that sent an empty line and then nothing is closed and announced as left; one that never sent an empty line stays", async () => {
    const { server, port } = await startServer(SERVER, ["--heartbeat-timeout", "1"]);
    const watcher = await login(port, "Watcher");
    const quiet = await login(port, "Quiet"); // a bare nc: never an empty line
    const alive = await login(port, "Alive"); // a chat window: an empty line every 200 ms
    const vanished = await login(port, "Vanished"); // a chat window whose computer went away
    const beat = setInterval(() => alive.send("\n"), 200);
    try {
      vanished.send("\n");
      const started = Date.now();
      await watcher.waitFor(LEFT("Vanished"), 5000);
      assert.ok(Date.now() - started >= 900, `announced after ${Date.now() - started} ms`);
      await server.waitForLine(/Vanished has left\. Member count=3 \(no heartbeat\)$/);
      await vanished.waitForClose();
      await sleep(2500); // two and a half timeouts more: the others stay
      assert.equal(quiet.closed, false);
      assert.equal(alive.closed, false);
      assert.ok(!watcher.lines.some((line) => /(Quiet|Alive) has left/.test(line)), watcher.lines.join("\n"));
      // An empty line is never broadcast.
      assert.ok(!watcher.lines.some((line) => /^(Alive|Vanished):/.test(line)), watcher.lines.join("\n"));
    } finally {
      clearInterval(beat);
      for (const socket of [watcher, quiet, alive, vanished]) socket.close();
      await server.stop();
    }
  });

  test("every connection has TCP keepalive on, first probe after 5 s idle (seen with ss)", async (t) => {
    const ss = spawnSync("ss", ["-V"]);
    if (ss.error !== undefined) return t.skip("needs ss (iproute2) to read the socket's timers");
    const { server, port } = await startServer(SERVER);
    const member = await login(port, "Idle");
    try {
      const shown = spawnSync("ss", ["-tnoH", "state", "established", `( sport = :${port} )`]);
      const timers = shown.stdout.toString();
      assert.match(timers, /timer:\(keepalive,/, timers);
      // ss prints the time to the next probe as e.g. "4.496ms" (4 s 496 ms), "10sec" or "2min".
      const [, min, sec, ms] = /keepalive,(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?,/.exec(timers)!;
      const left = (Number(min ?? 0) * 60 + Number(sec ?? 0)) * 1000 + Number(ms ?? 0);
      assert.ok(left > 0 && left <= 5000, timers);
    } finally {
      member.close();
      await server.stop();
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal}: members are told the room is closing, connections close, exit 0`, async () => {
      const { server, port } = await startServer(SERVER);
      const a = await login(port, "A");
      const b = await login(port, "B");
      const stranger = await LineSocket.connect(port); // connected, not logged in
      await a.waitFor(JOINED("B", "2"));
      const { code } = await server.stop(signal);
      assert.equal(code, 0);
      for (const member of [a, b]) {
        await member.waitFor(/^Server: .*shutting down/);
        await member.waitForClose();
      }
      await stranger.waitForClose();
      assert.ok(!a.lines.some((line) => LEFT("B").test(line)), "no 'has left' storm while closing");
    });
  }

  test("--help exits 0; a bad flag or value exits 2 with one line naming it; a taken port exits 1", async () => {
    const help = await runScript(SERVER, ["--help"]);
    assert.equal(help.code, 0);
    for (const flag of ["--host", "--port", "--login-timeout", "--max-line", "--max-queue"]) assert.match(help.out, new RegExp(flag));
    const bad: [string[], RegExp][] = [
      [["--bogus"], /--bogus/],
      [["--port", "70000"], /--port/],
      [["--login-timeout", "0"], /--login-timeout/],
      [["--max-line", "-5"], /--max-line/],
      [["--max-queue", ""], /--max-queue/],
    ];
    for (const [args, pattern] of bad) {
      const run = await runScript(SERVER, args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.err}`);
      assert.equal(run.stderr.length, 1, run.err);
      assert.match(run.err, pattern);
    }
    const holder = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => holder.once("listening", resolve));
    const taken = await runScript(SERVER, ["--port", String((holder.address() as net.AddressInfo).port)]);
    holder.close();
    assert.equal(taken.code, 1);
    assert.equal(taken.stderr.length, 1, taken.err);
  });
});
