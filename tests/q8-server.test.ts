// End-to-end tests for the chat room manager (Q8): the real q8/Chat_Server.ts in its own
// process, driven by raw sockets (helpers.LineSocket) exactly as the contract's Q8 section
// describes the wire. This file: the room itself; tests/q8-server-limits.test.ts has the limits, signals and
// flags, tests/q8-server-functions.test.ts the pure functions.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { JOINED, LEFT, login, receivesInOrder } from "./chat-helpers.ts";
import { LineSocket, sleep, startServer, type Running } from "./helpers.ts";

const SERVER = "q8/Chat_Server.ts";
describe("q8 server: one room shared by the tests that do not count members", () => {
  let server: Running;
  let port: number;
  before(async () => {
    ({ server, port } = await startServer(SERVER));
  });
  after(() => server.stop());

  test("no echo: a line reaches every other member as 'name: text', never its sender; empty lines are ignored", async () => {
    const alice = await login(port, "Alice");
    const bob = await login(port, "Bob");
    const carol = await login(port, "Carol");
    alice.send("hello room\n\n\r\nsecond\n");
    await receivesInOrder(bob, ["Alice: hello room", "Alice: second"]);
    await receivesInOrder(carol, ["Alice: hello room", "Alice: second"]);
    bob.send("hi Alice\n");
    await alice.waitFor(/^Bob: hi Alice$/);
    await carol.waitFor(/^Bob: hi Alice$/);
    await sleep(200); // time for a wrong echo or an empty-line message to arrive
    assert.deepEqual(alice.lines.filter((line) => line.startsWith("Alice:")), []);
    assert.deepEqual(bob.lines.filter((line) => line.startsWith("Bob:")), []);
    assert.deepEqual(carol.lines.filter((line) => line.startsWith("Alice:")), ["Alice: hello room", "Alice: second"]);
    // The console has one line per message.
    await server.waitForLine(/^Alice: hello room$/);
    await server.waitForLine(/^Bob: hi Alice$/);
    for (const member of [alice, bob, carol]) member.close();
  });

  test("name rules: each bad name gets ERROR, and a good name on the same connection then logs in", async () => {
    const taken = await login(port, "Batman");
    const badNames = [
      "", // empty
      "x".repeat(33), // 33 code points
      "🙂".repeat(33),
      "Bat man", // white space
      "Bat\tman",
      "Bat\u00a0man", // no-break space
      "Bat\u0001man", // control characters
      "Bat\u007fman",
      "Server", // reserved, in any case
      "server",
      "SERVER",
      "Batman", // a current member's name, in any case
      "BATMAN",
      "batman",
    ];
    const newcomer = await LineSocket.connect(port);
    for (const [index, name] of badNames.entries()) {
      newcomer.send(`${name}\n`);
      const reply = await newcomer.line(index + 1);
      assert.match(reply, /^ERROR \S/, `the name ${JSON.stringify(name)} got ${JSON.stringify(reply)}`);
    }
    // Still the same connection: 32 emoji (64 UTF-16 units, 128 bytes) is a good name.
    const emoji = "🦇".repeat(32);
    newcomer.send(`${emoji}\n`);
    await newcomer.waitFor(JOINED(emoji));
    await taken.waitFor(JOINED(emoji));
    assert.equal(newcomer.lines.length, badNames.length + 1);
    // A name may be reused once its owner has left, in any case.
    taken.send("quit\n");
    await newcomer.waitFor(LEFT("Batman"));
    const again = await login(port, "bATMAN");
    again.close();
    newcomer.close();
  });

  test("framing: several lines in one write, lines split over writes, UTF-8 characters split mid-byte", async () => {
    const reader = await login(port, "Reader");
    const writer = await LineSocket.connect(port);
    // The name "Zoë🙂" arrives byte by byte: both characters are split between two writes.
    for (const byte of Buffer.from("Zoë🙂\r\n")) {
      writer.send(Buffer.from([byte]));
      await sleep(5);
    }
    await writer.waitFor(JOINED("Zoë🙂"));
    // Three lines in one write, then one line in three pieces, cut inside "ü" and inside "🙂".
    writer.send("one\ntwo\r\nthree\n");
    const split = Buffer.from("grüße 🙂\n");
    writer.send(split.subarray(0, 3)); // "gr" and the first byte of "ü"
    await sleep(50);
    writer.send(split.subarray(3, 9)); // the rest of "ü", "ße ", first byte of "🙂"
    await sleep(50);
    writer.send(split.subarray(9));
    await receivesInOrder(reader, ["Zoë🙂: one", "Zoë🙂: two", "Zoë🙂: three", "Zoë🙂: grüße 🙂"]);
    assert.ok(!reader.lines.some((line) => line.includes("\uFFFD")), reader.lines.join("\n"));
    reader.close();
    writer.close();
  });

  test("order: 50 members send 20 lines each; everyone gets every other member's lines once, in order", async () => {
    const count = 50;
    const perSender = 20;
    const members: LineSocket[] = [];
    for (let i = 0; i < count; i++) members.push(await login(port, `m${i}`));
    // Wait until the last join has reached everyone, so that every member is in the room.
    for (const member of members) await member.waitFor(new RegExp(`m${count - 1} has joined`), 10000);
    const start = members.map((member) => member.lines.length);
    for (let k = 0; k < perSender; k++) {
      for (const [i, member] of members.entries()) member.send(`line ${k} from m${i}\n`);
      if (k % 5 === 0) await sleep(1); // vary how lines fall into reads
    }
    const expected = (count - 1) * perSender;
    for (const [i, member] of members.entries()) {
      await member.waitFor(new RegExp(`^m${i === 0 ? 1 : 0}: line ${perSender - 1} `), 20000, start[i]);
      // Every other sender's last line has arrived once the count is complete.
      const deadline = Date.now() + 20000;
      const chat = () => member.lines.slice(start[i]).filter((line) => /^m\d+: line /.test(line));
      while (chat().length < expected && Date.now() < deadline) await sleep(20);
      const bySender = new Map<string, number[]>();
      for (const line of chat()) {
        const [, sender, k] = /^(m\d+): line (\d+) from \1$/.exec(line) ?? assert.fail(`malformed: ${line}`);
        assert.notEqual(sender, `m${i}`, "an echo of the member's own line");
        bySender.set(sender!, [...(bySender.get(sender!) ?? []), Number(k)]);
      }
      assert.equal(bySender.size, count - 1, `m${i} heard from ${bySender.size} senders`);
      for (const [sender, sequence] of bySender) {
        assert.deepEqual(sequence, [...Array(perSender).keys()], `m${i} got ${sender}'s lines as ${sequence}`);
      }
    }
    for (const member of members) member.close();
  });

  test("garbage does not kill the server: random bytes, invalid UTF-8, a half-open connection", async () => {
    for (let i = 0; i < 5; i++) {
      const noise = await LineSocket.connect(port);
      noise.send(randomBytes(3000));
      await sleep(20);
      noise.close();
    }
    const member = await login(port, "Noisy");
    member.send(Buffer.from([0xff, 0xfe, 0x0a, 0xc3, 0x28, 0x0a]));
    member.send(randomBytes(2000));
    member.close();
    // Half-open: a member that sends FIN (socket.end) has left; the server closes its side.
    const watcher = await login(port, "Watcher");
    const halfOpen = await login(port, "HalfOpen");
    halfOpen.socket.end();
    await watcher.waitFor(LEFT("HalfOpen"));
    await halfOpen.waitForClose();
    // The room still works.
    const late = await login(port, "Late");
    late.send("still here\n");
    await watcher.waitFor(/^Late: still here$/);
    for (const socket of [watcher, late]) socket.close();
  });

  test("the console shows members' text escaped: no raw ESC, bare CR or bidi control from a member", async () => {
    const witness = await login(port, "Witness");
    const joker = await LineSocket.connect(port);
    joker.send("Bad\u001b[2Jname\n"); // refused (a control character), and logged
    await joker.waitFor(/^ERROR /);
    joker.send("Joker\n");
    await joker.waitFor(JOINED("Joker"));
    joker.send("\u001b]0;pwned\u0007\u001b[2J\nx\rBatman: I am overwriting this line\nhi \u202eevil\n");
    // The other members get the text as sent (the chat window makes it harmless).
    await receivesInOrder(witness, ["Joker: \u001b]0;pwned\u0007\u001b[2J", "Joker: x\rBatman: I am overwriting this line"]);
    await server.waitForLine(/^Joker: \\u001b\]0;pwned\\u0007\\u001b\[2J$/);
    await server.waitForLine(/^Joker: x\\u000dBatman: I am overwriting this line$/);
    await server.waitForLine(/^Joker: hi \\u202eevil$/);
    await server.waitForLine(/^Server: refused 'Bad\\u001b\[2Jname' from 127\.0\.0\.1:\d+: /);
    const raw = server.stdout.filter((line) => /[\u001b\r\u0007\u202e]/.test(line));
    assert.deepEqual(raw, []);
    for (const member of [witness, joker]) member.close();
  });
});

