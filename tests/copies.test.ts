// The helpers every lab script carries to stay standalone are one text: each copy of a helper
// (its doc comment and body) must be identical in every script that has it. And every line of
// a lab script fits in 100 columns, so it reads beside the Python template without wrapping.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

export const labScripts = [
  "UDP_Server.ts", "UDP_Client.ts", "TCP_Server.ts", "TCP_Client.ts",
  "q3/UDP_Server.ts", "q3/UDP_Client.ts", "q6/TCP_Server.ts", "q6/TCP_Client.ts",
  "q8/Chat_Server.ts", "q8/Chat_Client.ts",
];
const helpers = [
  "readFlags", "portNumber", "positiveNumber", "connected", "readLines", "printable", "isMainModule",
];
const root = new URL("../", import.meta.url);
const source = (file: string) => readFileSync(new URL(file, root), "utf8");

/** The helper `name` in `text`: its doc comment and body, without `export`; undefined if absent. */
export function helperText(text: string, name: string): string | undefined {
  const lines = text.split("\n");
  const start = lines.findIndex((line) =>
    new RegExp(`^(export )?(async )?function\\*? ?${name}\\b`).test(line));
  if (start === -1) return undefined;
  let first = start;
  while (first > 0 && /^(\/\*\*| \*)/.test(lines[first - 1] ?? "")) first--;
  const end = lines.findIndex((line, index) => index > start && line === "}");
  assert.notEqual(end, -1, `${name} has no closing brace at column 0`);
  return lines.slice(first, end + 1).join("\n").replace(/^export /m, "");
}

for (const name of helpers) {
  test(`every copy of ${name}() is the same text`, () => {
    const copies = labScripts
      .map((file) => ({ file, text: helperText(source(file), name) }))
      .filter((copy) => copy.text !== undefined);
    assert.ok(copies.length >= 2, `${name} should be carried by at least two scripts`);
    for (const copy of copies.slice(1)) {
      assert.equal(copy.text, copies[0]!.text, `${copy.file} differs from ${copies[0]!.file}`);
    }
  });
}

test("every lab script has readFlags() and portNumber()", () => {
  for (const file of labScripts) {
    for (const name of ["readFlags", "portNumber"]) {
      assert.ok(helperText(source(file), name), `${file} has no ${name}()`);
    }
  }
});

test("every line of every lab script is at most 100 characters", () => {
  const long = labScripts.flatMap((file) => source(file).split("\n")
    .map((line, index) => ({ where: `${file}:${index + 1}`, length: [...line].length }))
    .filter((line) => line.length > 100));
  assert.deepEqual(long, []);
});
