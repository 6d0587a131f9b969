// Unit tests for the chat room manager (Q8) without sockets: the room and its batching, name
// rules, announcements and the line framing helper. The end-to-end tests are in
// tests/q8-server.test.ts and tests/q8-server-limits.test.ts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { announcement, createRoom, nameKey, nameProblem, readLines, type Member } from "../q8/Chat_Server.ts";
import { sleep, socketPair } from "./helpers.ts";

describe("q8 server: name rules (nameProblem)", () => {
  const members = new Set([nameKey("Batman")]);

  test("good names: 1 to 32 code points, any script, emoji", () => {
    for (const name of ["A", "Robin", "Zoë", "Вольдеморт", "李小龍", "🦇".repeat(32), "x".repeat(32), "a.b-c_d!"]) {
      assert.equal(nameProblem(name, members), null, name);
    }
  });

  test("bad names each get a reason", () => {
    const cases: [string, RegExp][] = [
      ["", /1 to 32 characters/],
      ["x".repeat(33), /32/],
      ["🦇".repeat(33), /32/],
      ["Bat man", /white space/],
      ["Bat\tman", /white space/],
      ["Bat\u3000man", /white space/], // ideographic space
      ["Bat\u2028man", /white space/], // line separator
      ["Bat\u0000man", /control/],
      ["Bat\u0085man", /control/],
      ["Server", /reserved/],
      ["sErVeR", /reserved/],
      ["Batman", /already/],
      ["BATMAN", /already/],
    ];
    for (const [name, reason] of cases) assert.match(nameProblem(name, members) ?? "(accepted)", reason, JSON.stringify(name));
  });

  test("each rule has one short message, the same whichever character broke it", () => {
    const expected: [string, string][] = [
      ["", "name must be 1 to 32 characters, some visible"],
      ["Bat man", "name must not contain white space or control characters"],
      ["Bat\u200bman", "name has an invisible or unknown character"],
      ["B\u0430tman", "name mixes letters of two scripts"],
      ["SERVER", "name is reserved for the server"],
      ["batman", "name is already in the room"],
    ];
    for (const [name, message] of expected) assert.equal(nameProblem(name, members), message, JSON.stringify(name));
  });

  test("names compare without case, also for letters with several forms", () => {
    assert.equal(nameKey("Batman"), nameKey("bATMAN"));
    assert.equal(nameKey("ſerver"), "server"); // the long s is an s
    assert.match(nameProblem("ſerver", new Set()) ?? "", /reserved/);
  });
});

describe("q8 server: announcements", () => {
  test("the contract's format, 24-hour local time with leading zeros", () => {
    assert.equal(announcement("Batman", "joined", 1, new Date(2024, 0, 2, 9, 5, 7)), "Server: time=09:05:07 Batman has joined. Member count=1");
    assert.equal(announcement("Voldemort", "left", 0, new Date(2024, 0, 2, 23, 59, 0)), "Server: time=23:59:00 Voldemort has left. Member count=0");
  });
});

describe("q8 server: line framing (readLines)", () => {
  test("byte by byte: characters split mid-byte, \\r\\n, empty lines, a last line without \\n", async () => {
    const { writer, reader } = await socketPair();
    const received: string[] = [];
    const reading = (async () => {
      for await (const line of readLines(reader, 100)) received.push(line);
    })();
    for (const byte of Buffer.from("Zoë 🙂\r\none\ntwo\n\nthree")) {
      writer.write(Buffer.from([byte]));
      await sleep(2);
    }
    writer.end();
    await reading;
    assert.deepEqual(received, ["Zoë 🙂", "one", "two", "", "three"]);
    reader.destroy();
  });

  test("the limit counts bytes without the line end; over it throws RangeError and leaves the socket open", async () => {
    const { writer, reader } = await socketPair();
    writer.on("error", () => {});
    writer.write(`${"é".repeat(5)}\r\n${"a".repeat(10)}\n${"b".repeat(11)}\n`);
    const received: string[] = [];
    await assert.rejects(async () => {
      for await (const line of readLines(reader, 10)) received.push(line);
    }, RangeError);
    assert.deepEqual(received, ["é".repeat(5), "a".repeat(10)]);
    assert.equal(reader.destroyed, false);
    reader.destroy();
    writer.destroy();
  });
});

