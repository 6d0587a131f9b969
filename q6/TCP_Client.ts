// q6/TCP_Client.ts — the calculator Client (Lab 3, Q6): the TCP template's client, extended
// to a session. It sends its name, then each expression the user types (`12 + 42`), prints
// the server's answer to each, and ends the session with `q`.
//
// Sequence of steps (the TCP template's, step 3 grown into a loop over the user's lines):
//   1. create a socket
//   2. connect to the server (we need to know its host and port)
//   3. send and receive data over the socket
//   4. close the connection
//
// Run the server first, then this client in a second terminal:
//   npx tsx q6/TCP_Server.ts
//   npx tsx q6/TCP_Client.ts --name Alice     # --host 192.168.1.23 reaches another computer
//
//   $ npx tsx q6/TCP_Client.ts --name Alice
//   Client: connected to 127.0.0.1:43390 as "Alice"; type an expression such as 12 + 42, or q to quit
//   > 12 + 42
//   54
//   > 3.24 - 45
//   -41.76
//   > 12 +
//   Client: Invalid input "12 +": expected <number> <op> <number>, e.g. 12 + 42
//   > 10 / 0
//   ERROR division by zero
//   > q
//
// It also reads piped input: `printf '12 + 42\nq\n' | npx tsx q6/TCP_Client.ts` prints `54`.

import { Buffer } from "node:buffer";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, and names the client.
const usage = `Usage: npx tsx q6/TCP_Client.ts [--host H] [--port P] [--name NAME]
  --host H      the server's address (default 127.0.0.1)
  --port P      the server's port (default 43390)
  --name NAME   the name this client gives the server (default "Calculator client")
  --help        show this help
Then type one expression per line, <number> <op> <number> with op one of + - * /
(e.g. 12 + 42, 3.24 - 45, 4.5 / -6), and q (or Ctrl-D) to end the session.`;

// The longest reply line we accept (the server's limit for requests is the same).
const MAX_LINE_BYTES = 65536;

// Python:  if __name__ == "__main__":
// The steps run only when this file is the program; the tests import its functions without
// starting anything.
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43390", name: "Calculator client" });
  const host = flags.host;
  const port = portNumber(flags.port);
  if (port === 0) {
    console.error(`Invalid --port '0': the client needs the server's actual port (see --help)`);
    process.exit(2);
  }
  // Q6: "the client initiates communication by sending the server its name". The name travels
  // as one line, so it must not be empty or contain a line break.
  const clientName = flags.name.trim();
  if (clientName === "" || /[\r\n]/.test(clientName)) {
    console.error(`Invalid --name ${JSON.stringify(flags.name)}: expected a non-empty name on one line (see --help)`);
    process.exit(2);
  }

  // Step 1: create a socket.            Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  // Step 2: connect to the server.      Python:  s.connect((host, port))
  // net.connect() creates the TCP socket and starts TCP's three-way handshake; awaiting the
  // "connect" event plays the part of Python's blocking connect(). A refused or unreachable
  // server arrives as an "error" event, which `once` turns into an exception.
  const clientSocket = net.connect({ host, port });
  clientSocket.setTimeout(10_000, () => clientSocket.destroy(new Error("no answer within 10 s")));
  try {
    await once(clientSocket, "connect");
  } catch (error) {
    console.error(`Client: cannot reach the server at ${host}:${port} (${(error as Error).message}): is q6/TCP_Server.ts running there, and are the host and port right?`);
    process.exit(1);
  }
  clientSocket.setTimeout(0);
  console.log(`Client: connected to ${host}:${port} as "${clientName}"; type an expression such as 12 + 42, or q to quit`);

  // If the server goes away (stopped, or the network fails) while we are not in the middle of
  // a request, the socket closes: say so once and stop. Later errors arrive here too, as a close.
  let quitting = false;
  function serverGone(reason: string): never {
    console.error(`Client: ${reason}; the session is over`);
    process.exit(1);
  }
  clientSocket.on("error", () => {}); // reported through "close" or the reply loop below
  clientSocket.on("close", () => {
    if (!quitting) serverGone(`the server at ${host}:${port} closed the connection`);
  });

  // Step 3: send and receive data over the socket.
  // Python:  s.send(name.encode())
  // Every message is one line ending in "\n"; the server reads by lines, so a message can
  // never be glued to the next one or cut in two, whatever TCP does to the bytes.
  clientSocket.write(`${clientName}\n`);
  const replies = readLines(clientSocket, MAX_LINE_BYTES);

  // Q6: "the client runs in an infinite loop where it accepts a line of input from the user".
  // Python:  while True:
  //              line = input("> ")
  // readline gives one line at a time from the terminal or from a pipe. We loop over it right
  // after creating it (no `await` in between): lines that arrive while we wait for a reply are
  // queued, not lost. The `> ` prompt appears only when a person is typing (a terminal).
  const interactive = process.stdin.isTTY === true;
  const input = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: interactive, prompt: "> " });
  if (interactive) input.prompt();
  let typedQ = false;
  for await (const line of input) {
    typedQ = line.trim() === "q";
    if (typedQ) break;
    // Q6: "if the input is not correctly formatted, a warning is displayed to the user".
    // An empty line is malformed too (the server would answer `ERROR empty expression`).
    const expression = parseExpression(line);
    if ("error" in expression) {
      console.log(`Client: Invalid input ${JSON.stringify(line)}: ${expression.error}`);
    } else {
      // Python:  s.send(line.encode())
      //          reply = s.recv(1024).decode()
      // Exactly one reply line comes back per expression; we wait for it before reading on.
      // The wait can be long: the server serves one client at a time, so we may be queued.
      clientSocket.write(`${line.trim()}\n`);
      const note = setTimeout(() => console.log("Client: no reply yet; the server serves one client at a time, so another session may be in progress"), 3000);
      const reply = await replies.next().catch((error: Error) => serverGone(`the connection failed: ${error.message}`));
      clearTimeout(note);
      if (reply.done) serverGone(`the server at ${host}:${port} closed the connection`);
      console.log(reply.value);
    }
    if (interactive) input.prompt();
  }

  // Step 4: close the connection.
  // Python:  s.send(b"q")
  //          s.close()
  // `q` (or the end of the input: Ctrl-D, or the end of a pipe) ends the session: we send `q`
  // and wait for the server to close its side, which tells us it has ended the session (if
  // another client's session is still going on, that is after it, so we set no time limit).
  quitting = true;
  if (interactive && !typedQ) console.log(); // end the prompt's line after Ctrl-D or Ctrl-C
  clientSocket.write("q\n");
  await once(clientSocket, "close");
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// Line framing: THE answer to Python's `recv(1024)`, and the most common bug in students'
// solutions. TCP delivers a stream of bytes, not messages: one read may hold half a line, or
// three lines glued together, however the sender wrote them. So we collect bytes and cut them
// at each "\n" (byte 0x0A). We cut *before* decoding to text: 0x0A never occurs inside a
// multibyte UTF-8 character, while a read may end in the middle of one ("é" is 2 bytes).
// A trailing "\r" is dropped and not counted: a line that grows past `maxLineBytes` bytes
// without it throws a RangeError. Bytes left without a "\n" when the peer closes count as a
// last line.

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
// The same check as the server's (q6/TCP_Server.ts keeps the identical function; the tests
// make sure the two agree), so that a malformed line is caught here and never sent.

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

export { parseExpression, readLines };

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
