// Tests for Q6, the calculator session over TCP: the pure parts (parsing, arithmetic, result
// formatting, line framing), the server driven by raw sockets, the client end to end with
// piped standard input, and the client on a real terminal (tmux).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import * as client from "../q6/TCP_Client.ts";
import { answer, EXPRESSION, readLines } from "../q6/TCP_Server.ts";
import { LineSocket, Running, closedPort, runScript, sleep, socketPair, startServer } from "./helpers.ts";
import { skipTmux, Terminal } from "./terminal.ts";

const SERVER = "q6/TCP_Server.ts";
const CLIENT = "q6/TCP_Client.ts";

describe("q6 calculator: pure functions", () => {
  test("the contract's four examples", () => {
    assert.equal(answer("12 + 42"), "54");
    assert.equal(answer("3.24 - 45"), "-41.76");
    assert.equal(answer("4.5 / -6"), "-0.75");
    assert.equal(answer("0.1 + 0.2"), "0.3");
  });

  test("numbers: signs, leading and trailing points", () => {
    assert.equal(answer("-6 * -2"), "12");
    assert.equal(answer("+3 - .5"), "2.5");
    assert.equal(answer("5. / 2"), "2.5");
    assert.equal(answer("-.5 + 1"), "0.5");
    assert.equal(answer("0 * -5"), "0");
    assert.equal(answer("-2 * 0"), "0");
  });

  test("white space: extra spaces and tabs between and around the parts are fine", () => {
    assert.equal(answer("   12    +\t\t42  "), "54");
    assert.equal(answer("\t7\t*\t6\t"), "42");
  });

  test("malformed expressions are rejected with what was expected", () => {
    const malformed = ["12 +", "12", "+ 42", "12 42", "2 ^ 3", "2 x 3", "1 + 2 + 3", "12+42", "12 +42", "a + 1", "1 + b",
      "1e5 + 1", "0x10 + 1", "Infinity - 1", "NaN * 2", "1 + -", ". + 1", "1,5 + 1", "1_000 + 1", "٣ + 1", "q", "2 ** 3"];
    for (const line of malformed) {
      assert.ok(!EXPRESSION.test(line), `${JSON.stringify(line)} should be rejected`);
      assert.equal(answer(line), "ERROR malformed expression: expected <number> <op> <number>", line);
    }
  });

  test("empty lines and division by zero are errors", () => {
    assert.equal(answer(""), "ERROR empty expression");
    assert.equal(answer("   \t "), "ERROR empty expression");
    assert.equal(answer("10 / 0"), "ERROR division by zero");
    assert.equal(answer("0 / -0"), "ERROR division by zero");
  });

  test("a result too large for a double is an error, not Infinity", () => {
    const huge = `9${"0".repeat(300)}`;
    assert.equal(answer(`${huge} * ${huge}`), "ERROR result too large");
    assert.equal(answer(`1${"0".repeat(400)} + 1`), "ERROR result too large");
  });

  test("results: plain notation, at most 12 significant digits, no trailing zeros, no -0", () => {
    assert.equal(answer("50 + 4"), "54");
    assert.equal(answer("0 * -1"), "0");
    assert.equal(answer("-0 + -0"), "0");
    assert.equal(answer("1 / 3"), "0.333333333333");
    assert.equal(answer("2 / 3"), "0.666666666667");
    assert.equal(answer("-2 / 3"), "-0.666666666667");
    assert.equal(answer("99.99999999999999 + 0"), "100");
    assert.equal(answer("0.00000015 * 1"), "0.00000015");
    assert.equal(answer("123456789012345 * 1"), "123456789012000");
    assert.equal(answer("0.000123456789012345 * 1"), "0.000123456789012");
    assert.equal(answer("1000000000000000000000 * 1"), `1${"0".repeat(21)}`);
    assert.equal(answer(`1${"0".repeat(300)} * 1`), `1${"0".repeat(300)}`);
    assert.equal(answer(`0.${"0".repeat(299)}1 * 1`), `0.${"0".repeat(299)}1`);
    assert.equal(answer(`-0.${"0".repeat(299)}1 * 1`), `-0.${"0".repeat(299)}1`);
    assert.equal(answer(`17976931348623157${"0".repeat(292)} * 1`), `179769313486${"0".repeat(297)}`);
    assert.equal(answer("999999999999.5 * 1"), "1000000000000");
    // Every result is a plain decimal: digits, at most one point, no exponent.
    const lines = ["1 / 10000000", "1 / 1000000000000000000000", "1180591620717411303424 * 1", "-1 / 1099511627776",
      "0.1 * 3", "10000000000000002 * 1", `0.${"0".repeat(323)}5 * 1`, "7 / 9"];
    for (const line of lines) {
      assert.match(answer(line), /^-?\d+(\.\d*[1-9])?$/, line);
      assert.ok(answer(line).replace(/[-.]/g, "").replace(/^0+/, "").replace(/0+$/, "").length <= 12, line);
    }
  });

  test("the client checks a line with the server's very rule before sending it", () => {
    assert.equal(client.EXPRESSION.source, EXPRESSION.source);
  });
});

