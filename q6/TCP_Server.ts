// q6/TCP_Server.ts — the calculator Server (Lab 3, Q6): a client sends its name, then one
// expression per line (`12 + 42`), each answered with one line; `q` ends its session.
//
// Sequence of steps:
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client
//   5. send and receive data over the "connection" socket
//
// Run it (from the repository root), then its partner in a second terminal:
//   npx tsx q6/TCP_Server.ts                  # --host 0.0.0.0 lets other computers in
//   npx tsx q6/TCP_Client.ts --name Alice
//
//   $ npx tsx q6/TCP_Server.ts --idle-timeout 60
//   Server started on 127.0.0.1:43390 ...waiting for a connection from the client
//   Connection initiated from 127.0.0.1:45030
//   Server: session started with "Alice"
//   Server: Alice sent: 10 / 0
//   Server: replied to Alice: ERROR division by zero
//   Server: 127.0.0.1:45032 connected and waits until the session with "Alice" ends
//   Server: Alice: sent no line for 60 s
//   Session ended
//   Connection initiated from 127.0.0.1:45032

import { on, once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import { clearTimeout, setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`.
const usage = `Usage: npx tsx q6/TCP_Server.ts [--host H] [--port P] [--idle-timeout S]
  --host H           address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P           port to bind (default 43390; 0 = any free port)
  --idle-timeout S   end a session that sends no line for S seconds (default 300)`;
const MAX_LINE_BYTES = 65536; // a longer line gets `ERROR line too long`, and is closed
// A request is `<number> <op> <number>`, white space between (and around). A number is a plain
// decimal, optionally signed: 12, -6, 3.24, .5 and 5. (as Python's float() reads them), but not
// 1e5, 0x10, Infinity or NaN, which Number() would take. The client checks the same rule.
const EXPRESSION = /^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s+([-+*/])\s+([+-]?(?:\d+\.?\d*|\.\d+))\s*$/;

// Python:  if __name__ == "__main__":   (the tests import the calculator without starting it)
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43390", "idle-timeout": "300" });
  const idleSeconds = positiveNumber("idle-timeout", flags["idle-timeout"], false);
  // Runs until stopped: Ctrl-C (SIGINT) or `kill` (SIGTERM) exits 0, closing every socket. Set
  // before the first line is printed, so that a signal right after it counts too.
  process.on("SIGINT", () => process.exit(0)).on("SIGTERM", () => process.exit(0));

  // Step 1: create a "welcome" socket for listening to new connections.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const welcomeSocket = net.createServer();

  // Step 2: bind the socket to a host and port.                  Python:  s.bind((host, port))
  // Step 3: start listening on this socket for new connections.  Python:  s.listen(1)
  // Node does both in one call, with its own backlog: step 4 queues the clients that wait.
  welcomeSocket.listen({ host: flags.host, port: portNumber(flags.port, 0) });
  await once(welcomeSocket, "listening").catch((error: Error) => {
    console.error(`Server: cannot listen on ${flags.host}:${flags.port}: ${error.message}`);
    process.exit(1);
  });
  const { address, port } = welcomeSocket.address() as net.AddressInfo;
  console.log(`Server started on ${address}:${port} ...waiting for a connection from the client`);

  // Step 4: accept an incoming connection from the client.
  // Python:  while True:
  //              conn, addr = s.accept()
  // Node accepts each client once TCP's handshake is done ("connection"); `on()` queues them
  // and the loop takes the next when a session ends: the others wait, bytes unread, not dropped.
  let serving: string | undefined; // the client of the session in progress
  welcomeSocket.on("connection", (socket: net.Socket) => {
    // Keepalive probes an idle connection: a vanished client (no FIN, no RST) fails with
    // ETIMEDOUT in ~15 s (docs/runtimes.md). The empty listener: a queued client's error is
    // not a crash (the session loop reads the errors of the client it serves).
    socket.on("error", () => {}).setKeepAlive(true, 5000);
    if (serving) console.log(`Server: ${socket.remoteAddress}:${socket.remotePort} connected`
      + ` and waits until the session with ${serving} ends`);
  });
  for await (const [connectionSocket] of on(welcomeSocket, "connection") as
    AsyncIterable<[net.Socket]>) {
    serving = `${connectionSocket.remoteAddress}:${connectionSocket.remotePort}`;
    console.log(`Connection initiated from ${serving}`);

    // Step 5: send and receive data over the "connection" socket.
    // Python:  data = conn.recv(1024)
    // recv(1024) returns whatever bytes have arrived, half a line or two: readLines (below)
    // cuts the stream at each "\n". The first line is the client's name (Q6's state).
    let clientName: string | undefined;
    let ending = "closed the connection without sending q"; // unless `q` or an error
    // --idle-timeout: a session silent that long (its person left, or its computer vanished
    // mid-reply, when keepalive never fires) gets one ERROR line; destroy() ends the loop.
    const idleTimer = setTimeout(() => {
      connectionSocket.write(`ERROR no line for ${idleSeconds} s, so the session is closed\n`);
      connectionSocket.destroy(new Error(`sent no line for ${idleSeconds} s`));
    }, idleSeconds * 1000);
    try {
      for await (const message of readLines(connectionSocket, MAX_LINE_BYTES)) {
        idleTimer.refresh(); // a line: the idle time starts again
        if (clientName === undefined) {
          clientName = printable(message.trim());
          serving = `"${clientName}"`;
          console.log(`Server: session started with ${serving}`);
          continue;
        }
        console.log(`Server: ${clientName} sent: ${printable(message)}`);
        if (message.trim() === "q") {
          ending = "";
          break;
        }
        // Python:  conn.send(reply.encode())
        // write() never blocks as send() does: it queues, and returns false once Node's queue is
        // full (the kernel's already is); awaiting "drain" stops a client that never reads from
        // filling our memory.
        const reply = answer(message);
        console.log(`Server: replied to ${clientName}: ${reply}`);
        if (!connectionSocket.write(`${reply}\n`)) await once(connectionSocket, "drain");
      }
    } catch (error) {
      if (error instanceof RangeError) connectionSocket.write("ERROR line too long\n");
      ending = (error as Error).message; // readLines' "line too long", the idle timer's, a reset's
    }
    clearTimeout(idleTimer);
    if (ending) console.log(`Server: ${clientName ?? serving}: ${ending}`);

    // Close the connection, then serve the next client.
    // Python:  conn.close()
    // end() sends what is still queued and TCP's FIN; destroy() frees the socket right after.
    connectionSocket.end(() => connectionSocket.destroy());
    console.log("Session ended");
    serving = undefined;
  }
}

// The calculator: a pure function, tested on its own.

/** The reply line to one request line: the result, or `ERROR <reason>`. */
function answer(line: string): string {
  if (line.trim() === "") return "ERROR empty expression";
  const match = EXPRESSION.exec(line); // [whole line, left number, operator, right number]
  if (match === null) return "ERROR malformed expression: expected <number> <op> <number>";
  const a = Number(match[1]), op = match[2], b = Number(match[3]);
  if (op === "/" && b === 0) return "ERROR division by zero";
  const value = op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b;
  if (!Number.isFinite(value)) return "ERROR result too large"; // beyond a double's range
  // Plain notation always (toString() writes 1e+21 and 1e-7), rounded to at most 12
  // significant digits, no trailing zeros; `|| 0` makes -0 a 0.
  return (value || 0).toLocaleString("en-US", { maximumSignificantDigits: 12, useGrouping: false });
}

export { answer, EXPRESSION, readLines };

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
async function* readLines(socket: net.Socket, maxLineBytes: number): AsyncGenerator<string> {
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
