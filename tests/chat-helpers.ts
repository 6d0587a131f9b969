// Shared by the chat's end-to-end test files (tests/q8-server.test.ts,
// tests/q8-server-limits.test.ts and tests/q8-client.test.ts): the announcement patterns of the
// contract's Q8 section, and logging a raw member in.

import { LineSocket } from "./helpers.ts";

export const TIME = "\\d\\d:\\d\\d:\\d\\d";
export const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
export const JOINED = (name: string, count = "\\d+") => new RegExp(`^Server: time=${TIME} ${escape(name)} has joined\\. Member count=${count}$`);
export const LEFT = (name: string, count = "\\d+") => new RegExp(`^Server: time=${TIME} ${escape(name)} has left\\. Member count=${count}$`);

/** Connects and logs in as `name`; resolves once the member has seen its own join announcement. */
export async function login(port: number, name: string): Promise<LineSocket> {
  const member = await LineSocket.connect(port);
  member.send(`${name}\n`);
  await member.waitFor(JOINED(name));
  return member;
}

/** Waits until `member` has received every line in `expected`, in that order (other lines may come between). */
export async function receivesInOrder(member: LineSocket, expected: string[], ms = 5000) {
  let from = 0;
  for (const line of expected) {
    await member.waitFor(new RegExp(`^${escape(line)}$`), ms, from);
    from = member.lines.indexOf(line, from) + 1;
  }
}
