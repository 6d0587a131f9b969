// answers.md quotes the committed evidence in docs/captures/; a quote must stay true of the file
// it names. The convention (SPEC): a fenced code block is an excerpt of a capture file when the
// paragraph immediately above it (the contiguous non-blank lines right before the opening fence,
// blank lines between them and the fence skipped) names `docs/captures/<file>`; the last such name
// in that paragraph wins. Every line of the block, except a line that is exactly `...` (an
// elision), must equal a whole line of that file, and the lines appear in the file in that order.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { ROOT } from "./helpers.ts";

/** One fenced code block of a Markdown text that the convention makes an excerpt. */
interface Excerpt {
  /** 1-based line number of the opening fence. */
  line: number;
  /** The file it quotes, as named: `docs/captures/<file>`. */
  file: string;
  /** The block's lines, without the fences (and without the fence's own indentation). */
  lines: string[];
}

const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const NAME = /docs\/captures\/[\w.-]*[\w-]/g;

/** The excerpts of `markdown`: each fenced block whose paragraph above names docs/captures/. */
function excerpts(markdown: string): Excerpt[] {
  const lines = markdown.split("\n");
  const found: Excerpt[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, marker] = open as unknown as [string, string, string];
    // The closing fence: the same character, at least as long, nothing after it.
    let close = i + 1;
    while (close < lines.length) {
      const candidate = FENCE.exec(lines[close]!);
      if (candidate && candidate[2]![0] === marker[0] && candidate[2]!.length >= marker.length && candidate[3]!.trim() === "") break;
      close++;
    }
    // The paragraph above: skip blank lines, then the non-blank lines up to a blank line, the
    // start of the text, or another block's fence (a code block is not a paragraph).
    let top = i - 1;
    while (top >= 0 && lines[top]!.trim() === "") top--;
    const paragraph: string[] = [];
    while (top >= 0 && lines[top]!.trim() !== "" && !FENCE.test(lines[top]!)) paragraph.unshift(lines[top--]!);
    const names = paragraph.join("\n").match(NAME);
    if (names) {
      // Inside a list item the block is indented like its fence; that indentation is not content.
      const body = lines.slice(i + 1, close).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()));
      found.push({ line: i + 1, file: names[names.length - 1]!, lines: body });
    }
    i = close;
  }
  return found;
}

/**
 * Why `excerpt` is not whole lines of `text` in order (undefined when it is): the first block
 * line that is not a line of the file, or that appears only before the previous line's match.
 */
function mismatch(excerpt: Excerpt, text: string): string | undefined {
  const fileLines = text.split("\n");
  let at = -1;
  for (const [index, line] of excerpt.lines.entries()) {
    if (line === "...") continue;
    const next = fileLines.indexOf(line, at + 1);
    if (next === -1) {
      const where = fileLines.includes(line) ? "appears in the file only before the line quoted above it" : "is not a whole line of the file";
      return `line ${excerpt.line + 1 + index} ${where}:\n${JSON.stringify(line)}`;
    }
    at = next;
  }
  return undefined;
}

describe("the checker itself", () => {
  const file = "a\nb\nc\nd\n";
  const block = (...lines: string[]): Excerpt => ({ line: 1, file: "docs/captures/x.txt", lines });
  test("accepts whole lines in order, with `...` for what is left out", () => {
    assert.equal(mismatch(block("a", "...", "c", "d"), file), undefined);
  });
  test("rejects a line that was altered, a part of a line, and lines out of order", () => {
    assert.match(mismatch(block("a", "B"), file) ?? "", /line 3 .* not a whole line.*\n"B"/);
    assert.match(mismatch(block("a "), file) ?? "", /not a whole line/);
    assert.match(mismatch(block("c", "b"), file) ?? "", /only before/);
    assert.match(mismatch(block("a", "a"), file) ?? "", /only before/);
  });
  test("takes the last capture file the paragraph above names, and only that paragraph", () => {
    const markdown = [
      "See `docs/captures/one.txt` and, from `docs/captures/two.txt`:", "", "```", "x", "```",
      "", "Not named here.", "```", "y", "```",
      "Right after `docs/captures/three.txt`", "```", "z", "```", "```", "w", "```",
      "- in a list, from `docs/captures/four.txt`:", "  ```", "  v", "  ```",
    ].join("\n");
    assert.deepEqual(excerpts(markdown), [
      { line: 3, file: "docs/captures/two.txt", lines: ["x"] },
      { line: 12, file: "docs/captures/three.txt", lines: ["z"] },
      { line: 19, file: "docs/captures/four.txt", lines: ["v"] },
    ]);
  });
});

describe("answers.md quotes docs/captures/ as whole lines, in order", () => {
  const found = excerpts(readFileSync(path.join(ROOT, "answers.md"), "utf8"));
  test("answers.md quotes at least one capture file", () => {
    assert.ok(found.length > 0, "no fenced block follows a paragraph naming docs/captures/<file>");
  });
  for (const excerpt of found) {
    test(`the block at answers.md line ${excerpt.line} is whole lines of ${excerpt.file}, in order`, () => {
      const target = path.join(ROOT, excerpt.file);
      assert.ok(existsSync(target), `${excerpt.file} does not exist`);
      const problem = mismatch(excerpt, readFileSync(target, "utf8"));
      assert.equal(problem, undefined, `answers.md ${problem} (quoted from ${excerpt.file})`);
    });
  }
});
