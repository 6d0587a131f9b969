// q6/TCP_Server.ts — the calculator Server (Lab 3, Q6): the TCP template's server, extended to
// a session. A client sends its name, then one expression per line (`12 + 42`); the server
// answers each with one line, remembers the name until the client sends `q`, then serves the
// next client.
//
// Sequence of steps (the TCP template's, step 5 grown into a session loop):
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
//   $ npx tsx q6/TCP_Server.ts
//   Server started on 127.0.0.1:43390 ...waiting for a connection from the client
//   Connection initiated from 127.0.0.1:43060
//   Server: session started with "Alice" from 127.0.0.1:43060
//   Server: Alice sent: 12 + 42
//   Server: replied to Alice: 54
//   Server: Alice sent: 3.24 - 45
//   Server: replied to Alice: -41.76
//   Server: 127.0.0.1:41382 connected and waits until the session with "Alice" ends
//   Server: Alice sent: 10 / 0
//   Server: replied to Alice: ERROR division by zero
//   Server: Alice sent: q
//   Session ended
//   Connection initiated from 127.0.0.1:41382
//   Server: session started with "Bob" from 127.0.0.1:41382
//   Server: Bob sent: 2 * 3
//   Server: replied to Bob: 6
//   Server: Bob sent: q
//   Session ended
//   ^CServer: SIGINT received, closing 0 connection(s) and exiting
//
// (Alice's `12 +` never arrives: her client warned her and sent nothing.)

