// Unit tests for the pure functions of the chat room manager (Q8): name rules, announcements
// and the line framing helper. The end-to-end tests are in tests/q8-server.test.ts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { announcement, nameKey, nameProblem, readLines } from "../q8/Chat_Server.ts";
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
      ["", /empty/],
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
