// Tests for Q3, the date/time service over UDP: the real server driven by raw UDP sockets, and
// the real client against the real server and against fake servers that stay silent, send
// strays, or answer late.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { Running, runScript, sleep, startServer, udpRequest } from "./helpers.ts";

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
    const requests = ["xyz", "send_time", "", "  \n", "SEND_DATE SEND_TIME", "SEND_TIMEX", "\u0000SEND_TIME", "A".repeat(65507)];
    for (const request of requests) {
      const reply = await udpRequest(port, request);
      assert.match(reply, /^ERROR .*SEND_DATE.*SEND_TIME/, `reply to ${JSON.stringify(request.slice(0, 20))}: ${reply}`);
      assert.ok(reply.length < 100, `the reply is short (${reply.length} characters)`);
    }
  });

  test("a short plain-ASCII request is echoed in the ERROR; anything else is not, and the reply stays plain ASCII", async () => {
    assert.equal(await udpRequest(port, "xyz"), 'ERROR "xyz" is not SEND_DATE or SEND_TIME');
    assert.equal(await udpRequest(port, 'say "hi"\n'), 'ERROR "say \\"hi\\"" is not SEND_DATE or SEND_TIME');
    assert.equal(await udpRequest(port, ""), 'ERROR "" is not SEND_DATE or SEND_TIME');
    for (const request of ["A".repeat(41), "\u001b[2J", "SEND_TIME\u202e", "Zo\u00eb", randomBytes(300)]) {
      assert.equal(await udpRequest(port, request), "ERROR the request is not SEND_DATE or SEND_TIME");
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

  test("logs one line per request: sender, request and reply; garbage stays on one harmless line", async () => {
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
    for (const printed of server.stdout) assert.match(printed, /^Server[: ][^\p{Cc}\p{Bidi_Control}]*$/u, printed);
  });

  test("the log shows at most 40 characters of a request, terminal escapes and bidi controls as \\uXXXX", async () => {
    const peer = await UdpPeer.open();
    peer.send("\u001b]0;pwned\u0007\r\u202eX", port);
    await peer.next();
    const escaped = await server.waitForLine(new RegExp(`127\\.0\\.0\\.1:${peer.port}\\b`));
    assert.equal(escaped, `Server: request "\\u001b]0;pwned\\u0007\\u000d\\u202eX" from 127.0.0.1:${peer.port} -> ERROR the request is not SEND_DATE or SEND_TIME`);
    peer.close();
    const long = await UdpPeer.open();
    long.send("B".repeat(5000), port);
    await long.next();
    const cut = await server.waitForLine(new RegExp(`127\\.0\\.0\\.1:${long.port}\\b`));
    assert.ok(cut.startsWith(`Server: request "${"B".repeat(40)}"... from `), cut);
    long.close();
  });

  test("a burst of 400 requests from 8 sockets gets 400 replies and 400 log lines, one per request", async () => {
    const from = server.stdout.length;
    const peers = await Promise.all(Array.from({ length: 8 }, () => UdpPeer.open()));
    // 8 x 10 in flight at a time: a real burst, but no socket buffer overflows (UDP would drop).
    for (let round = 0; round < 5; round++) {
      for (const peer of peers) for (let i = 0; i < 10; i++) peer.send(i % 2 ? "SEND_TIME" : "SEND_DATE", port);
      for (const peer of peers) for (let i = 0; i < 10; i++) await peer.next(5000);
    }
    const ports = new Set(peers.map((peer) => peer.port));
    const wanted = (line: string) => ports.has(Number(/:(\d+) ->/.exec(line)?.[1]));
    const deadline = Date.now() + 5000;
    while (server.stdout.slice(from).filter(wanted).length < 400 && Date.now() < deadline) await sleep(20);
    const logged = server.stdout.slice(from).filter(wanted);
    assert.equal(logged.length, 400);
    for (const line of logged) assert.match(line, /^Server: request "SEND_(DATE|TIME)" from 127\.0\.0\.1:\d+ -> (\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2})$/);
    for (const peer of peers) peer.close();
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
    assert.match(run.err, new RegExp(`no reply to any of 2 requests from 127\\.0\\.0\\.1:${silent.port};`));
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

  test("a --min-delay above --max-delay means the same range, as random.uniform(a, b) does", async () => {
    const fake = await UdpPeer.open();
    fake.socket.on("message", (bytes, sender) => fake.send(bytes.toString() === "SEND_DATE" ? "2020-02-20" : "20:20:20", sender.port));
    const run = await runScript(CLIENT, ["--port", String(fake.port), "--count", "2", "--min-delay", "0.4", "--max-delay", "0.3"]);
    assert.equal(run.code, 0, run.err);
    const [first, second] = fake.received.map((datagram) => datagram.at);
    assert.ok(second! - first! >= 280, `pause ${second! - first!} ms`);
    fake.close();
  });

  test("--help exits 0; an unknown flag and bad values exit 2 with one line naming the flag", async () => {
    const cases: [string[], RegExp][] = [
      [["--bogus"], /--bogus/],
      [["--count", "2.5"], /--count/],
      [["--min-delay=-1"], /--min-delay/],
      [["--max-delay", "x"], /--max-delay/],
      [["--timeout", "0"], /--timeout/],
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