import { Buffer } from "node:buffer";
import { on, once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`.
const usage = `Usage: npx tsx q6/TCP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43390; 0 = any free port)
  --help     show this help`;

// A line longer than this is not an expression; the server answers `ERROR line too long` and
// closes the connection, so a client cannot make it buffer without limit.
const MAX_LINE_BYTES = 65536;

// Python:  if __name__ == "__main__":
// The steps run only when this file is the program; the tests import its functions without
// starting anything.
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43390" });
  const host = flags.host;
  const port = portNumber(flags.port);

  // Step 1: create a "welcome" socket for listening to new connections.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const welcomeSocket = net.createServer();

  // Step 2: bind the socket to a host and port.   Python:  s.bind((host, port))
  // Step 3: start listening on this socket.         Python:  s.listen(1)
  // Node binds and listens in one call. We keep Node's default backlog instead of Python's 1:
  // Node accepts every connection at once anyway, and clients that arrive during a session
  // wait in our own queue (step 4), never refused by the operating system.
  welcomeSocket.listen({ host, port });
  try {
    await once(welcomeSocket, "listening");
  } catch (error) {
    console.error(`Server: cannot listen on ${host}:${port}: ${(error as Error).message}`);
    process.exit(1);
  }
  const bound = welcomeSocket.address() as net.AddressInfo;
  console.log(`Server started on ${bound.address}:${bound.port} ...waiting for a connection from the client`);

  // Q6: one session at a time, but a client that connects meanwhile must wait, not be dropped.
  // Node hands us every new connection as a "connection" event as soon as TCP's handshake is
  // done; this listener only looks after the ones that must wait: an "error" listener at once
  // (a client that resets while waiting would otherwise crash the server), and a note.
  const openSockets = new Set<net.Socket>();
  let serving: string | undefined; // whom the current session serves (its name, once known)
  welcomeSocket.on("connection", (waitingSocket: net.Socket) => {
    waitingSocket.on("error", () => {}); // the session loop below reports errors itself
    openSockets.add(waitingSocket);
    waitingSocket.on("close", () => openSockets.delete(waitingSocket));
    // Reading the address here also makes Node remember it (it caches the peer on first read):
    // the session loop (step 4) asks again later, when a socket that has reset meanwhile could
    // no longer get it from the kernel.
    const address = addressOf(waitingSocket);
    if (serving !== undefined) {
      console.log(`Server: ${address} connected and waits until the session with ${serving} ends`);
    }
  });

  // Runs until stopped: Ctrl-C (SIGINT) or `kill` (SIGTERM) closes every socket and exits 0.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.log(`Server: ${signal} received, closing ${openSockets.size} connection(s) and exiting`);
      for (const socket of openSockets) socket.destroy();
      welcomeSocket.close();
      process.exit(0);
    });
  }

  // Step 4: accept an incoming connection from the client.
  // Python:  while True:
  //              conn, addr = s.accept()
  // `on()` turns the "connection" events into a queue we can loop over: each turn takes the
  // next client in the order they connected, and the loop does not take the next one before
  // this session has ended. Meanwhile the waiting clients' bytes stay buffered, unread.
  for await (const [connectionSocket] of on(welcomeSocket, "connection") as AsyncIterable<[net.Socket]>) {
    const clientAddress = addressOf(connectionSocket);
    console.log(`Connection initiated from ${clientAddress}`);
    serving = clientAddress;

    // Step 5: send and receive data over the "connection" socket.
    // Python:  data = conn.recv(1024)
    // One message per line: `readLines` (below) turns the byte stream into whole lines, which
    // recv(1024) does not do. The first line is the client's name; the server keeps it for the
    // whole session (Q6's state) and uses it in every log line. Then each line is a request.
    let clientName: string | undefined;
    let quit = false;
    try {
      for await (const message of readLines(connectionSocket, MAX_LINE_BYTES)) {
        if (clientName === undefined) {
          clientName = printable(message.trim());
          serving = `"${clientName}"`;
          console.log(`Server: session started with "${clientName}" from ${clientAddress}`);
          continue;
        }
        console.log(`Server: ${clientName} sent: ${printable(message)}`);
        if (message.trim() === "q") {
          quit = true;
          break;
        }

        // Python:  conn.send(reply.encode())
        // Exactly one reply line per request: the result, or `ERROR <reason>`. Python's send()
        // blocks while the kernel's send buffer is full; Node's write() never blocks: it queues
        // in memory and returns false. Waiting for the queue to drain before reading the next
        // request keeps a client that sends but never reads from filling the server's memory.
        const reply = answer(message);
        console.log(`Server: replied to ${clientName}: ${reply}`);
        if (!connectionSocket.write(`${reply}\n`)) await drained(connectionSocket);
      }
      // The loop also ends when the client closes the connection (Python's recv returns b"").
      if (!quit) {
        console.log(`Server: ${clientName ?? clientAddress} closed the connection without sending q`);
      }
    } catch (error) {
      if (error instanceof RangeError && error.message === "line too long") {
        console.log(`Server: ${clientName ?? clientAddress} sent a line over ${MAX_LINE_BYTES} bytes; closing`);
        connectionSocket.write("ERROR line too long\n"); // the reply to that line; end() below sends it
      } else {
        console.log(`Server: the connection with ${clientName ?? clientAddress} failed: ${(error as Error).message}`);
      }
    }

    // Close the connection, and then serve the next client.
    // Python:  conn.close()
    // end() sends whatever is still queued (and the last ERROR line, if any) followed by TCP's
    // FIN; destroy() then releases the socket without waiting for the client's own FIN.
    connectionSocket.end(() => connectionSocket.destroy());
    console.log("Session ended");
    serving = undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Line framing: THE answer to Python's `recv(1024)`, and the most common bug in students'
// solutions. TCP delivers a stream of bytes, not messages: one read may hold half a line, or
// three lines glued together, however the sender wrote them. So we collect bytes and cut them
// at each "\n" (byte 0x0A). We cut *before* decoding to text: 0x0A never occurs inside a
// multibyte UTF-8 character, while a read may end in the middle of one ("é" is 2 bytes).
// A trailing "\r" (Windows' "\r\n", or telnet) is dropped and not counted: a line that grows
// past `maxLineBytes` bytes without it throws a RangeError, so that the server can answer it
// and close. Bytes left without a "\n" when the peer closes count as a last line.

/** Yields each line received on `socket`, decoded as UTF-8, without its "\n" or "\r\n". */
async function* readLines(socket: net.Socket, maxLineBytes: number): AsyncGenerator<string> {
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

// ---------------------------------------------------------------------------------------
// The calculator: pure functions, tested on their own (tests/q6.test.ts). The client keeps an
// identical copy of `parseExpression` to warn before sending (each script stands alone).

type Operator = "+" | "-" | "*" | "/";
type Expression = { left: number; op: Operator; right: number };

/** `<number> <op> <number>`, separated by white space, into its parts, or why it is not one. */
function parseExpression(line: string): Expression | { error: string } {
  // A number is an optionally signed plain decimal: 12, -6, +3, 3.24, .5 and 5. (as Python's
  // float() reads them), but no exponent (1e5), hex (0x10), Infinity or NaN, which Number() takes.
  const plainDecimal = /^[+-]?(\d+\.?\d*|\.\d+)$/;
  const parts = line.trim().split(/\s+/).filter((part) => part !== "");
  if (parts.length === 0) return { error: "empty expression" };
  if (parts.length < 3 && parts.some((part) => /[\d.][-+*/]/.test(part))) {
    return { error: "put spaces around the operator, e.g. 12 + 42" };
  }
  if (parts.length !== 3) return { error: "expected <number> <op> <number>, e.g. 12 + 42" };
  const [left, op, right] = parts as [string, string, string];
  if (op !== "+" && op !== "-" && op !== "*" && op !== "/") {
    return { error: `unknown operator ${JSON.stringify(op)}: use + - * or /` };
  }
  for (const number of [left, right]) {
    if (!plainDecimal.test(number)) {
      return { error: `${JSON.stringify(number)} is not a plain decimal number (e.g. 12, -6, 3.24, .5)` };
    }
    if (!Number.isFinite(Number(number))) return { error: "a number is too large" };
  }
  return { left: Number(left), op, right: Number(right) };
}

/** The arithmetic; division by zero and results too large for a double are errors. */
function calculate({ left, op, right }: Expression): number | { error: string } {
  if (op === "/" && right === 0) return { error: "division by zero" };
  const value = op === "+" ? left + right : op === "-" ? left - right : op === "*" ? left * right : left / right;
  return Number.isFinite(value) ? value : { error: "result too large" };
}

/** Plain decimal notation, never an exponent, at most 12 significant digits, no trailing zeros. */
function formatResult(value: number): string {
  if (value === 0) return "0"; // also -0
  // toExponential(11) rounds to 12 significant digits, "d.ddddddddddde±x"; we then move the
  // decimal point ourselves, because toString() and toPrecision() switch to an exponent for
  // large and small numbers (1e+21, 1e-7).
  const [mantissa, exponent] = Math.abs(value).toExponential(11).split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const point = Number(exponent) + 1; // how many digits stand before the decimal point
  const whole = point <= 0 ? "0" : (digits + "0".repeat(Math.max(0, point - digits.length))).slice(0, point);
  const fraction = (point <= 0 ? "0".repeat(-point) + digits : digits.slice(point)).replace(/0+$/, "");
  return (value < 0 ? "-" : "") + whole + (fraction ? `.${fraction}` : "");
}

/** The reply line to one request line: the result, or `ERROR <reason>`. */
function answer(line: string): string {
  const expression = parseExpression(line);
  if ("error" in expression) {
    return expression.error === "empty expression" ? "ERROR empty expression" : `ERROR malformed expression: ${expression.error}`;
  }
  const value = calculate(expression);
  return typeof value === "number" ? formatResult(value) : `ERROR ${value.error}`;
}

/** A received line made safe for the console: control characters (but tab) shown as \xNN. */
function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Resolves once `socket` has handed its queued bytes to the kernel ("drain"), or has closed. */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}

/** `HOST:PORT` of the client at the other end of `socket`. */
function addressOf(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

export { answer, calculate, formatResult, parseExpression, readLines };

/** True when this file is the program being run, not a module imported by the tests. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
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