describe("q6 line framing (readLines)", () => {
  test("split and coalesced reads, a character split mid-byte, \\r\\n, a last line without \\n", { timeout: 5000 }, async () => {
    const { writer, reader } = await socketPair();
    const bytes = Buffer.from("Zoë 🙂\r\none\ntwo\n\nthree", "utf8");
    const received: string[] = [];
    const reading = (async () => {
      for await (const line of readLines(reader, 100)) received.push(line);
    })();
    // Byte by byte: every multibyte character arrives in pieces.
    for (const byte of bytes) {
      writer.write(Buffer.from([byte]));
      await sleep(2);
    }
    writer.end();
    await reading;
    assert.deepEqual(received, ["Zoë 🙂", "one", "two", "", "three"]);
    for (const line of received) assert.ok(!line.includes("\uFFFD"), line);
    reader.destroy();
  });

  test("both server and client copies are the same and throw RangeError on an over-long line", { timeout: 5000 }, async () => {
    for (const readLinesUnderTest of [readLines, client.readLines]) {
      const { writer, reader } = await socketPair();
      writer.on("error", () => {});
      writer.write("short\n" + "x".repeat(200));
      writer.end();
      const received: string[] = [];
      await assert.rejects(async () => {
        for await (const line of readLinesUnderTest(reader, 100)) received.push(line);
      }, RangeError);
      assert.deepEqual(received, ["short"]);
      // The socket is left open (the caller still owes an ERROR line and a clean close).
      assert.equal(reader.destroyed, false);
      reader.destroy();
      writer.destroy();
    }
  });
});

