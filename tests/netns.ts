// Network namespaces for the tests that need two "computers" (tests/two-hosts.test.ts,
// tests/vanish.test.ts): whether this machine lets us make them, and `ip` run with a time limit.

import { spawnSync } from "node:child_process";
import process from "node:process";

/** Runs `ip ARGS` (at most 10 s); throws with what it said when it fails. */
export function ip(...args: string[]): string {
  const result = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (result.error || result.status !== 0) {
    throw new Error(`ip ${args.join(" ")} failed: ${result.error?.message ?? result.stderr.trim()}`);
  }
  return result.stdout;
}

/**
 * Why namespace tests cannot run here, or false when they can: they need root, `ip netns`
 * (iproute2), and the right to create a namespace (a container may forbid it even to root).
 */
export function namespaceSkip(): string | false {
  if (process.platform !== "linux") return "network namespaces exist only on Linux";
  if (process.getuid?.() !== 0) return "creating network namespaces needs root";
  const list = spawnSync("ip", ["netns", "list"], { timeout: 10_000 });
  if (list.error || list.status !== 0) return "`ip netns` is not available (Debian: apt-get install iproute2)";
  const probe = `lab3-probe-${process.pid}`;
  if (spawnSync("ip", ["netns", "add", probe], { timeout: 10_000 }).status !== 0) {
    return "`ip netns add` is not permitted here (a container without CAP_SYS_ADMIN?)";
  }
  spawnSync("ip", ["netns", "delete", probe], { timeout: 10_000 });
  return false;
}