describe("q8 server: names that cannot pass for someone else (nameProblem)", () => {
  const room = new Set([nameKey("Batman")]);
  const refusal = (name: string) => nameProblem(name, room) ?? "(accepted)";

  test("the contract's good names, and names with digits, punctuation, emoji or decomposed accents, join", () => {
    const good = ["Zoë", "José_2", "山田たろう", "Владимир", "محمد", "🦇Robin", "Zoe\u0308", "R2-D2",
      "❤️Alice", "Ἀλέξανδρος", "Գևորգ", "ნინო", "דוד", "अर्जुन", "สมชาย", "ᏣᎳᎩ", "ரவி"];
    for (const name of good) assert.equal(nameProblem(name, room), null, name);
  });

  test("format characters are refused as invisible: zero-width space, soft hyphen, word joiner, bidi controls, joiners", () => {
    for (const character of ["\u200b", "\u00ad", "\u2060", "\u202e", "\u200e", "\u2066", "\u200d"]) {
      assert.equal(refusal(`Bat${character}man`), "name has an invisible or unknown character", JSON.stringify(character));
    }
  });

  test("private-use, surrogate and unassigned code points are refused as unknown characters", () => {
    for (const name of ["Bat\ue000man", "Bat\u{F0000}", "Bat\ud800man", "Bat\u0378man", "\u{E0080}x"]) {
      assert.equal(refusal(name), "name has an invisible or unknown character", JSON.stringify(name));
    }
  });

  test("letters of two scripts in one name are refused", () => {
    const mixed = ["S\u0435rver", "B\u0430tman", "P\u03b1ypal", "\u13aalice", // Cyrillic, Greek, Cherokee look-alikes
      "Ravi\u0c30\u0c35\u0c3f", // Latin with Telugu, a script not on the file's list
      "漢Ж", "たろう한", "ㄅ한"]; // Han with Cyrillic, Hiragana with Hangul, Bopomofo with Hangul
    for (const name of mixed) assert.equal(refusal(name), "name mixes letters of two scripts", name);
  });

  test("Unicode TR39's highly restrictive mixes join: Latin with Han and kana, with Han and Hangul, with Han and Bopomofo", () => {
    for (const name of ["Tarō山田たろうタロウ", "山田タロウ", "김Kim金", "ㄅㄆ中文abc", "Yamada-ー"]) {
      assert.equal(nameProblem(name, room), null, name);
    }
  });

  test("names are compared after NFKC and case folding: fullwidth, bold and any case are one name", () => {
    for (const name of ["Batman", "BATMAN", "batman", "Ｂａｔｍａｎ", "𝐁𝐚𝐭𝐦𝐚𝐧", "ᴮatman".normalize("NFKC")]) {
      assert.equal(nameKey(name), "batman", name);
    }
    assert.equal(nameKey("Straße"), nameKey("STRASSE"));
    for (const name of ["Ｂａｔｍａｎ", "𝐁𝐚𝐭𝐦𝐚𝐧", "bAtMaN"]) assert.match(refusal(name), /already in the room/, name);
  });

  test("invisible characters that are not format characters do not make a new name: variation selectors, the grapheme joiner, fillers", () => {
    for (const name of ["Batman\ufe0f", "Batman\ufe00", "Bat\u034fman", "Batman\u3164"]) {
      assert.equal(nameKey(name), "batman", JSON.stringify(name));
      assert.match(refusal(name), /already in the room/, JSON.stringify(name));
    }
    assert.match(refusal("Server\ufe0f"), /reserved/);
    assert.match(refusal("\u3164\u3164"), /some visible/); // Hangul fillers only
    assert.equal(nameKey("❤️Alice"), nameKey("❤Alice")); // an emoji with or without its selector
    assert.equal(nameProblem("❤️Alice", room), null);
  });

  test("every NFKC and case form of Server is reserved; one with a Cyrillic letter is refused as mixed", () => {
    for (const name of ["Server", "SERVER", "ｓｅｒｖｅｒ", "𝐒𝐞𝐫𝐯𝐞𝐫", "ſerver", "Ⓢⓔⓡⓥⓔⓡ"]) {
      assert.match(refusal(name), /reserved for the server/, name);
    }
    assert.match(refusal("S\u0435rver"), /two scripts/);
  });
});

/** A member whose connection is a plain object: what it was sent, and a queue we control. */
function fakeMember(name: string, slow = false) {
  const sent: string[] = [];
  const connection = {
    writable: true,
    writableLength: 0,
    write(bytes: Buffer) {
      sent.push(bytes.toString("utf8"));
      if (slow) connection.writableLength += bytes.length; // it never reads: the queue grows
      return true;
    },
    destroy() {
      connection.writable = false;
    },
  };
  const member: Member = { name, connection };
  /** Every line it received, without the server's announcements' time. */
  const lines = () => sent.join("").split("\n").filter((line) => line !== "")
    .map((line) => line.replace(/time=\d\d:\d\d:\d\d /, ""));
  return { member, sent, connection, lines };
}