describe("q6 server over raw sockets", () => {
  /** Connects to the server and sends a name line. */
  async function session(port: number, name: string) {
    const socket = await LineSocket.connect(port);
    socket.send(`${name}\n`);
    return socket;
  }

  test("the first line, two expressions in one write, one split over three writes, q ends the session", async () => {
    const { server, port, firstLine } = await startServer(SERVER);
    assert.match(firstLine, /^Server started on 127\.0\.0\.1:\d+ \.\.\.waiting for a connection from the client$/);
    const alice = await session(port, "Alice");
    await server.waitForLine(/^Server: session started with "Alice"$/);
    alice.send("12 + 42\n3.24 - 45\n");
    assert.equal(await alice.line(2), "-41.76");
    assert.equal(alice.lines[0], "54");
    for (const piece of ["4.", "5 / ", "-6\n"]) {
      alice.send(piece);
      await sleep(80);
    }
    assert.equal(await alice.line(3), "-0.75");
    await server.waitForLine(/^Server: Alice sent: 4\.5 \/ -6$/);
    const before = server.stdout.length;
    alice.send("q\n");
    await alice.waitForClose();
    await server.waitForLine(/^Session ended$/, 5000, before);
    assert.deepEqual(alice.lines, ["54", "-41.76", "-0.75"], "no greeting, no extra lines");
    assert.ok(server.stdout.includes("Server: Alice sent: q"));
    assert.equal((await server.stop("SIGTERM")).code, 0);
  });

  test("a multibyte name split mid-character, \\r\\n line ends, ERROR for malformed and empty lines", async () => {
    const { server, port } = await startServer(SERVER);
    const socket = await LineSocket.connect(port);
    const name = Buffer.from("Zoë 🙂\r\n", "utf8");
    socket.send(name.subarray(0, 3)); // "Zo" and the first byte of "ë"
    await sleep(80);
    socket.send(name.subarray(3, 7)); // the rest of "ë", a space, part of the emoji
    await sleep(80);
    socket.send(name.subarray(7));
    await server.waitForLine(/^Server: session started with "Zoë 🙂"$/);
    socket.send("1 + 1\r\n12 +\r\n\r\n2 ^ 3\n10 / 0\r\n");
    await socket.line(5);
    assert.equal(socket.lines[0], "2");
    assert.match(socket.lines[1]!, /^ERROR malformed expression: /);
    assert.equal(socket.lines[2], "ERROR empty expression");
    assert.match(socket.lines[3]!, /^ERROR malformed expression: expected <number> <op> <number>$/);
    assert.equal(socket.lines[4], "ERROR division by zero");
    socket.send("q\r\n");
    await socket.waitForClose();
    await server.waitForLine(/^Session ended$/);
    assert.equal((await server.stop("SIGINT")).code, 0);
  });

  test("one session at a time: a second client waits, is not dropped, and is served after q", async () => {
    const { server, port } = await startServer(SERVER);
    const alice = await session(port, "Alice");
    alice.send("1 + 2\n");
    assert.equal(await alice.line(1), "3");
    // Bob connects during Alice's session and sends everything at once.
    const bob = await session(port, "Bob");
    bob.send("2 * 3\n7 - 10\n");
    await server.waitForLine(/waits until the session with "Alice" ends/);
    await sleep(500);
    assert.deepEqual(bob.lines, [], "Bob gets nothing while Alice's session lasts");
    assert.equal(bob.closed, false, "Bob is not dropped");
    assert.ok(!server.stdout.some((line) => line.includes("Bob")), "the server has not read Bob yet");
    alice.send("4 / 2\n");
    assert.equal(await alice.line(2), "2");
    alice.send("q\n");
    await alice.waitForClose();
    assert.equal(await bob.line(2), "-3");
    assert.equal(bob.lines[0], "6");
    const bobStarted = server.stdout.indexOf(await server.waitForLine(/session started with "Bob"/));
    const ended = server.stdout.indexOf("Session ended");
    assert.ok(ended !== -1 && ended < bobStarted, server.stdout.join("\n"));
    bob.send("q\n");
    await bob.waitForClose();
    await server.stop();
  });

  test("a client that drops (FIN or reset) without q ends its session, and the next client is served", async () => {
    const { server, port } = await startServer(SERVER);
    const carol = await session(port, "Carol");
    carol.send("1 + 1\n");
    await carol.line(1);
    const dave = await session(port, "Dave");
    dave.send("5 * 5\n");
    carol.socket.end(); // FIN, no q
    assert.equal(await dave.line(1), "25");
    // (The server's console and its replies travel by different pipes: wait for the console.)
    const carolLeft = server.stdout.indexOf(await server.waitForLine(/^Server: Carol: closed the connection without sending q$/));
    assert.equal(server.stdout[carolLeft + 1], "Session ended");
    const erin = await session(port, "Erin");
    erin.send("9 - 1\n");
    dave.socket.resetAndDestroy(); // RST, no q
    assert.equal(await erin.line(1), "8");
    const erinStarted = server.stdout.indexOf(await server.waitForLine(/session started with "Erin"/));
    assert.equal(server.stdout.slice(carolLeft + 2, erinStarted).filter((line) => line === "Session ended").length, 1, server.stdout.join("\n"));
    erin.close();
    assert.equal((await server.stop()).code, 0);
  });

  test("a session that sends no line for --idle-timeout seconds ends, and the next queued client is served", async () => {
    const { server, port } = await startServer(SERVER, ["--idle-timeout", "1"]);
    const alice = await session(port, "Alice"); // her name, then nothing: she walked away
    await server.waitForLine(/^Server: session started with "Alice"$/);
    const bob = await session(port, "Bob");
    bob.send("2 * 3\nq\n");
    await server.waitForLine(/waits until the session with "Alice" ends/);
    await alice.waitForClose(10000);
    assert.equal(await bob.line(1, 10000), "6");
    const idle = server.stdout.indexOf(await server.waitForLine(/^Server: Alice: sent no line for 1 s$/));
    assert.equal(server.stdout[idle + 1], "Session ended");
    await server.waitForLine(/^Server: Bob sent: q$/);
    assert.equal((await server.stop()).code, 0);
  });

  test("the idle session gets one ERROR line saying why; every line it sends restarts the idle time", async () => {
    const { server, port } = await startServer(SERVER, ["--idle-timeout", "2"]);
    const alice = await session(port, "Alice");
    const started = Date.now();
    for (const expression of ["1 + 1", "2 + 2", "3 + 3"]) {
      await sleep(1200); // each line comes 1.2 s after the last: never 2 s of silence
      alice.send(`${expression}\n`);
    }
    await alice.line(3, 5000);
    assert.equal(alice.closed, false, "still served after 3.6 s, because lines kept coming");
    await alice.waitForClose(10000);
    assert.ok(Date.now() - started >= 3600 + 1900, `closed only 2 s after the last line (${Date.now() - started} ms)`);
    assert.deepEqual(alice.lines, ["2", "4", "6", "ERROR no line for 2 s, so the session is closed"]);
    await server.waitForLine(/^Server: Alice: sent no line for 2 s$/);
    await server.stop();
  });

  test("garbage does not kill the server: random bytes, invalid UTF-8, an over-long line", async () => {
    const { server, port } = await startServer(SERVER);
    const noise = await LineSocket.connect(port);
    noise.send(randomBytes(50_000));
    noise.send(Buffer.from([0xff, 0xfe, 0xc3, 0x0a, 0x80, 0x0a, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]));
    await sleep(200);
    noise.close();
    await server.waitForLine(/^Session ended$/, 10000);
    assert.ok(!server.stdout.some((line) => line.includes("\x1b")), "control characters are escaped in the log");

    const long = await session(port, "Long");
    long.send("x".repeat(70_000));
    await long.waitForClose(10000);
    assert.deepEqual(long.lines, ["ERROR line too long"]);

    const after = await session(port, "After");
    after.send("6 / 4\n");
    assert.equal(await after.line(1), "1.5");
    after.send("q\n");
    await after.waitForClose();
    assert.equal(server.child.exitCode, null, "still running");
    assert.equal(server.stderr.join(""), "");
    assert.equal((await server.stop("SIGTERM")).code, 0);
  });

  test("--help exits 0; an unknown flag, a bad port or a bad --idle-timeout exits 2 with one line", async () => {
    const cases = [["--help"], ["--bogus"], ["--port", "70000"], ["--idle-timeout", "0"]];
    const [help, bad, port, idle] = await Promise.all(cases.map((args) => runScript(SERVER, args, { ms: 30000 })));
    assert.equal(help!.code, 0);
    assert.match(help!.out, /--port P.*43390/);
    assert.match(help!.out, /--idle-timeout S.*300/);
    assert.equal(bad!.code, 2);
    assert.deepEqual([bad!.stderr.length, bad!.stdout.length], [1, 0]);
    assert.match(bad!.err, /--bogus/);
    assert.equal(port!.code, 2);
    assert.match(port!.err, /--port '70000'/);
    assert.equal(idle!.code, 2);
    assert.deepEqual([idle!.stderr.length, idle!.stdout.length], [1, 0]);
    assert.match(idle!.err, /--idle-timeout '0'/);
  });
});

