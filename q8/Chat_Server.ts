// q8/Chat_Server.ts — the chat room manager (Lab 3, Q8): many clients at once, each logs in
// with a unique name, and whatever a member types reaches every other member.
//
// Sequence of steps (TCP_Server.py's, with what Q8 adds inside the step it belongs to):
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client — again and again, one handler each
//   5. send and receive data over the "connection" socket — login, chat, leave
//
// Run it (from the repository root), then one chat window per member in other terminals:
//   npx tsx q8/Chat_Server.ts                # --host 0.0.0.0 lets other computers in
//   npx tsx q8/Chat_Client.ts --name Batman
//
//   $ npx tsx q8/Chat_Server.ts
//   Server started on 127.0.0.1:43392 ...waiting for connections
//   Server: time=12:07:03 Batman has joined. Member count=1 (from 127.0.0.1:52154)
//   Server: time=12:07:05 Voldemort has joined. Member count=2 (from 127.0.0.1:52168)
//   Batman: Anyone here?
//   Voldemort: Crucio!
//   Batman: Aaaaaahrrhhhhh..
//   Server: time=12:07:11 Batman has left. Member count=1 (quit)
//   Server: time=12:07:13 Voldemort has left. Member count=0 (quit)
//   ^CServer: SIGINT received; closing the chat room
//
// Wire protocol: UTF-8 lines ending in "\n" both ways. The first line is the login name (an
// `ERROR ...` reply asks for another); later lines are chat; `quit` leaves. answers.md (Q8)
// explains the design, each failure and its limit, and how the room could grow further.

