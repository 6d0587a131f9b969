// q8/Chat_Server.ts — the chat room manager (Lab 3, Q8): many clients at once, each logs in
// with a unique name, and whatever a member types reaches every other member.
//
// Sequence of steps (TCP_Server.py's; what Q8 adds sits inside the step it belongs to):
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client
//   5. send and receive data over the "connection" socket
//
// Run it from the repository root; each member then runs q8/Chat_Client.ts in a terminal:
//   $ npx tsx q8/Chat_Server.ts              # --host 0.0.0.0 lets other computers in
//   Server started on 127.0.0.1:43392 ...waiting for connections
//   Server: time=12:07:03 Batman has joined. Member count=1 (from 127.0.0.1:52154)
//   Batman: Anyone here?
// Lines end in "\n" both ways. Design notes and measurements: docs/q8-server.md.

import { Buffer } from "node:buffer";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx q8/Chat_Server.ts [--host H] [--port P] [limits]
  --host H               address to bind (default 127.0.0.1; 0.0.0.0 lets other computers in)
  --port P               port to bind (default 43392; 0 = any free port)
  --login-timeout S      close a connection not logged in after S seconds (default 30)
  --max-line B           a longer line (in bytes) closes the connection (default 65536)
  --max-queue B          cut off a member once B bytes wait for it here (default 1048576)
  --heartbeat-timeout S  close a member silent for S s after an empty line (default 30)
  --help                 show this help`;

// Python:  if __name__ == "__main__":  (the unit tests import this file without running it)
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43392", "login-timeout": "30",
    "max-line": "65536", "max-queue": "1048576", "heartbeat-timeout": "30" });
  const [host, port] = [flags.host, portNumber(flags.port, 0)];
  const loginTimeout = positiveNumber("login-timeout", flags["login-timeout"], false);
  const maxLine = positiveNumber("max-line", flags["max-line"], true);
  const room = createRoom(positiveNumber("max-queue", flags["max-queue"], true), console.log);
  const heartbeatTimeout = positiveNumber("heartbeat-timeout", flags["heartbeat-timeout"], false);
  const connections = new Set<net.Socket>(); // every open one, to close on shutdown
  const ignoreError = () => {}; // one listener shared by every connection
  let shuttingDown = false;

  // Step 1: create a "welcome" socket for listening to new connections.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const welcomeSocket = net.createServer();

  // Step 2: bind the socket to a host and port.  Python:  s.bind((host, port))
  // Step 3: start listening on this socket for new connections.  Python:  s.listen(1)
  // Node does both in one call. The backlog is how many clients the operating system queues
  // until we accept them: a whole class may connect at once, so 511, not 1.
  welcomeSocket.listen({ host, port, backlog: 511 });
  await once(welcomeSocket, "listening").catch((error: Error) => {
    console.error(`Server: cannot listen on ${host}:${port}: ${error.message}`);
    process.exit(1);
  });
  const bound = welcomeSocket.address() as net.AddressInfo;
  console.log(`Server started on ${bound.address}:${bound.port} ...waiting for connections`);
  welcomeSocket.on("error", (error) => console.error(`Server: ${error.message}`)); // carry on

  // Step 4: accept an incoming connection from the client, again and again, one "thread" each.
  // Python:  conn, addr = s.accept(); threading.Thread(target=handle_client, ...).start()
  // An async function called without await runs to its first await (a read), and the event
  // loop serves the others meanwhile; one runs at a time, so the room needs no lock.
  welcomeSocket.on("connection", (socket: net.Socket) => void handleClient(socket));

  // Step 5: send and receive data over the "connection" socket: login, chat, leave.
  async function handleClient(connectionSocket: net.Socket) {
    const address = `${connectionSocket.remoteAddress}:${connectionSocket.remotePort}`;
    connections.add(connectionSocket);
    connectionSocket.setNoDelay(true); // each line leaves at once, not after the last one's ACK
    connectionSocket.setKeepAlive(true, 5000); // idle 5 s: TCP asks the peer if it is still there
    connectionSocket.on("error", ignoreError); // failed writes to a dying socket; reads: catch
    const loginTimer = setTimeout(() => { // Limit 1: log in within --login-timeout seconds
      console.log(`Server: ${address} did not log in within ${loginTimeout} s; closing it`);
      closeConnection(connectionSocket, `ERROR no login name within ${loginTimeout} seconds\n`);
    }, loginTimeout * 1000);
    let heartbeat: NodeJS.Timeout | undefined;
    let member: Member | undefined;
    let reason = "dropped";
    try {
      // Python:  data = conn.recv(1024)  — here whole lines in the order sent (see readLines),
      // until the client hangs up.
      for await (const line of readLines(connectionSocket, maxLine)) {
        if (shuttingDown || connectionSocket.writableEnded) break; // told to go: nothing counts
        heartbeat?.refresh();
        if (member === undefined) {
          const problem = nameProblem(line, room.members); // a bad name: ERROR, then a retry
          if (problem === null) {
            clearTimeout(loginTimer);
            room.join((member = { name: line, connection: connectionSocket }), `from ${address}`);
          } else {
            console.log(printable(`Server: refused '${line}' from ${address}: ${problem}`));
            connectionSocket.write(`ERROR ${problem}\n`);
          }
        } else if (line === "quit") {
          reason = "quit";
          break;
        } else if (line !== "") {
          room.broadcast(`${member.name}: ${line}`, member);
        } else {
          // An empty line: a chat window's heartbeat, never broadcast. TCP does not probe while
          // data waits, so from the first one on, silence means that computer has gone.
          heartbeat ??= setTimeout(() => {
            reason = "no heartbeat";
            connectionSocket.destroy();
          }, heartbeatTimeout * 1000);
        }
      }
    } catch (error) {
      // Limit 2: a line over --max-line bytes. A network error (it has a code: ECONNRESET, …)
      // is a member dropping; anything else is a bug here and stops the server loudly.
      const tooLong = error instanceof RangeError && error.message === "line too long";
      if (tooLong) reason = "line too long";
      else if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    } finally {
      // Python:  conn.close()  — however the loop ended, the connection goes.
      clearTimeout(loginTimer);
      clearTimeout(heartbeat);
      connections.delete(connectionSocket);
      if (member !== undefined && !shuttingDown) room.leave(member, reason);
      closeConnection(connectionSocket, reason === "line too long" ? "ERROR line too long\n" : "");
    }
  }

  /** Sends `lastWords`, then FIN (once); reading on keeps unread input from making the kernel
   * reset the connection (RST) before the peer has read them. 2 s later it is over anyway. */
  function closeConnection(socket: net.Socket, lastWords: string) {
    if (!socket.writableEnded) socket.end(lastWords);
    socket.resume();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  // Close the socket.  Python:  s.close()  — on Ctrl+C (SIGINT) or SIGTERM: tell, close, exit 0.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, async () => {
    console.log(`Server: ${signal} received; closing the chat room`);
    room.flush();
    shuttingDown = true;
    welcomeSocket.close();
    const closed = [...connections].map((socket) => {
      closeConnection(socket, "Server: the chat room is shutting down\n");
      return once(socket, "close").catch(() => {});
    });
    await Promise.race([Promise.all(closed), new Promise((done) => setTimeout(done, 2000))]);
    process.exit(0);
  });
}

// ---------------------------------------------------------------------------------------
// The room: no sockets in it, so that the unit tests can drive it with plain objects.

/** A member: its name and connection (a net.Socket, or a unit test's plain object). */
export type Member = { name: string; connection: Connection };
export type Connection =
  { write(bytes: Buffer): unknown; destroy(): unknown; writable: boolean; writableLength: number };

/** Members by nameKey(); what is said goes out in batches, one write per receiver per turn. */
export function createRoom(maxQueue: number, log: (text: string) => void) {
  const members = new Map<string, Member>();
  const newcomers = new Map<Member, number>(); // where in `batch` a newcomer's lines start
  let batch: { bytes: Buffer; sender?: Member; log: string }[] = [];

  // What is said in one turn of the event loop (every read that was ready) is sent just after
  // it, encoded once: the members who said none of it all get the same Buffer.
  function broadcast(text: string, sender?: Member, note = "") {
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
      // Limit 3: write() never blocks; what the kernel has not taken waits here, counted.
      if (member.connection.writableLength > maxQueue) {
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

/** `Server: time=HH:MM:SS <name> has joined. Member count=<n>` in 24-hour local time. */
export function announcement(name: string, event: string, count: number, now = new Date()) {
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()].map((n) => `0${n}`.slice(-2));
  return `Server: time=${time.join(":")} ${name} has ${event}. Member count=${count}`;
}

// ---------------------------------------------------------------------------------------
// Names that cannot pass for someone else, per the contract: each rule, then its reason.

const refused: [RegExp, string][] = [[/[\s\p{Cc}]/u, "white space or a control character"],
  [/\p{Cf}/u, "an invisible format character (zero-width space, soft hyphen, bidi control…)"],
  [/\p{Co}/u, "a private-use character"], [/\p{Cs}/u, "half a surrogate pair, not a character"],
  [/\p{Cn}/u, "a code point that Unicode has not assigned"]];
const SCRIPTS = ["Latin", "Greek", "Cyrillic", "Armenian", "Georgian", "Cherokee", "Hebrew",
  "Arabic", "Devanagari", "Thai", "Ethiopic", "Han", "Hiragana", "Katakana", "Hangul", "Bopomofo"];
const scx = (scripts: string[]) => scripts.map((script) => `\\p{scx=${script}}`).join("");
// One script per name, or a mix of Unicode TR39's "highly restrictive" level (Japanese,
// Korean, Chinese); Common and Inherited characters (digits, punctuation, emoji) go with any.
const oneScript = [...SCRIPTS.map((script) => [script]), ["Latin", "Han", "Hiragana", "Katakana"],
  ["Latin", "Han", "Hangul"], ["Latin", "Han", "Bopomofo"]]
  .map((scripts) => new RegExp(`^[\\p{scx=Common}\\p{scx=Inherited}${scx(scripts)}]*$`, "u"))
  .concat(new RegExp(`^[^${scx(SCRIPTS)}]*$`, "u")); // other scripts' letters: not told apart

/** One name, one key (nearly Unicode's NFKC_Casefold): look-alike forms (Ｂ, 𝐁, ſ) become
 * plain letters, invisible ones (variation selectors, fillers) go, and case folds. */
export function nameKey(name: string): string {
  const visible = name.normalize("NFKC").replace(/\p{Default_Ignorable_Code_Point}/gu, "");
  return visible.toUpperCase().toLowerCase().normalize("NFKC");
}

/** Why `name` cannot log in, in plain words, or null when it can; `members`: by nameKey(). */
export function nameProblem(name: string, members: { has(key: string): boolean }): string | null {
  if (name === "") return "name is empty; type a name to log in";
  if ([...name].length > 32) return "name is longer than 32 characters";
  for (const [pattern, what] of refused) {
    const code = pattern.exec(name)?.[0].codePointAt(0)?.toString(16).toUpperCase();
    if (code !== undefined) return `name must not contain U+${code.padStart(4, "0")}, ${what}`;
  }
  const letters = name.normalize("NFKC");
  if (!oneScript.some((pattern) => pattern.test(letters))) {
    const used = SCRIPTS.filter((script) => new RegExp(scx([script]), "u").test(letters));
    if (used.length === 1) used.push("another");
    return `name mixes letters of several scripts (${used.join(", ")}); one script per name`;
  }
  if (nameKey(name) === "") return "name has no visible character";
  if (nameKey(name) === "server") return `name '${name}' is reserved for the server`;
  if (members.has(nameKey(name))) return `name '${name}' is already in the room`;
  return null;
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
      console.log(usage);
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

/**
 * TCP framing: yields the socket's lines, cut at the byte "\n" BEFORE decoding (a character
 * split between two reads is joined up first), without a trailing "\r". A line over
 * `maxLineBytes` bytes (not counting that "\r") throws RangeError("line too long").
 */
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
