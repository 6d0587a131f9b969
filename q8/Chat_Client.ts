// q8/Chat_Client.ts — a member's window on the Lab 3 chat room (Q8), beside TCP_Client.py.
//
// Sequence of steps:
//   1. Create a socket
//   2. Connect it to the server process. (We need to know the server's hostname and port.)
//   3. Send and receive data
//
// With the room running (npx tsx q8/Chat_Server.ts) and Voldemort in it, Batman joins:
//   $ npx tsx q8/Chat_Client.ts --name Batman      # without --name it asks; see also --help
//   Server: time=10:05:17 Batman has joined. Member count=2
//   Voldemort: Crucio!

import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`.
const usage = `Usage: npx tsx q8/Chat_Client.ts [--host H] [--port P] [--name NAME] [--timeout S]
Defaults: 127.0.0.1, 43392, a name asked on stdin, 5 s per connect. quit or Ctrl-D leaves.`;
const flags = readFlags({ host: "127.0.0.1", port: "43392", name: "", timeout: "5" });
const host = flags.host;
const port = portNumber(flags.port, 1);
const timeout = positiveNumber("timeout", flags.timeout, false);

// Step 1: Create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// `net.Socket` is a TCP (SOCK_STREAM) socket; its address family follows from the host.
let clientSocket = new net.Socket();

// Step 2: Connect it to the server process. (We need to know the server's hostname and port.)
// Python:  s.connect((host, port))
// connect() returns at once; connected() awaits TCP's handshake, or exits 1 saying why.
clientSocket.connect({ host, port });
await connected(clientSocket, host, port, timeout);
clientSocket.setTimeout(0); // connected() left the idle timer armed; a chat may be quiet

// Step 3: Send and receive data.
// Python:  s.send(...) and s.recv(1024)
// Python would block in input() and recv() on two threads; here both are `await`s on one
// event loop. readline cuts stdin into lines (queued while we wait) and on a terminal draws `> `
// and the typed line: how and why in docs/runtimes.md, "The chat window (q8/Chat_Client.ts)".
const onTerminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
if (onTerminal) readline.emitKeypressEvents(process.stdin); // first, so a paste draws as typed
const rl = readline.createInterface(process.stdin, onTerminal ? process.stdout : undefined);
const keyboard = rl[Symbol.asyncIterator]();
let loggedIn = false; // the server has announced that we joined
let answering = false; // a login name is out: the next line from the server answers it
let leaving = false; // we sent `quit`: the server closing the connection is expected
let typing = true; // stdin is open: keep drawing the `> ` prompt
let answered = () => {}; // receive() calls it after each line it shows
rl.on("close", () => { typing = false; }); // the end of input: no more prompts

/** Prints a line; on a terminal, above the typed line (which may wrap over several rows). */
function show(text: string, output: NodeJS.WriteStream = process.stdout) {
  if (!onTerminal) {
    output.write(`${text}\n`);
    return;
  }
  const rows = rl.getCursorPos().rows; // back to the prompt's first row, and erase from there
  readline.moveCursor(process.stdout, -process.stdout.columns, -rows);
  readline.clearScreenDown(process.stdout);
  output.write(`${text}\n${"\n".repeat(rows)}`); // readline's redraw first moves up `rows`
  if (output === process.stdout && typing) rl.prompt(true); // our stderr lines are last words
}
/** Shows each line the room sends, printable(): ESC [ 2 J would clear our screen, etc. */
async function receive(socket: net.Socket) {
  socket.setNoDelay(true).on("error", () => {}); // send each line now; read errors: below
  let why = `Client: the server at ${host}:${port} closed the connection; the chat is over`;
  try {
    for await (const line of readLines(socket, 1 << 20)) {
      if (answering) { // the answer to our name: ERROR, or the announcement that we joined
        loggedIn = !line.startsWith("ERROR");
        answering = false;
      }
      else if (!loggedIn) continue; // before we sent a name: the server ending an idle login
      show(printable(line));
      answered();
    }
  } catch (error) {
    why = `Client: the connection to ${host}:${port} broke (${(error as Error).message})`;
  }
  if ((loggedIn || answering) && !leaving) leave(1, why); // an idle login ends quietly
}
function leave(code: number, why?: string): never {
  if (why !== undefined) show(why, process.stderr);
  clientSocket.destroy();
  rl.close(); // which also gives the terminal back (out of raw mode)
  process.exit(code);
}
void receive(clientSocket);
// Ctrl-C (a key to readline on a terminal, else a signal) leaves; in the room, like `quit`.
function interrupted() {
  if (loggedIn) rl.close();
  else leave(0, "Client: you left before logging in");
}
for (const source of [rl, process]) source.on("SIGINT", interrupted);

// Log in, then chat (what Q8 adds). The first line is the name (--name, or asked), answered by
// ERROR (ask again) or our joining; then each typed line, in UTF-8 and ending in "\n" (TCP is a
// byte stream: the newline ends a message). Every 10 s an empty line says we are still here.
let loginName = flags.name.trim();
const heartbeat = setInterval(() => { if (loggedIn) clientSocket.write("\n"); }, 10_000).unref();
while (true) {
  if (!loggedIn && loginName !== "") {
    if (clientSocket.destroyed) { // the server's --login-timeout ended it: steps 1 and 2 again
      clientSocket = new net.Socket().connect({ host, port });
      await connected(clientSocket, host, port, timeout);
      clientSocket.setTimeout(0);
      void receive(clientSocket);
    }
    answering = true;
    clientSocket.write(`${loginName}\n`);
    await new Promise<void>((resolve) => { answered = resolve; });
    if (loggedIn) clientSocket.write("\n"); // a first heartbeat at once: now they are expected
    loginName = "";
  }
  if (!loggedIn) show("Enter login name:");
  if (typing) rl.prompt(true);
  const { value: line, done } = await keyboard.next();
  if (done || (loggedIn && line.trim() === "quit")) break;
  if (!loggedIn) loginName = line.trim();
  else if (line !== "" && !clientSocket.write(`${line}\n`)) await once(clientSocket, "drain");
}
if (!loggedIn) leave(0, "Client: the input ended before a login name was accepted");
// Leaving: end() sends `quit` and our FIN; we wait (3 s at most) for the server to close.
clearInterval(heartbeat);
leaving = true;
clientSocket.end("quit\n");
await once(clientSocket, "close", { signal: AbortSignal.timeout(3000) }).catch(() => {});

// Close the connection.
// Python:  s.close()
leave(0);

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

/** Waits for the handshake (its idle timer stays armed); not reached in `seconds`: exit 1. */
async function connected(socket: net.Socket, host: string, port: number, seconds: number) {
  socket.setTimeout(seconds * 1000, () => socket.destroy(new Error(`no answer in ${seconds} s`)));
  await once(socket, "connect").catch((error: NodeJS.ErrnoException) => {
    const reason = error.code ?? error.message;
    console.error(`Client: cannot reach the server at ${host}:${port} (${reason}); is it running`
      + " there, with --host 0.0.0.0 if on another computer? Check --host and --port.");
    process.exit(1);
  });
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