describe("q6 client end to end (piped stdin)", () => {
  // One server for the first two tests: their sessions follow each other.
  let shared: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    shared = await startServer(SERVER);
  });
  after(() => shared.server.stop());

  test("prints each reply verbatim, warns on malformed lines without sending them, q exits 0", async () => {
    const { server, port } = shared;
    const input = "12 + 42\n3.24 - 45\n12 +\n\n4.5 / -6\n2 x 3\n10 / 0\n0.1 + 0.2\nq\n1 + 1\n";
    const run = await runScript(CLIENT, ["--port", String(port), "--name", "Alice"], { input, ms: 20000 });
    assert.equal(run.code, 0, run.err);
    assert.equal(run.err, "");
    const replies = run.stdout.filter((line) => !line.startsWith("Client:"));
    assert.deepEqual(replies, ["54", "-41.76", "-0.75", "ERROR division by zero", "0.3"]);
    const warnings = run.stdout.filter((line) => line.includes("Invalid"));
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]!, /^Client: Invalid input "12 \+": /);
    assert.match(warnings[1]!, /^Client: Invalid input "": expected <number> <op> <number>$/);
    assert.match(warnings[2]!, /^Client: Invalid input "2 x 3": /);
    await server.waitForLine(/^Session ended$/);
    const received = server.stdout.filter((line) => line.startsWith("Server: Alice sent: ")).map((line) => line.slice(20));
    assert.deepEqual(received, ["12 + 42", "3.24 - 45", "4.5 / -6", "10 / 0", "0.1 + 0.2", "q"], "malformed lines and lines after q are not sent");
  });

  test("the end of stdin ends the session like q; many piped lines are all answered, in order", async () => {
    const { server, port } = shared;
    const from = server.stdout.length;
    const count = 300;
    const input = Array.from({ length: count }, (_, i) => `${i} * 2\n`).join("");
    const run = await runScript(CLIENT, ["--port", String(port), "--name", "Bulk"], { input, ms: 30000 });
    assert.equal(run.code, 0, run.err);
    const replies = run.stdout.filter((line) => !line.startsWith("Client:"));
    assert.deepEqual(replies, Array.from({ length: count }, (_, i) => String(i * 2)));
    await server.waitForLine(/^Server: Bulk sent: q$/, 5000, from);
    await server.waitForLine(/^Session ended$/, 5000, from);
    assert.ok(!server.stdout.some((line) => line.includes("without sending q")));
  });

  test("a client queued behind another session is told why no reply comes, then served; it exits 0", async () => {
    const { server, port } = shared;
    const from = server.stdout.length;
    const alice = new Running(CLIENT, ["--port", String(port), "--name", "Alice"]);
    alice.write("1 + 2\n");
    await alice.waitForLine(/^3$/, 15000);
    const bob = new Running(CLIENT, ["--port", String(port), "--name", "Bob"]);
    bob.write("2 * 3\nq\n");
    bob.endInput();
    await server.waitForLine(/waits until the session with "Alice" ends/, 15000, from);
    await bob.waitForLine(/^Client: no reply yet: the server must be busy with another session/, 15000);
    assert.equal(bob.child.exitCode, null, "Bob still waits");
    assert.ok(!bob.stdout.includes("6"));
    alice.endInput(); // Ctrl-D: Alice's client sends q
    assert.equal((await alice.waitForExit(15000)).code, 0);
    assert.equal((await bob.waitForExit(15000)).code, 0);
    assert.ok(bob.stdout.includes("6"), bob.stdout.join("\n"));
    await server.waitForLine(/^Server: Bob sent: q$/, 5000, from);
  });

  test("SIGINT while queued sends q and exits 0 at once; the server then skips the session", async () => {
    const { server, port } = shared;
    const from = server.stdout.length;
    const alice = await LineSocket.connect(port);
    alice.send("Alice\n");
    await server.waitForLine(/^Server: session started with "Alice"$/, 5000, from);
    const bob = new Running(CLIENT, ["--port", String(port), "--name", "Bob"]);
    try {
      bob.write("2 * 3\n");
      await bob.waitForLine(/^Client: no reply yet/, 15000);
      const interrupted = Date.now();
      bob.child.kill("SIGINT");
      const { code } = await bob.waitForExit(5000);
      assert.equal(code, 0);
      assert.ok(Date.now() - interrupted < 2000, `exited ${Date.now() - interrupted} ms after SIGINT`);
      alice.send("q\n");
      await server.waitForLine(/^Server: Bob sent: q$/, 5000, from);
    } finally {
      alice.close();
      bob.child.kill("SIGKILL");
    }
  });

  test("--timeout bounds the connect to a host that never answers: one line, exit 1", async () => {
    // 198.51.100.1 is a documentation address (TEST-NET-2): nothing answers there.
    const started = Date.now();
    const run = await runScript(CLIENT, ["--host", "198.51.100.1", "--timeout", "1"], { ms: 20000 });
    assert.equal(run.code, 1, run.err);
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
    assert.equal(run.stderr.length, 1, run.err);
    assert.ok(run.err.includes("198.51.100.1:43390"), run.err);
  });

  test("the default name; the server going away mid-session: one line, exit 1", async () => {
    const { server, port } = await startServer(SERVER);
    const run = new Running(CLIENT, ["--port", String(port)]);
    await server.waitForLine(/^Server: session started with "Calculator client"/, 15000);
    run.write("2 + 2\n");
    await run.waitForLine(/^4$/);
    await server.stop("SIGTERM");
    const { code } = await run.waitForExit(15000);
    assert.equal(code, 1);
    assert.equal(run.stderr.length, 1, run.stderr.join("\n"));
    assert.match(run.stderr[0]!, /closed the connection/);
  });

  test("an unreachable server: one line naming 127.0.0.1:PORT, exit 1", async () => {
    const port = await closedPort();
    const run = await runScript(CLIENT, ["--port", String(port)], { input: "1 + 1\n", ms: 20000 });
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout, []);
    assert.equal(run.stderr.length, 1);
    assert.ok(run.err.includes(`127.0.0.1:${port}`), run.err);
  });

  test("--help exits 0; an unknown flag, a bad port or a bad --timeout exits 2 with one line", async () => {
    const help = await runScript(CLIENT, ["--help"], { ms: 30000 });
    assert.equal(help.code, 0);
    assert.match(help.out, /--name NAME/);
    assert.match(help.out, /--timeout S/);
    const cases = [["--bogus"], ["--port", "0"], ["--timeout", "0"]];
    const runs = await Promise.all(cases.map((args) => runScript(CLIENT, args, { ms: 30000 })));
    runs.forEach((bad, i) => {
      assert.equal(bad.code, 2, cases[i]!.join(" "));
      assert.equal(bad.stderr.length, 1, cases[i]!.join(" "));
      assert.deepEqual(bad.stdout, []);
    });
    assert.match(runs[0]!.err, /--bogus/);
    assert.match(runs[1]!.err, /--port '0'/);
    assert.match(runs[2]!.err, /--timeout '0'/);
  });
});

