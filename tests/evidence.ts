// The committed evidence, docs/captures/: the tools' test runs save elsewhere (by default the
// git-ignored .cache/captures/) and must leave these files exactly as they were.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./helpers.ts";

/** Each file of docs/captures/ with a digest of its bytes. */
export function committedEvidence(): Record<string, string> {
  const dir = path.join(ROOT, "docs", "captures");
  const digests: Record<string, string> = {};
  for (const file of readdirSync(dir).sort()) {
    digests[file] = createHash("sha256").update(readFileSync(path.join(dir, file))).digest("hex");
  }
  return digests;
}
