// Tests for Q6, the calculator session over TCP: the pure parts (parsing, arithmetic, result
// formatting, line framing), the server driven by raw sockets, and the client end to end with
// piped standard input.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import * as client from "../q6/TCP_Client.ts";
import { answer, calculate, formatResult, parseExpression, readLines } from "../q6/TCP_Server.ts";
import { LineSocket, Running, closedPort, runScript, sleep, socketPair, startServer } from "./helpers.ts";

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
    assert.deepEqual(parseExpression("-6 * -2"), { left: -6, op: "*", right: -2 });
    assert.deepEqual(parseExpression("+3 - .5"), { left: 3, op: "-", right: 0.5 });
    assert.deepEqual(parseExpression("5. / 2"), { left: 5, op: "/", right: 2 });
    assert.equal(answer("-.5 + 1"), "0.5");
    assert.equal(answer("0 * -5"), "0");
    assert.equal(answer("-2 * 0"), "0");
  });

  test("white space: extra spaces and tabs between and around the parts are fine", () => {
    assert.equal(answer("   12    +\t\t42  "), "54");
    assert.equal(answer("\t7\t*\t6\t"), "42");
  });

  test("malformed expressions are rejected with a reason", () => {
    const malformed = ["12 +", "12", "+ 42", "12 42", "2 ^ 3", "2 x 3", "1 + 2 + 3", "12+42", "12 +42", "a + 1", "1 + b",
      "1e5 + 1", "0x10 + 1", "Infinity - 1", "NaN * 2", "1 + -", ". + 1", "1,5 + 1", "1_000 + 1", "٣ + 1", "q"];
    for (const line of malformed) {
      const parsed = parseExpression(line);
      assert.ok("error" in parsed, `${JSON.stringify(line)} should be rejected, got ${JSON.stringify(parsed)}`);
      assert.match(answer(line), /^ERROR malformed expression: \S/, line);
    }
    assert.match(answer("2 ^ 3"), /unknown operator "\^"/);
    assert.match(answer("2 x 3"), /unknown operator "x"/);
    assert.match(answer("12+42"), /spaces/);
    assert.match(answer("1e5 + 1"), /"1e5" is not a plain decimal/);
  });

  test("empty lines and division by zero are errors", () => {
    assert.equal(answer(""), "ERROR empty expression");
    assert.equal(answer("   \t "), "ERROR empty expression");
    assert.equal(answer("10 / 0"), "ERROR division by zero");
    assert.equal(answer("0 / -0"), "ERROR division by zero");
    assert.deepEqual(calculate({ left: 1, op: "/", right: 0 }), { error: "division by zero" });
  });

  test("a result too large for a double is an error, not Infinity", () => {
    const huge = `9${"0".repeat(300)}`;
    assert.equal(answer(`${huge} * ${huge}`), "ERROR result too large");
    assert.match(answer(`1${"0".repeat(400)} + 1`), /^ERROR malformed expression: a number is too large$/);
  });

  test("results: plain notation, at most 12 significant digits, no trailing zeros, no -0", () => {
    assert.equal(formatResult(54), "54");
    assert.equal(formatResult(-0), "0");
    assert.equal(formatResult(0), "0");
    assert.equal(formatResult(1 / 3), "0.333333333333");
    assert.equal(formatResult(2 / 3), "0.666666666667");
    assert.equal(formatResult(-2 / 3), "-0.666666666667");
    assert.equal(formatResult(100), "100");
    assert.equal(formatResult(1.5e-7), "0.00000015");
    assert.equal(formatResult(123456789012345), "123456789012000");
    assert.equal(formatResult(0.000123456789012345), "0.000123456789012");
    assert.equal(formatResult(1e21), `1${"0".repeat(21)}`);
    assert.equal(formatResult(1e300 * 1), `1${"0".repeat(300)}`);
    assert.equal(formatResult(1e-300), `0.${"0".repeat(299)}1`);
    assert.equal(formatResult(-1e-300), `-0.${"0".repeat(299)}1`);
    assert.equal(formatResult(Number.MAX_VALUE), `179769313486${"0".repeat(297)}`);
    assert.equal(formatResult(999999999999.5), "1000000000000");
    assert.equal(answer(`1${"0".repeat(300)} * 1`), `1${"0".repeat(300)}`);
    assert.equal(answer(`0.${"0".repeat(299)}1 * 1`), `0.${"0".repeat(299)}1`);
    // Every result is a plain decimal: digits, at most one point, no exponent.
    for (const value of [1e-7, 1e-21, 2 ** 70, -(2 ** -40), 0.1 * 3, 1e16 + 2, 5e-324]) {
      assert.match(formatResult(value), /^-?\d+(\.\d*[1-9])?$/, String(value));
      assert.ok(formatResult(value).replace(/[-.]/g, "").replace(/^0+/, "").replace(/0+$/, "").length <= 12, String(value));
    }
  });

  test("the client's check agrees with the server's on every case", () => {
    const lines = ["12 + 42", "3.24 - 45", "4.5 / -6", "", " ", "12 +", "12+42", "2 ^ 3", "1 + 2 + 3", "+3 * .5", "5. - 1",
      "1e5 + 1", "0x1 + 1", "Infinity + 1", "\t1\t/\t0\t", "a b c", `1${"0".repeat(400)} + 1`];
    for (const line of lines) assert.deepEqual(client.parseExpression(line), parseExpression(line), JSON.stringify(line));
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
    await server.waitForLine(/^Server: session started with "Alice" from 127\.0\.0\.1:\d+$/);
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
    await server.waitForLine(/^Server: session started with "Zoë 🙂" from /);
    socket.send("1 + 1\r\n12 +\r\n\r\n2 ^ 3\n10 / 0\r\n");
    await socket.line(5);
    assert.equal(socket.lines[0], "2");
    assert.match(socket.lines[1]!, /^ERROR malformed expression: /);
    assert.equal(socket.lines[2], "ERROR empty expression");
    assert.match(socket.lines[3]!, /^ERROR malformed expression: unknown operator/);
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
    const carolLeft = server.stdout.indexOf(await server.waitForLine(/^Server: Carol closed the connection without sending q$/));
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

  test("--help exits 0; an unknown flag or a bad port exits 2 with one line", async () => {
    const [help, bad, port] = await Promise.all([["--help"], ["--bogus"], ["--port", "70000"]].map((args) => runScript(SERVER, args, { ms: 30000 })));
    assert.equal(help!.code, 0);
    assert.match(help!.out, /--port P.*43390/);
    assert.equal(bad!.code, 2);
    assert.deepEqual([bad!.stderr.length, bad!.stdout.length], [1, 0]);
    assert.match(bad!.err, /--bogus/);
    assert.equal(port!.code, 2);
    assert.match(port!.err, /--port '70000'/);
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
    assert.match(warnings[1]!, /^Client: Invalid input "": empty expression$/);
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
    await bob.waitForLine(/^Client: no reply yet; the server serves one client at a time/, 15000);
    assert.equal(bob.child.exitCode, null, "Bob still waits");
    assert.ok(!bob.stdout.includes("6"));
    alice.endInput(); // Ctrl-D: Alice's client sends q
    assert.equal((await alice.waitForExit(15000)).code, 0);
    assert.equal((await bob.waitForExit(15000)).code, 0);
    assert.ok(bob.stdout.includes("6"), bob.stdout.join("\n"));
    await server.waitForLine(/^Server: Bob sent: q$/, 5000, from);
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

  test("--help exits 0; an unknown flag, a bad port or an empty name exits 2 with one line", async () => {
    const help = await runScript(CLIENT, ["--help"], { ms: 30000 });
    assert.equal(help.code, 0);
    assert.match(help.out, /--name NAME/);
    const cases = [["--bogus"], ["--port", "0"], ["--name", ""]];
    const runs = await Promise.all(cases.map((args) => runScript(CLIENT, args, { ms: 30000 })));
    runs.forEach((bad, i) => {
      assert.equal(bad.code, 2, cases[i]!.join(" "));
      assert.equal(bad.stderr.length, 1, cases[i]!.join(" "));
      assert.deepEqual(bad.stdout, []);
    });
    assert.match(runs[0]!.err, /--bogus/);
    assert.match(runs[1]!.err, /--port '0'/);
    assert.match(runs[2]!.err, /--name/);
  });
});