// ---------------------------------------------------------------------------------------
// On a real terminal: tmux gives the client a pseudo-terminal and shows us its screen.


describe("q6 client on a terminal (tmux)", skipTmux, () => {
  /** A server, and Alice (a raw socket) in session on it, so that the client under test queues. */
  async function busyServer() {
    const started = await startServer(SERVER);
    const alice = await LineSocket.connect(started.port);
    alice.send("Alice\n");
    await started.server.waitForLine(/^Server: session started with "Alice"$/);
    return { ...started, alice };
  }

  test("lines typed while queued each keep their prompt, and their replies follow in order", async () => {
    const { server, port, alice } = await busyServer();
    const terminal = await Terminal.start(CLIENT, ["--port", String(port), "--name", "Bob"], 160, 24);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      await terminal.type("1 + 1");
      await terminal.enter();
      await terminal.waitFor("the queued note", (s) => s.rows.some((row) => row.startsWith("Client: no reply yet")));
      await terminal.type("2 + 2");
      await terminal.enter();
      await terminal.type("3 + 3");
      await terminal.enter();
      await terminal.waitFor("both typed lines", (s) => s.rows.at(-2) === "> 3 + 3" && s.rows.at(-1) === ">");
      alice.send("q\n");
      const screen = await terminal.waitFor("the three replies", (s) => s.rows.includes("6"));
      const rows = screen.rows.slice(1); // below the "connected" line
      assert.deepEqual(rows.filter((row) => !row.startsWith("Client:")), ["> 1 + 1", "> 2 + 2", "> 3 + 3", "2", "4", "6", ">"],
        screen.rows.join("\n"));
      await terminal.type("q");
      await terminal.enter();
      assert.equal((await terminal.waitFor("the client to exit", (s) => s.exited)).status, 0);
    } finally {
      await terminal.kill();
      alice.close();
      await server.stop();
    }
  });

  test("Ctrl-C while queued exits at once", async () => {
    const { server, port, alice } = await busyServer();
    const terminal = await Terminal.start(CLIENT, ["--port", String(port), "--name", "Bob"], 160, 24);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      await terminal.type("1 + 1");
      await terminal.enter();
      await terminal.waitFor("the queued note", (s) => s.rows.some((row) => row.startsWith("Client: no reply yet")));
      const pressed = Date.now();
      await terminal.press("C-c");
      const end = await terminal.waitFor("the client to exit", (s) => s.exited, 5000);
      assert.equal(end.status, 0);
      assert.ok(Date.now() - pressed < 3000, `exited ${Date.now() - pressed} ms after Ctrl-C`);
    } finally {
      await terminal.kill();
      alice.close();
      await server.stop();
    }
  });

  test("the server-gone notice gets a row of its own, never the half-typed line's", async () => {
    const { server, port } = await startServer(SERVER);
    const terminal = await Terminal.start(CLIENT, ["--port", String(port), "--name", "Bob"], 160, 24);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      await terminal.type("2 * 21");
      await terminal.enter();
      await terminal.waitFor("the reply", (s) => s.rows.includes("42"));
      await terminal.type("12 +");
      await terminal.waitFor("the half-typed line", (s) => s.rows.at(-1) === "> 12 +");
      await server.stop();
      const end = await terminal.waitFor("the client to exit", (s) => s.exited);
      assert.equal(end.status, 1);
      const notice = end.rows.find((row) => row.includes("closed the connection"));
      assert.ok(notice?.startsWith("Client: the server at 127.0.0.1:"), end.rows.join("\n"));
    } finally {
      await terminal.kill();
      await server.stop();
    }
  });
});