describe("q8 server: a room of its own per test", () => {
  test("names that could pass for another get ERROR with the reason; the contract's good names join", async () => {
    const { server, port } = await startServer(SERVER);
    const batman = await login(port, "Batman");
    const refused: [string, RegExp][] = [
      ["Bat\u200bman", /^ERROR name has an invisible or unknown character$/], // zero-width space
      ["Bat\u00adman", /^ERROR name has an invisible or unknown character$/], // soft hyphen
      ["Bat\u2060man", /^ERROR name has an invisible or unknown character$/], // word joiner
      ["\u202enamtaB", /^ERROR name has an invisible or unknown character$/], // right-to-left override
      ["Bat\ue000", /^ERROR name has an invisible or unknown character$/], // private use
      ["Bat\u0378", /^ERROR name has an invisible or unknown character$/], // unassigned
      ["S\u0435rver", /^ERROR name mixes letters of two scripts$/], // a Cyrillic "е"
      ["\uff22\uff41\uff54\uff4d\uff41\uff4e", /^ERROR .*already in the room/], // fullwidth
      ["\uff33\uff45\uff52\uff56\uff45\uff52", /^ERROR .*reserved/], // fullwidth Server
      ["Batman\ufe0f", /^ERROR .*already in the room/], // an invisible variation selector
    ];
    const joker = await LineSocket.connect(port);
    for (const [index, [name, reply]] of refused.entries()) {
      joker.send(`${name}\n`);
      assert.match(await joker.line(index + 1), reply, JSON.stringify(name));
    }
    joker.close();
    const good = ["Zoë", "José_2", "山田たろう", "Владимир", "محمد", "🦇Robin"];
    for (const name of good) await login(port, name).then((member) => member.close());
    await server.waitForLine(/🦇Robin has joined/);
    assert.ok(!batman.lines.some((line) => /Bat.man:|has joined.*\uff22/.test(line)), batman.lines.join("\n"));
    batman.close();
    await server.stop();
  });

  test("the first line, and join announcements to every member, the newcomer included, with counts", async () => {
    const { server, port, firstLine } = await startServer(SERVER);
    assert.match(firstLine, /^Server started on 127\.0\.0\.1:\d+ \.\.\.waiting for connections$/);
    const batman = await LineSocket.connect(port);
    batman.send("Batman\n");
    assert.match(await batman.line(1), JOINED("Batman", "1"));
    const voldemort = await LineSocket.connect(port);
    voldemort.send("Voldemort\n");
    assert.match(await voldemort.line(1), JOINED("Voldemort", "2"));
    assert.match(await batman.line(2), JOINED("Voldemort", "2"));
    const robin = await LineSocket.connect(port);
    robin.send("Robin\n");
    for (const member of [batman, voldemort, robin]) await member.waitFor(JOINED("Robin", "3"));
    // The newcomer's first line is its own announcement: nothing said before it joined.
    assert.equal(robin.lines.length, 1);
    // The announcement's time is the server's local time now (24-hour).
    const [, hh, mm, ss] = /time=(\d\d):(\d\d):(\d\d)/.exec(robin.lines[0]!)!;
    const seconds = Number(hh) * 3600 + Number(mm) * 60 + Number(ss);
    const now = new Date();
    const nowSeconds = now.getHours() * 3600 + now.getMinutes() * 60 + now.getSeconds();
    assert.ok(Math.abs(nowSeconds - seconds) <= 5 || Math.abs(nowSeconds - seconds) >= 86395, robin.lines[0]);
    await server.waitForLine(/^Server: time=\d\d:\d\d:\d\d Batman has joined\. Member count=1 \(from 127\.0\.0\.1:\d+\)$/);
    for (const member of [batman, voldemort, robin]) member.close();
    await server.stop();
  });

  test("leaving: 'quit' and a dropped connection are announced with the new count; the server closes the connection", async () => {
    const { server, port } = await startServer(SERVER);
    const a = await login(port, "A");
    const b = await login(port, "B");
    const c = await login(port, "C");
    await a.waitFor(JOINED("C", "3"));
    b.send("bye all\nquit\n");
    await b.waitForClose();
    await receivesInOrder(a, ["B: bye all"]);
    await a.waitFor(LEFT("B", "2"));
    await c.waitFor(LEFT("B", "2"));
    assert.ok(!b.lines.some((line) => LEFT("B").test(line)), "the quitter is not told about itself");
    c.socket.destroy(); // abrupt: no quit, no FIN first
    await a.waitFor(LEFT("C", "1"));
    await server.waitForLine(/B has left\. Member count=2 \(quit\)$/);
    await server.waitForLine(/C has left\. Member count=1 \(dropped\)$/);
    // The room keeps working for whoever is left.
    const d = await login(port, "D");
    await a.waitFor(JOINED("D", "2"));
    d.send("hello A\n");
    await a.waitFor(/^D: hello A$/);
    for (const member of [a, d]) member.close();
    await server.stop();
  });
});
