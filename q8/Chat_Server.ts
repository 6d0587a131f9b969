// q8/Chat_Server.ts — the chat room manager (Lab 3, Q8): members log in with a unique name, and
// what one of them types reaches all the others. Design notes: docs/q8-server.md.
// Sequence of steps (TCP_Server.py's; what Q8 adds sits inside the step it belongs to):
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client
//   5. send and receive data over the "connection" socket
//   $ npx tsx q8/Chat_Server.ts     # then q8/Chat_Client.ts per member; --host 0.0.0.0: LAN
//   Server started on 127.0.0.1:43392 ...waiting for connections
//   Server: time=10:39:35 Batman has joined. Member count=1 (from 127.0.0.1:45532)
//   Batman: Anyone here?

import { once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx q8/Chat_Server.ts [--host 127.0.0.1] [--port 43392] (defaults shown)
  [--login-timeout 30] [--max-line 65536] [--max-queue 1048576] [--heartbeat-timeout 30]`;

if (isMainModule()) { // Python:  if __name__ == "__main__":  (the unit tests import this file)
  const flags = readFlags({ host: "127.0.0.1", port: "43392", "login-timeout": "30",
    "max-line": "65536", "max-queue": "1048576", "heartbeat-timeout": "30" });
  const loginTimeout = positiveNumber("login-timeout", flags["login-timeout"], false);
  const maxLine = positiveNumber("max-line", flags["max-line"], true);
  const room = createRoom(positiveNumber("max-queue", flags["max-queue"], true),
    (text) => process.stdout.write(`${text}\n`)); // console.log's wrapping costs ~3 µs a line
  const heartbeatMs = 1000 * positiveNumber("heartbeat-timeout", flags["heartbeat-timeout"], false);
  const connections = new Set<net.Socket>(); // every open one, to close on shutdown

  // Step 1: create a "welcome" socket for listening to new connections.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const welcomeSocket = net.createServer();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, shutDown); // see end

  // Step 2: bind the socket to a host and port.  Python:  s.bind((host, port))
  // Step 3: start listening on this socket for new connections.  Python:  s.listen(1)
  // Node does both in one call; its backlog (clients queued until accepted) is 511, not 1.
  welcomeSocket.listen({ host: flags.host, port: portNumber(flags.port, 0), backlog: 511 });
  await once(welcomeSocket, "listening").catch((error: Error) => {
    console.error(`Server: cannot listen on ${flags.host}:${flags.port}: ${error.message}`);
    process.exit(1);
  });
  const bound = welcomeSocket.address() as net.AddressInfo;
  console.log(`Server started on ${bound.address}:${bound.port} ...waiting for connections`);
  welcomeSocket.on("error", (error) => console.error(`Server: ${error.message}`)); // carry on

  // Step 4: accept an incoming connection from the client, again and again, one "thread" each.
  // Python:  conn, addr = s.accept(); threading.Thread(target=handle_client, ...).start()
  // Each call runs until it waits for a read; one runs at a time, so the room needs no lock.
  welcomeSocket.on("connection", (socket: net.Socket) => void handleClient(socket));

  // Step 5: send and receive data over the "connection" socket: login, chat, leave.
  // Python:  data = conn.recv(1024)  — here whole lines, in the order sent (see readLines).
  async function handleClient(connectionSocket: net.Socket) {
    const address = `${connectionSocket.remoteAddress}:${connectionSocket.remotePort}`;
    connections.add(connectionSocket);
    // Each line leaves at once (no Nagle delay); TCP keepalive probes a peer idle for 5 s.
    connectionSocket.setNoDelay(true).setKeepAlive(true, 5000).on("error", () => {});
    let member: Member | undefined, heartbeat: NodeJS.Timeout | undefined, reason = "dropped";
    const loginTimer = setTimeout(() => hangUp(connectionSocket, // Limit 1: log in in time
      `ERROR no login name within ${loginTimeout} seconds\n`), loginTimeout * 1000);
    try {
      for await (const line of readLines(connectionSocket, maxLine)) {
        if (connectionSocket.writableEnded) break; // we closed it: what still comes is ignored
        heartbeat?.refresh();
        const problem = member === undefined ? nameProblem(line, room.members) : null;
        if (problem !== null) { // a bad name: ERROR, then wait for another
          console.log(printable(`Server: refused '${line}' from ${address}: ${problem}`));
          connectionSocket.write(`ERROR ${problem}\n`);
        } else if (member === undefined) { // a good name: a member now, and Limit 1 is over
          member = { name: line, connection: connectionSocket };
          room.join(member, `from ${address}`);
          clearTimeout(loginTimer);
        } else if (line === "quit") {
          reason = "quit";
          break;
        } else if (line !== "") {
          room.broadcast(`${member.name}: ${line}`, member);
        } else { // a chat window's heartbeat, never broadcast: from now on, silence means gone
          const silent = () => connectionSocket.destroy(new Error("no heartbeat"));
          heartbeat ??= setTimeout(silent, heartbeatMs);
        }
      }
    } catch (error) { // Limit 2 (a line over --max-line), no heartbeat, or a network error
      const { message, code } = error as NodeJS.ErrnoException;
      if (message === "line too long" || message === "no heartbeat") reason = message;
      else if (code === undefined) throw error; // not a network error (no code): a bug, stop
    } finally { // Python:  conn.close()  — however the loop ended, the connection goes.
      for (const timer of [loginTimer, heartbeat]) clearTimeout(timer);
      connections.delete(connectionSocket);
      if (member !== undefined) room.leave(member, reason); // not during shutdown: no members
      hangUp(connectionSocket, reason === "line too long" ? "ERROR line too long\n" : "");
    }
  }
  function hangUp(socket: net.Socket, lastWords: string) { // FIN after lastWords; read on: no RST
    if (!socket.writableEnded) socket.end(lastWords);
    socket.resume();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  // Close the connection.  Python:  s.close()  — on SIGINT or SIGTERM: tell, close, exit 0.
  function shutDown(signal: NodeJS.Signals) {
    if (!welcomeSocket.listening) process.exit(0); // a second signal, or one before listening
    console.log(`Server: ${signal} received; closing the chat room`);
    room.flush();
    room.members.clear(); // nobody is announced as left
    welcomeSocket.close(); // when every connection has closed too, the process ends (exit 0)
    for (const socket of connections) hangUp(socket, "Server: the chat room is shutting down\n");
  }
}

export type Member = { name: string; connection: // a net.Socket, or a unit test's plain object
  { write(bytes: Buffer): void; destroy(): void; writable: boolean; writableLength: number } };
// The room: members by nameKey(), and no sockets, so that tests drive it with plain objects.
export function createRoom(maxQueue: number, log: (text: string) => void) {
  const members = new Map<string, Member>();
  const newcomers = new Map<Member, number>(); // where in `batch` a newcomer's lines start
  let batch: { bytes: Buffer; sender?: Member; log: string }[] = [];
  function broadcast(text: string, sender?: Member, note = "") { // sent once this turn is over
    if (batch.length === 0) setImmediate(flush); // after this turn's reads, not before them
    batch.push({ bytes: Buffer.from(`${text}\n`), sender, log: printable(text) + note });
  }
  function flush() {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    log(lines.map((line) => line.log).join("\n")); // the console too: one write per turn
    const everything = Buffer.concat(lines.map((line) => line.bytes));
    const senders = new Set(lines.map((line) => line.sender));
    for (const member of members.values()) {
      if (!member.connection.writable) continue; // it died; its handler announces it
      const from = newcomers.get(member) ?? 0; // nothing said before it came in
      const bytes = from === 0 && !senders.has(member) ? everything : Buffer.concat(lines
        .slice(from).filter((line) => line.sender !== member).map((line) => line.bytes));
      if (bytes.length > 0) member.connection.write(bytes);
      if (member.connection.writableLength > maxQueue) { // Limit 3 (write() never blocks)
        member.connection.destroy();
        leave(member, "too slow");
      }
    }
    newcomers.clear();
  }
  function join(member: Member, note: string) {
    newcomers.set(member, batch.length);
    members.set(nameKey(member.name), member);
    broadcast(announcement(member.name, "joined", members.size), undefined, ` (${note})`);
  }
  function leave(member: Member, reason: string) {
    if (members.get(nameKey(member.name)) !== member) return; // it has left already
    members.delete(nameKey(member.name));
    newcomers.delete(member);
    broadcast(announcement(member.name, "left", members.size), undefined, ` (${reason})`);
  }
  return { members, join, leave, broadcast, flush };
}
/** `Server: time=HH:MM:SS <name> has joined. Member count=<n>`, the time local (24-hour). */
export const announcement = (name: string, verb: string, count: number, at = new Date()) =>
  `Server: time=${at.toTimeString().slice(0, 8)} ${name} has ${verb}. Member count=${count}`;

// A name's letters: one script, or a TR39 "highly restrictive" mix; digits, emoji go with any.
const SCRIPTS = "Latin Greek Cyrillic Armenian Georgian Cherokee Hebrew Arabic Devanagari Thai "
  + "Ethiopic Han Hiragana Katakana Hangul Bopomofo";
const scx = (scripts: string) => scripts.split(" ").map((script) => `\\p{scx=${script}}`).join("");
const oneScript = [...SCRIPTS.split(" "), "Latin Han Hiragana Katakana", "Latin Han Hangul",
  "Latin Han Bopomofo"].map((mix) => new RegExp(`^[${scx(`Common Inherited ${mix}`)}]*$`, "u"))
  .concat(new RegExp(`^[^${scx(SCRIPTS)}]*$`, "u")); // unlisted scripts: one "other" script
/** One name, one key, nearly Unicode's NFKC_Casefold: `Ｂ`, `𝐁` are `b`; invisibles go. */
export const nameKey = (name: string) => name.normalize("NFKC")
  .replace(/\p{Default_Ignorable_Code_Point}/gu, "").toUpperCase().toLowerCase().normalize("NFKC");
export function nameProblem(name: string, members: { has(key: string): boolean }): string | null {
  const [key, letters] = [nameKey(name), name.normalize("NFKC")];
  if (key === "" || [...name].length > 32) return "name must be 1 to 32 characters, some visible";
  if (/[\s\p{Cc}]/u.test(name)) return "name must not contain white space or control characters";
  if (/[\p{C}\uFFFD]/u.test(name)) return "name has an invisible or unknown character";
  if (!oneScript.some((script) => script.test(letters))) return "name mixes letters of two scripts";
  if (key === "server") return "name is reserved for the server";
  return members.has(key) ? "name is already in the room" : null;
}

// ---- Helpers, copied into every script that needs them (each stays standalone) ----
/** Reads `--flag value` over `defaults`; `--help` prints the usage (exit 0); a bad flag exits 2. */
function readFlags<Name extends string>(defaults: Record<Name, string>): Record<Name, string> {
  const options = Object.fromEntries(Object.entries<string>(defaults)
    .map(([name, value]) => [name, { type: "string" as const, default: value }]));
  try {
    const values = parseArgs({ options: { ...options, help: { type: "boolean" } } }).values as
      Record<string, string | undefined>;
    if (values.help) {
      console.log(`${usage}\n  --help  show this help`);
      process.exit(0);
    }
    if (values.host?.trim() === "") throw new Error("Invalid --host '': expected an address");
    return values as Record<Name, string>;
  } catch (error) {
    console.error(`${(error as Error).message.split(/\.\s/)[0]} (see --help)`);
    process.exit(2);
  }
}
/** A port from `lowest` (a server: 0, any free port; a client: 1) to 65535; else exit 2. */
function portNumber(text: string, lowest: number): number {
  if (/^\d+$/.test(text) && Number(text) >= lowest && Number(text) <= 65535) return Number(text);
  console.error(`Invalid --port '${text}': expected a whole number from ${lowest} to 65535`
    + " (see --help)");
  process.exit(2);
}
/** --flag as a plain positive decimal (`whole`: whole number), at most 2147483 s; else exit 2. */
function positiveNumber(flag: string, text: string, whole: boolean): number {
  const value = Number(text);
  if ((whole ? /^\d+$/ : /^(\d+\.?\d*|\.\d+)$/).test(text) && value > 0
    && (whole || value <= 2147483)) return value;
  const expected = whole ? "a positive whole number" : "seconds above 0, at most 2147483";
  console.error(`Invalid --${flag} '${text}': expected ${expected} (see --help)`);
  process.exit(2);
}
/** TCP framing: the socket's lines, cut at the byte "\n" BEFORE decoding (a character split
 * between two reads is joined up first), without a "\r"; past `maxLineBytes`: "line too long". */
export async function* readLines(socket: net.Socket, maxLineBytes: number): AsyncGenerator<string> {
  let pending: Buffer = Buffer.alloc(0);
  // `destroyOnReturn: false`: leaving the loop early must not destroy the socket; the caller
  // closes it properly, after its last line.
  for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let newline: number;
    while ((newline = pending.indexOf(0x0a)) !== -1) {
      const length = pending[newline - 1] === 0x0d ? newline - 1 : newline; // without a "\r"
      if (length > maxLineBytes) throw new RangeError("line too long");
      yield pending.toString("utf8", 0, length);
      pending = pending.subarray(newline + 1);
    }
    if (pending.length > maxLineBytes + 1) throw new RangeError("line too long"); // +1: a "\r"
  }
  if (pending.length > 0) yield pending.toString("utf8").replace(/\r$/, "");
}
/** Text from the network made safe to print: control and bidi characters shown as `\uXXXX`. */
function printable(text: string): string {
  // A terminal obeys ESC sequences, a bare "\r" rewrites the line, bidi controls reorder it.
  return text.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
/** True when this file is the program being run, not a module imported by the tests. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  const script = process.argv[1];
  return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
}