describe("q8 server: the room and its batching (createRoom, no sockets)", () => {
  const quiet = () => {};

  test("a newcomer gets nothing said before it joined, not even in the same turn", () => {
    const room = createRoom(1 << 20, quiet);
    const alice = fakeMember("Alice");
    room.join(alice.member, "test");
    room.flush();
    room.broadcast("Alice: before Bob", alice.member);
    const bob = fakeMember("Bob");
    room.join(bob.member, "test");
    room.broadcast("Alice: after Bob", alice.member);
    room.flush();
    assert.deepEqual(bob.lines(), ["Server: Bob has joined. Member count=2", "Alice: after Bob"]);
    assert.deepEqual(alice.lines(), ["Server: Alice has joined. Member count=1", "Server: Bob has joined. Member count=2"]);
  });

  test("a sender never gets its own lines; everyone else gets each sender's lines in order", () => {
    const room = createRoom(1 << 20, quiet);
    const [a, b, c] = ["A", "B", "C"].map((name) => fakeMember(name));
    for (const member of [a!, b!, c!]) room.join(member.member, "test");
    room.flush();
    const start = [a, b, c].map((member) => member!.lines().length);
    room.broadcast("A: 1", a!.member);
    room.broadcast("B: 1", b!.member);
    room.broadcast("A: 2", a!.member);
    room.broadcast("B: 2", b!.member);
    room.broadcast("A: 3", a!.member);
    room.flush();
    assert.deepEqual(a!.lines().slice(start[0]), ["B: 1", "B: 2"]);
    assert.deepEqual(b!.lines().slice(start[1]), ["A: 1", "A: 2", "A: 3"]);
    assert.deepEqual(c!.lines().slice(start[2]), ["A: 1", "B: 1", "A: 2", "B: 2", "A: 3"]);
  });

  test("one write per receiver and one console write per turn; members who said nothing share one Buffer", () => {
    const logged: string[] = [];
    const room = createRoom(1 << 20, (text) => logged.push(text));
    const members = ["A", "B", "C", "D"].map((name) => fakeMember(name));
    for (const member of members) room.join(member.member, `from test ${member.member.name}`);
    room.flush();
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /D has joined\. Member count=4 \(from test D\)$/);
    const writes: Buffer[] = [];
    for (const { member } of members) {
      const write = member.connection.write.bind(member.connection);
      member.connection.write = (bytes: Buffer) => writes.push(bytes) && write(bytes);
    }
    room.broadcast("A: one", members[0]!.member);
    room.broadcast("A: two", members[0]!.member);
    room.broadcast("B: three", members[1]!.member);
    room.flush();
    assert.equal(writes.length, 4);
    assert.equal(writes[2], writes[3], "C and D, who said nothing, get the very same Buffer");
    assert.equal(logged.length, 2);
    assert.equal(logged[1], "A: one\nA: two\nB: three");
    room.flush(); // nothing new: no write, no console line
    assert.equal(writes.length, 4);
    assert.equal(logged.length, 2);
  });

  test("max queue: a member whose unsent output passes it is cut off and announced as left (too slow)", () => {
    const logged: string[] = [];
    const room = createRoom(400, (text) => logged.push(text));
    const reader = fakeMember("Reader");
    const sleeper = fakeMember("Sleeper", true);
    const talker = fakeMember("Talker");
    for (const member of [reader, sleeper, talker]) room.join(member.member, "test");
    room.flush();
    assert.equal(sleeper.connection.writable, true, "under the limit: still in");
    room.broadcast(`Talker: ${"z".repeat(400)}`, talker.member);
    room.flush();
    assert.equal(sleeper.connection.writable, false, "destroyed");
    assert.equal(room.members.has(nameKey("Sleeper")), false);
    room.flush(); // the announcement goes out with the next turn
    assert.match(reader.lines().at(-1)!, /^Server: Sleeper has left\. Member count=2$/);
    assert.match(logged.at(-1)!, /Sleeper has left\. Member count=2 \(too slow\)$/);
    room.broadcast("Talker: after", talker.member);
    room.flush();
    assert.equal(reader.lines().at(-1), "Talker: after");
    assert.ok(!sleeper.lines().includes("Talker: after"));
  });

  test("leaving twice announces once, and a member that left gets nothing more", () => {
    const room = createRoom(1 << 20, quiet);
    const a = fakeMember("A");
    const b = fakeMember("B");
    room.join(a.member, "test");
    room.join(b.member, "test");
    room.leave(b.member, "quit");
    room.leave(b.member, "dropped");
    room.broadcast("A: anyone?", a.member);
    room.flush();
    assert.deepEqual(a.lines().filter((line) => line.includes("has left")), ["Server: B has left. Member count=1"]);
    assert.ok(!b.lines().includes("A: anyone?"));
    assert.equal(room.members.size, 1);
  });

  test("the console gets members' text escaped, the members get it as sent", () => {
    const logged: string[] = [];
    const room = createRoom(1 << 20, (text) => logged.push(text));
    const joker = fakeMember("Joker");
    const victim = fakeMember("Victim");
    room.join(joker.member, "test");
    room.join(victim.member, "test");
    room.broadcast("Joker: \u001b]0;pwned\u0007\u001b[2J x\rBatman: hi \u202e", joker.member);
    room.flush();
    assert.equal(logged.at(-1)!.split("\n").at(-1), "Joker: \\u001b]0;pwned\\u0007\\u001b[2J x\\u000dBatman: hi \\u202e");
    assert.equal(victim.lines().at(-1), "Joker: \u001b]0;pwned\u0007\u001b[2J x\rBatman: hi \u202e");
  });
});
