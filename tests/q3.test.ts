// Tests for Q3, the date/time service over UDP: the pure reply function with fixed dates, the
// real server driven by raw UDP sockets, and the real client against the real server and
// against fake servers that stay silent, send strays, or answer late.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { formatDate, formatTime, quote, replyTo } from "../q3/UDP_Server.ts";
import { Running, runScript, startServer, udpRequest } from "./helpers.ts";

const SERVER = "q3/UDP_Server.ts";
const CLIENT = "q3/UDP_Client.ts";
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}:\d{2}$/;
type Run = Awaited<ReturnType<typeof runScript>>;
const CLIENT_LINE = /^Client: (SEND_DATE -> \d{4}-\d{2}-\d{2}|SEND_TIME -> \d{2}:\d{2}:\d{2})$/;

/** A UDP socket of the test's own on 127.0.0.1 that queues every datagram it receives. */
class UdpPeer {
  readonly socket = dgram.createSocket("udp4");
  readonly received: { text: string; bytes: Buffer; address: string; port: number; at: number }[] = [];
  #read = 0;
  #waiters = new Set<() => void>();

  static async open(): Promise<UdpPeer> {
    const peer = new UdpPeer();
    peers.add(peer);
    peer.socket.on("error", () => {});
    peer.socket.on("message", (bytes, sender) => {
      peer.received.push({ text: bytes.toString("utf8"), bytes, address: sender.address, port: sender.port, at: Date.now() });
      for (const wake of peer.#waiters) wake();
    });
    peer.socket.bind(0, "127.0.0.1");
    await once(peer.socket, "listening");
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Uint8Array, port: number) {
    this.socket.send(data, port, "127.0.0.1");
  }

  /** The text of the next datagram not read yet; rejects after `ms`. */
  next(ms = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.received.length > this.#read) {
          cleanup();
          resolve(this.received[this.#read++]!.text);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no datagram on the test socket within ${ms} ms`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  close() {
    peers.delete(this);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
const peers = new Set<UdpPeer>();
after(() => {
  for (const peer of peers) peer.close();
});

/** Runs `work` on every item, three at a time (each is a child process; the machine is shared). */
async function inBatches<Item, Result>(items: Item[], work: (item: Item) => Promise<Result>): Promise<Result[]> {
  const results: Result[] = [];
  for (let start = 0; start < items.length; start += 3) results.push(...(await Promise.all(items.slice(start, start + 3).map(work))));
  return results;
}

/** Seconds since local midnight of an `HH:MM:SS` text. */
function secondsOfDay(text: string): number {
  const [hours, minutes, seconds] = text.split(":").map(Number);
  return hours! * 3600 + minutes! * 60 + seconds!;
}

/** How far apart two `HH:MM:SS` times are, in seconds, across midnight too. */
function timeDistance(a: string, b: string): number {
  const difference = Math.abs(secondsOfDay(a) - secondsOfDay(b));
  return Math.min(difference, 86400 - difference);
}

// The test's own reading of the local clock, independent of the server's formatters: the
// Swedish locale writes dates as YYYY-MM-DD and times as HH:MM:SS.
const localDate = () => new Date().toLocaleDateString("sv-SE");
const localTime = () => new Date().toLocaleTimeString("sv-SE");

describe("replyTo and the formatters (fixed dates)", () => {
  test("dates and times are zero-padded, 24-hour, local", () => {
    const morning = new Date(2024, 0, 5, 3, 4, 5);
    assert.equal(formatDate(morning), "2024-01-05");
    assert.equal(formatTime(morning), "03:04:05");
    const evening = new Date(2025, 11, 31, 23, 59, 59);
    assert.equal(formatDate(evening), "2025-12-31");
    assert.equal(formatTime(evening), "23:59:59");
    assert.equal(formatTime(new Date(2025, 5, 15, 13, 7, 0)), "13:07:00");
    assert.equal(formatDate(new Date(999, 2, 9)), "0999-03-09");
  });

  test("midnight is 00:00:00 of the new day", () => {
    const midnight = new Date(2024, 1, 29, 0, 0, 0);
    assert.equal(replyTo("SEND_TIME", midnight), "00:00:00");
    assert.equal(replyTo("SEND_DATE", midnight), "2024-02-29");
    const justBefore = new Date(midnight.getTime() - 1000);
    assert.equal(replyTo("SEND_TIME", justBefore), "23:59:59");
    assert.equal(replyTo("SEND_DATE", justBefore), "2024-02-28");
  });

  test("white space around a request is ignored", () => {
    const now = new Date(2024, 6, 4, 9, 8, 7);
    assert.equal(replyTo("SEND_DATE", now), "2024-07-04");
    assert.equal(replyTo("SEND_TIME\n", now), "09:08:07");
    assert.equal(replyTo(" \tSEND_DATE\r\n", now), "2024-07-04");
  });

  test("anything else is an ERROR that names both requests", () => {
    const now = new Date(2024, 6, 4, 9, 8, 7);
    for (const request of ["xyz", "send_date", "SEND_DATE SEND_TIME", "SEND DATE", "SEND_TIMEX", "", "  \n", "\u0000SEND_TIME"]) {
      const reply = replyTo(request, now);
      assert.match(reply, /^ERROR /, JSON.stringify(request));
      assert.match(reply, /SEND_DATE/);
      assert.match(reply, /SEND_TIME/);
    }
    assert.equal(replyTo("xyz", now), 'ERROR unknown request "xyz": send SEND_DATE or SEND_TIME');
    assert.equal(replyTo("", now), "ERROR empty request: send SEND_DATE or SEND_TIME");
  });

  test("quote makes any text short, one line and plain ASCII", () => {
    assert.equal(quote("SEND_TIME\n"), '"SEND_TIME\\n"');
    assert.equal(quote('say "hi"'), '"say \\"hi\\""');
    assert.equal(quote("\u001b[31mred\u202e\ufffd"), '"\\u001b[31mred\\u202e\\ufffd"');
    assert.equal(quote("A".repeat(1000)), `"${"A".repeat(40)}"...`);
    const garbage = randomBytes(4096).toString("utf8");
    assert.match(quote(garbage), /^[\x20-\x7e]+$/);
    assert.match(replyTo(garbage, new Date()), /^ERROR [\x20-\x7e]+$/);
  });
});

// One server for the whole file (starting a script costs a second or two on a shared machine);
// the last test stops it with SIGTERM.
let server: Running;
let port: number;
let firstLine: string;
before(async () => {
  ({ server, port, firstLine } = await startServer(SERVER));
});
after(async () => {
  await server.stop("SIGKILL");
});

describe("the server, over raw UDP", () => {

  test("prints the bound HOST:PORT first", () => {
    assert.match(firstLine, /^Server started on 127\.0\.0\.1:\d+ \.\.\.waiting for requests$/);
    assert.ok(port > 0);
  });

  test("SEND_DATE gets today's local date", async () => {
    const before = localDate();
    const reply = await udpRequest(port, "SEND_DATE");
    const afterwards = localDate();
    assert.match(reply, DATE);
    // Around midnight the date may change during the request: either day is right.
    assert.ok(reply === before || reply === afterwards, `${reply} is neither ${before} nor ${afterwards}`);
  });

  test("SEND_TIME gets the local time, HH:MM:SS, within two seconds of ours", async () => {
    const reply = await udpRequest(port, "SEND_TIME");
    assert.match(reply, TIME);
    assert.ok(timeDistance(reply, localTime()) <= 2, `${reply} vs ${localTime()}`);
  });

  test("a trailing newline is accepted (echo SEND_TIME | nc -u)", async () => {
    assert.match(await udpRequest(port, "SEND_TIME\n"), TIME);
    assert.match(await udpRequest(port, "  SEND_DATE\r\n"), DATE);
  });

  test("an unknown, an empty and an oversized request get an ERROR naming both requests", async () => {
    for (const request of ["xyz", "send_time", "", "A".repeat(65507)]) {
      const reply = await udpRequest(port, request);
      assert.match(reply, /^ERROR .*SEND_DATE.*SEND_TIME/, `reply to ${request.slice(0, 20)}: ${reply}`);
      assert.ok(reply.length < 200, `the reply is short (${reply.length} characters)`);
    }
  });

  test("random bytes, then a valid request: ERROR, then the answer, and the server lives on", async () => {
    const peer = await UdpPeer.open();
    // 0xff never occurs in UTF-8, and 0x0a is a newline: the log must stay one line anyway.
    peer.send(Buffer.concat([Buffer.from([0xff, 0x0a, 0x1b, 0x00]), randomBytes(500)]), port);
    assert.match(await peer.next(), /^ERROR .*SEND_DATE.*SEND_TIME/);
    peer.send("SEND_TIME", port);
    assert.match(await peer.next(), TIME);
    peer.close();
    assert.match(await udpRequest(port, "SEND_DATE"), DATE);
    assert.equal(server.child.exitCode, null);
  });

  test("300 requests from one socket are all answered, each with the right kind", async () => {
    const peer = await UdpPeer.open();
    // Ten requests in flight at a time: enough to keep the server busy, few enough that no
    // socket buffer overflows (UDP would drop datagrams silently, and that is not a bug).
    for (let window = 0; window < 30; window++) {
      for (let i = 0; i < 10; i++) peer.send(i % 2 === 0 ? "SEND_DATE" : "SEND_TIME", port);
      const replies: string[] = [];
      for (let i = 0; i < 10; i++) replies.push(await peer.next(5000));
      assert.equal(replies.filter((reply) => DATE.test(reply)).length, 5, replies.join(" "));
      assert.equal(replies.filter((reply) => TIME.test(reply)).length, 5, replies.join(" "));
    }
    peer.close();
  });

  test("logs one line per request: sender, request and reply; garbage stays on one ASCII line", async () => {
    const peer = await UdpPeer.open();
    peer.send("SEND_DATE", port);
    const reply = await peer.next();
    const line = await server.waitForLine(new RegExp(`127\\.0\\.0\\.1:${peer.port}\\b`));
    assert.equal(line, `Server: request "SEND_DATE" from 127.0.0.1:${peer.port} -> ${reply}`);
    peer.send(Buffer.from([0x0a, 0xff, 0x1b, 0x5b, 0x32, 0x4a, 0x0d]), port);
    await peer.next();
    await server.waitForLine(new RegExp(`127\\.0\\.0\\.1:${peer.port}\\b.*ERROR`));
    peer.close();
    // Every line the server printed is its own log line: none was split or garbled by a datagram.
    for (const printed of server.stdout) assert.match(printed, /^Server[: ][\x20-\x7e]*$/, printed);
  });
});

describe("the server's time zone, start-up and shutdown", () => {
  test("the time is local: with TZ=Etc/GMT-14 the server is 14 hours ahead of UTC", async () => {
    const server = new Running(SERVER, ["--port", "0"], { TZ: "Etc/GMT-14" });
    const port = Number(/:(\d+) /.exec(await server.waitForLine(/:\d+ /, 10000))![1]);
    const reply = await udpRequest(port, "SEND_TIME");
    const ahead = new Date(Date.now() + 14 * 3600 * 1000);
    const expected = [ahead.getUTCHours(), ahead.getUTCMinutes(), ahead.getUTCSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
    assert.ok(timeDistance(reply, expected) <= 2, `${reply} vs ${expected}`);
    // Ctrl-C: the server closes its socket and exits 0.
    assert.equal((await server.stop("SIGINT")).code, 0, server.stderr.join("\n"));
    assert.match(server.stdout.at(-1)!, /SIGINT/);
  });

  test("--help exits 0; an unknown flag and a taken port fail with one line", async () => {
    const taken = await UdpPeer.open();
    const takenPort = taken.port;
    const [help, unknown, inUse] = (await inBatches([["--help"], ["--bogus"], ["--port", String(takenPort)]], (args) => runScript(SERVER, args, { ms: 30000 }))) as [Run, Run, Run];
    taken.close();
    assert.equal(help.code, 0);
    assert.match(help.out, /--port/);
    assert.match(help.out, /SEND_DATE/);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.length, 1);
    assert.match(unknown.err, /--bogus/);
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stderr.length, 1);
    assert.match(inUse.err, new RegExp(`127\\.0\\.0\\.1:${takenPort}`));
  });
});

describe("the client", () => {

  test("--count 3 against the server: three lines, each naming its request and a well-formed reply", async () => {
    const from = server.stdout.length;
    const run = await runScript(CLIENT, ["--port", String(port), "--count", "3", "--min-delay", "0", "--max-delay", "0.05"]);
    assert.equal(run.code, 0, run.err);
    assert.equal(run.stdout.length, 3, run.out);
    for (const line of run.stdout) assert.match(line, CLIENT_LINE);
    // The server saw the same three requests, each from a port of its own (one socket per request).
    const logged = server.stdout.slice(from).filter((line) => line.startsWith("Server: request"));
    assert.equal(logged.length, 3, logged.join("\n"));
    run.stdout.forEach((line, i) => assert.ok(logged[i]!.includes(`"${line.split(" ")[1]}"`), `${line} / ${logged[i]}`));
    assert.equal(new Set(logged.map((line) => /:(\d+) ->/.exec(line)![1])).size, 3);
  });

  test("--host 0.0.0.0 (this machine) takes the reply that comes back from 127.0.0.1", async () => {
    const run = await runScript(CLIENT, ["--host", "0.0.0.0", "--port", String(port), "--count", "1"]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, CLIENT_LINE);
  });

  test("against a silent port: 'no reply' naming HOST:PORT for each request, then one line and exit 1", async () => {
    const silent = await UdpPeer.open();
    const run = await runScript(CLIENT, ["--port", String(silent.port), "--count", "2", "--timeout", "0.3", "--min-delay", "0", "--max-delay", "0"]);
    // Not one reply: the server cannot be reached, which every client reports with exit 1.
    assert.equal(run.code, 1, run.err);
    assert.equal(run.stderr.length, 1, run.err);
    assert.match(run.err, new RegExp(`no reply to any of 2 request\\(s\\) from 127\\.0\\.0\\.1:${silent.port};`));
    assert.doesNotMatch(run.err, /^\s+at /m);
    assert.equal(run.stdout.length, 2, run.out);
    for (const line of run.stdout) {
      assert.match(line, /^Client: SEND_(DATE|TIME) -> no reply from 127\.0\.0\.1:\d+ /);
      assert.ok(line.includes(`127.0.0.1:${silent.port}`), line);
      assert.match(line, /--host/);
    }
    // The requests did go out: the silent socket received them.
    assert.deepEqual(silent.received.map((datagram) => /^SEND_(DATE|TIME)$/.test(datagram.text)), [true, true]);
    silent.close();
  });

  test("ignores datagrams that are not from the server, and asks for both kinds at random", async () => {
    const fake = await UdpPeer.open();
    const stray = await UdpPeer.open();
    fake.socket.on("message", (bytes, sender) => {
      // A stranger answers first, from another port; the real answer follows 50 ms later.
      stray.send("99:99:99", sender.port);
      const answer = bytes.toString() === "SEND_DATE" ? "2020-02-20" : "20:20:20";
      setTimeout(() => fake.send(answer, sender.port), 50);
    });
    const run = await runScript(CLIENT, ["--port", String(fake.port), "--count", "12", "--min-delay", "0", "--max-delay", "0"]);
    assert.equal(run.code, 0, run.err);
    const answers = run.stdout.filter((line) => / -> /.test(line));
    assert.equal(answers.length, 12, run.out);
    for (const line of answers) assert.match(line, /^Client: (SEND_DATE -> 2020-02-20|SEND_TIME -> 20:20:20)$/);
    assert.equal(run.stdout.filter((line) => line.includes(`not the server`)).length, 12, run.out);
    assert.doesNotMatch(run.out, /99:99:99/);
    // Twelve fair coin flips all alike: 1 in 2048.
    assert.ok(answers.some((line) => line.includes("SEND_DATE")) && answers.some((line) => line.includes("SEND_TIME")), run.out);
    stray.close();
    fake.close();
  });

  test("a late reply to an earlier request is not taken as the answer to the current one", async () => {
    // The fake server holds back its answer to the first request, and sends it only when the
    // second request arrives, just before the answer to the second.
    const fake = await UdpPeer.open();
    let first: { request: string; port: number } | undefined;
    fake.socket.on("message", (bytes, sender) => {
      const request = bytes.toString();
      if (first === undefined) {
        first = { request, port: sender.port };
        return;
      }
      fake.send(first.request === "SEND_DATE" ? "2001-01-01" : "01:01:01", first.port);
      setTimeout(() => fake.send(request === "SEND_DATE" ? "2002-02-02" : "02:02:02", sender.port), 100);
    });
    const run = await runScript(CLIENT, ["--port", String(fake.port), "--count", "2", "--timeout", "1.5", "--min-delay", "0", "--max-delay", "0"]);
    assert.equal(run.code, 0, run.err);
    assert.equal(run.stdout.length, 2, run.out);
    assert.match(run.stdout[0]!, /^Client: SEND_(DATE|TIME) -> no reply/);
    assert.match(run.stdout[1]!, /^Client: (SEND_DATE -> 2002-02-02|SEND_TIME -> 02:02:02)$/);
    fake.close();
  });

  test("waits between --min-delay and --max-delay seconds between requests", async () => {
    const fake = await UdpPeer.open();
    fake.socket.on("message", (bytes, sender) => fake.send(bytes.toString() === "SEND_DATE" ? "2020-02-20" : "20:20:20", sender.port));
    const run = await runScript(CLIENT, ["--port", String(fake.port), "--count", "3", "--min-delay", "0.3", "--max-delay", "0.4"]);
    assert.equal(run.code, 0, run.err);
    const times = fake.received.map((datagram) => datagram.at);
    assert.equal(times.length, 3);
    // A lower bound only: a busy machine may make the pause longer, never shorter.
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 280, `pause ${times[i]! - times[i - 1]!} ms`);
    fake.close();
  });

  test("--help exits 0; an unknown flag and bad values exit 2 with one line naming the flag", async () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /--bogus/],
      [["--count", "2.5"], /--count/],
      [["--min-delay=-1"], /--min-delay/],
      [["--min-delay", "3", "--max-delay", "1"], /--min-delay.*--max-delay/],
      [["--port", "0"], /--port/],
    ];
    const [help, ...runs] = await inBatches([[["--help"], /./] as [string[], RegExp], ...cases], ([args]) => runScript(CLIENT, args, { ms: 30000 }));
    assert.equal(help!.code, 0);
    for (const flag of ["--count", "--min-delay", "--max-delay", "--timeout", "--host", "--port"]) assert.match(help!.out, new RegExp(flag));
    runs.forEach((run, i) => {
      const [args, names] = cases[i]!;
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.out} ${run.err}`);
      assert.equal(run.stderr.length, 1, `${args.join(" ")}: ${run.err}`);
      assert.match(run.err, names);
      assert.equal(run.stdout.length, 0, `${args.join(" ")} sent nothing: ${run.out}`);
    });
  });
});

describe("shutdown", () => {
  test("SIGTERM closes the socket and exits 0", async () => {
    assert.match(await udpRequest(port, "SEND_DATE"), DATE);
    const { code } = await server.stop("SIGTERM");
    assert.equal(code, 0, server.stderr.join("\n"));
    assert.match(server.stdout.at(-1)!, /SIGTERM/);
    // The port is free again: the socket is gone.
    const probe = dgram.createSocket("udp4");
    probe.bind(port, "127.0.0.1");
    await once(probe, "listening");
    probe.close();
  });
});