import { Buffer } from "node:buffer";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx q8/Chat_Server.ts [--host H] [--port P] [limits]
  --host H              address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P              port to bind (default 43392; 0 = any free port)
  --login-timeout S     close a connection that has not logged in after S seconds (default 30)
  --max-line B          a longer line (in bytes) closes the connection (default 65536)
  --max-queue B         disconnect a member once B bytes wait for it in this process (default 1048576)
  --help                show this help`;

/** A logged-in member; `since`: where its lines start in the unsent batch (see flush). */
type Member = { name: string; socket: net.Socket; address: string; since: number; reason?: string };

// Python:  if __name__ == "__main__":
// The steps run only when this file is the program; the tests import its functions without
// starting anything.
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43392", "login-timeout": "30", "max-line": "65536", "max-queue": "1048576" });
  const host = flags.host;
  const port = portNumber(flags.port);
  const loginTimeout = positiveNumber("login-timeout", flags["login-timeout"], false);
  const maxLine = positiveNumber("max-line", flags["max-line"], true);
  const maxQueue = positiveNumber("max-queue", flags["max-queue"], true);

  // The room: members by case-folded name, and every open connection (for shutting down).
  // Only one piece of JavaScript runs at a time, and each handler touches these only between
  // its awaits, so no two handlers are ever inside them at once: no lock is needed, unlike
  // the threads of a Python server.
  const members = new Map<string, Member>();
  const connections = new Set<net.Socket>();
  let batch: { bytes: Buffer; sender: Member | undefined; log: string }[] = []; // not yet sent: see flush()
  let shuttingDown = false;

  // Step 1: create a "welcome" socket for listening to new connections.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const welcomeSocket = net.createServer();

  // Step 2: bind the socket to a host and port.
  // Python:  s.bind((host, port))
  // Step 3: start listening on this socket for new connections.
  // Python:  s.listen(5)
  // As in TCP_Server.ts, Node binds and listens in one call. The backlog is larger here: many
  // clients may knock at once, and the operating system queues them until Node accepts them.
  welcomeSocket.listen({ host, port, backlog: 511 });
  try {
    await once(welcomeSocket, "listening");
  } catch (error) {
    console.error(`Server: cannot listen on ${host}:${port}: ${(error as Error).message}`);
    process.exit(1);
  }
  const bound = welcomeSocket.address() as net.AddressInfo;
  console.log(`Server started on ${bound.address}:${bound.port} ...waiting for connections`);
  // A failed accept (e.g. out of file descriptors) is logged; the room carries on.
  welcomeSocket.on("error", (error) => console.error(`Server: ${error.message}`));

  // Step 4: accept incoming connections, each served by its own handler.
  // Python (the assignment's multi-threaded skeleton):
  //          while True:
  //              conn, addr = s.accept()
  //              threading.Thread(target=handle_client, args=(conn, addr)).start()
  // Node has one thread and an event loop. Calling an async function without awaiting it is
  // the equivalent of starting a thread: `handleClient` runs until its first await (waiting
  // for a line), the loop serves other clients meanwhile, and it resumes when a line arrives.
  welcomeSocket.on("connection", (connectionSocket: net.Socket) => void handleClient(connectionSocket));

  // Step 5: send and receive data over each "connection" socket: the thread function.
  async function handleClient(connectionSocket: net.Socket) {
    const address = `${connectionSocket.remoteAddress}:${connectionSocket.remotePort}`;
    connections.add(connectionSocket);
    // Without this, the kernel holds back small segments until the previous one is
    // acknowledged (Nagle's algorithm), which with delayed ACKs costs ~40 ms per chat line.
    connectionSocket.setNoDelay(true);
    // Read errors reach the loop below; this catches those of writes to a dying socket.
    connectionSocket.on("error", ignoreError);
    // Limit 1: a connection must log in within --login-timeout seconds.
    let timedOut = false; // once told to go, a connection's later lines count for nothing
    let loginTimer: NodeJS.Timeout | undefined = setTimeout(() => {
      console.log(`Server: ${address} did not log in within ${loginTimeout} s; closing the connection`);
      timedOut = true;
      closeConnection(connectionSocket, `ERROR no login name within ${loginTimeout} seconds\n`);
    }, loginTimeout * 1000);
    let member: Member | undefined;
    let reason = "dropped";
    try {
      // Python:  data = conn.recv(1024) in a loop — here `for await` hands us whole lines,
      // in the order this client sent them, and ends when the client hangs up.
      for await (const line of readLines(connectionSocket, maxLine)) {
        if (timedOut || shuttingDown) break;
        if (member === undefined) {
          // Login: the first acceptable line is the name; a bad one gets ERROR and a retry.
          const problem = nameProblem(line, members);
          if (problem !== null) {
            console.log(`Server: refused a name from ${address}: ${problem}`);
            connectionSocket.write(`ERROR ${problem}\n`);
            continue;
          }
          // A cleared timer object stays in memory while anything refers to it, and this
          // handler lives as long as the member: let it go.
          clearTimeout(loginTimer);
          loginTimer = undefined;
          member = { name: line, socket: connectionSocket, address, since: 0 };
          join(member);
        } else if (line === "quit") {
          reason = "quit";
          break;
        } else if (line !== "") {
          broadcast(`${member.name}: ${line}`, member);
        }
      }
    } catch (error) {
      // Limit 2: a line longer than --max-line bytes (readLines' RangeError "line too long")
      // gets ERROR and ends the connection. A network error (it has a code, e.g. ECONNRESET)
      // means the member dropped; anything else, another RangeError included, is a bug in this
      // file and should stop the server loudly.
      if (error instanceof RangeError && error.message === "line too long") reason = "line too long";
      else if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    } finally {
      // Python:  conn.close()  — whichever way the loop ended, the connection goes.
      clearTimeout(loginTimer);
      connections.delete(connectionSocket);
      if (member !== undefined) leave(member, member.reason ?? reason);
      closeConnection(connectionSocket, reason === "line too long" ? "ERROR line too long\n" : undefined);
    }
  }

  /** One shared do-nothing listener: a new closure per connection would cost memory for nothing. */
  function ignoreError() {}

  /** Sends `lastWords`, then closes the connection politely (FIN after the queued output). */
  function closeConnection(socket: net.Socket, lastWords?: string) {
    if (lastWords !== undefined) socket.write(lastWords);
    socket.end();
    // Keep reading, and drop what arrives: closing with unread input makes the kernel answer
    // with a reset (RST), which can destroy our last line before the client has read it. A
    // client that never closes its side is cut off after two seconds.
    socket.resume();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  function join(member: Member) {
    member.since = batch.length; // lines said before it came in are not for the newcomer
    members.set(nameKey(member.name), member);
    const text = announcement(member.name, "joined", members.size);
    broadcast(text, undefined, `${text} (from ${member.address})`);
  }

  function leave(member: Member, reason: string) {
    if (members.get(nameKey(member.name)) !== member || shuttingDown) return;
    members.delete(nameKey(member.name));
    const text = announcement(member.name, "left", members.size);
    broadcast(text, undefined, `${text} (${reason})`);
  }

  // Broadcasting. One write per receiver per line would be one system call each: 500
  // members and a busy room make that the server's whole cost. So the lines broadcast during
  // one turn of the event loop (all the reads that were ready) are collected, encoded once,
  // and sent by `flush` just after that turn: members who sent none of them all get the same
  // Buffer, one write each; only the turn's senders (without their own lines) and newcomers
  // (from their join on) get a Buffer of their own.
  // setImmediate, not process.nextTick: a nextTick callback would run right after this one
  // read, before the loop has looked at the other sockets, so two lines that arrive together
  // would cost two fan-outs. (Measured at 500 members: a p99 five times longer.)
  function broadcast(text: string, sender: Member | undefined, log = text) {
    if (batch.length === 0) setImmediate(flush);
    batch.push({ bytes: Buffer.from(`${text}\n`), sender, log });
  }

  function flush() {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    console.log(lines.map((line) => line.log).join("\n")); // the console too: one write per turn
    const everything = Buffer.concat(lines.map((line) => line.bytes));
    const senders = new Set(lines.map((line) => line.sender));
    for (const member of members.values()) {
      const socket = member.socket;
      if (!socket.writable) continue; // it died; its handler will announce it
      const from = member.since;
      member.since = 0;
      const bytes = from === 0 && !senders.has(member) ? everything
        : Buffer.concat(lines.slice(from).filter((line) => line.sender !== member).map((line) => line.bytes));
      if (bytes.length > 0) socket.write(bytes);
      // Limit 3: write() never blocks; what the kernel did not accept waits in this process
      // (writableLength). A member that stopped reading lets that grow: cut it off.
      if (socket.writableLength > maxQueue) {
        member.reason = "too slow";
        socket.destroy();
      }
    }
  }

  // Python:  except KeyboardInterrupt: ... s.close()
  // Ctrl+C (SIGINT) or a service manager (SIGTERM): tell everyone, close, exit 0.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void shutDown(signal));
  async function shutDown(signal: string) {
    console.log(`Server: ${signal} received; closing the chat room`);
    flush();
    shuttingDown = true;
    welcomeSocket.close();
    const closed = [...connections].map((socket) => {
      closeConnection(socket, "Server: the chat room is shutting down\n");
      return once(socket, "close").catch(() => {});
    });
    const twoSeconds = new Promise((resolve) => setTimeout(resolve, 2000)); // see closeConnection
    await Promise.race([Promise.all(closed), twoSeconds]);
    process.exit(0);
  }
}

// ---------------------------------------------------------------------------------------
// Pure functions, exported for the unit tests.

/**
 * TCP framing, the same helper as q6's: yields the socket's lines, split on the byte "\n"
 * BEFORE decoding (a character cut in two by the network is joined up first), without a
 * trailing "\r". A line over `maxLineBytes` bytes (not counting that "\r") throws a RangeError.
 */
export async function* readLines(socket: net.Socket, maxLineBytes: number): AsyncGenerator<string> {
  let pending = Buffer.alloc(0);
  // `destroyOnReturn: false`: leaving the loop early must not destroy the socket; the caller
  // closes it properly, after its last line.
  for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    pending = Buffer.concat([pending, chunk]);
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

/** Names compare without case: "Batman", "BATMAN" and "batman" are one member. */
export function nameKey(name: string): string {
  // Upper then lower folds letters with several forms too (the long "ſ" is an "s").
  return name.toUpperCase().toLowerCase();
}

/** Why `name` cannot log in, or null when it can; `members` is keyed by nameKey(). */
export function nameProblem(name: string, members: { has(key: string): boolean }): string | null {
  if (name === "") return "name is empty; type a name to log in";
  if ([...name].length > 32) return "name is longer than 32 characters";
  if (/[\s\p{Cc}]/u.test(name)) return "name must not contain white space or control characters";
  if (nameKey(name) === "server") return `name '${name}' is reserved for the server`;
  if (members.has(nameKey(name))) return `name '${name}' is already in the room`;
  return null;
}

/** `Server: time=HH:MM:SS <name> has joined. Member count=<n>` in 24-hour local time. */
export function announcement(name: string, event: "joined" | "left", count: number, now = new Date()): string {
  const time = [now.getHours(), now.getMinutes(), now.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
  return `Server: time=${time} ${name} has ${event}. Member count=${count}`;
}

/** True when this file is the program being run, not a module imported by the tests. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
}

/** A limit flag is a positive decimal number (`whole`: a positive whole number); else exit 2. */
function positiveNumber(flag: string, text: string, whole: boolean): number {
  const value = Number(text);
  // Plain decimals only ("0x10" and "1e3" are numbers to Number() but not to a person), and
  // at most 2147483 s: a longer setTimeout() would fire at once.
  const decimal = whole ? /^\d+$/ : /^(\d+\.?\d*|\.\d+)$/;
  if (!decimal.test(text) || value <= 0 || (!whole && value > 2147483)) {
    console.error(`Invalid --${flag} '${text}': expected a positive ${whole ? "whole number" : "number of seconds, at most 2147483"} (see --help)`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------
// Command-line helpers. Every script in this lab carries the same two small functions, so
// that each file stays standalone (it imports nothing but Node's built-in modules).

/** Reads `--name value` flags over their defaults; `--help` prints the usage and exits 0, a bad flag exits 2. */
function readFlags<Name extends string>(defaults: Record<Name, string>): Record<Name, string> {
  const options: Record<string, { type: "string" | "boolean"; default?: string }> = { help: { type: "boolean" } };
  for (const [name, value] of Object.entries<string>(defaults)) options[name] = { type: "string", default: value };
  try {
    const { values } = parseArgs({ options });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    // An empty --host would make a server listen on every interface, and a client aim nowhere.
    if (typeof values.host === "string" && values.host.trim() === "") throw new Error(`Invalid --host '${values.host}': expected an address or a host name`);
    return values as Record<Name, string>;
  } catch (error) {
    // Node's message may run over several sentences and lines ("Unknown option '--x'. To specify ..."): keep the first.
    console.error(`${(error as Error).message.split(/\.\s/)[0]} (see --help)`);
    process.exit(2);
  }
}

/** A port is a whole number from 0 to 65535; anything else exits 2 with one line. */
function portNumber(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    console.error(`Invalid --port '${text}': expected a whole number from 0 to 65535 (see --help)`);
    process.exit(2);
  }
  return port;
}
