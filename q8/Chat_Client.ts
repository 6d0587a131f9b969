// q8/Chat_Client.ts — the chat window of the Lab 3 chat room (Q8): it logs in with a name,
// sends every line you type to the room and shows every line the room sends, step for step
// beside the course's TCP_Client.py.
//
// Sequence of steps:
//   1. create a socket
//   2. connect to the server (we need to know the server's hostname and port)
//   3. send and receive data: log in, then chat (keyboard -> server, server -> screen)
//   4. close the connection
//
// Run the room, then one window per member, each in its own terminal:
//   npx tsx q8/Chat_Server.ts
//   npx tsx q8/Chat_Client.ts                 # --name Batman skips the question
//   npx tsx q8/Chat_Client.ts --host 192.168.1.20   # the room on another computer
//
//   Window 1:
//   $ npx tsx q8/Chat_Client.ts
//   Enter login name:
//   > Batman
//   Server: time=11:52:33 Batman has joined. Member count=1
//   Server: time=11:52:38 Voldemort has joined. Member count=2
//   > Anyone here?
//   Voldemort: Crucio!
//   > Aaaaaahrrhhhhh..
//   > quit
//
//   Window 2, started once Batman was in:
//   $ npx tsx q8/Chat_Client.ts
//   Enter login name:
//   > Voldemort
//   Server: time=11:52:38 Voldemort has joined. Member count=2
//   Batman: Anyone here?
//   > Crucio!
//   Batman: Aaaaaahrrhhhhh..
//   Server: time=11:52:44 Batman has left. Member count=1
//   >
//
// Piped input works too: no prompt, no terminal codes, just lines (our own are not echoed):
//   $ printf 'Batman\nAnyone here?\nquit\n' | npx tsx q8/Chat_Client.ts
//   Enter login name:
//   Server: time=11:55:05 Batman has joined. Member count=1
//
// Exit codes: 0 after `quit` or the end of input (also before a name was accepted); 1 if the
// server cannot be reached or goes away; 2 for a bad flag.

import { Buffer } from "node:buffer";
import { EventEmitter, once } from "node:events";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`.
const usage = `Usage: npx tsx q8/Chat_Client.ts [--host H] [--port P] [--name NAME]
  --host H     the chat server to reach (default 127.0.0.1)
  --port P     the chat server's port (default 43392)
  --name NAME  your login name (default: asked on standard input)
  --help       show this help
Type a line and press Enter to send it to everyone; type quit (or Ctrl+D) to leave.`;
const flags = readFlags({ host: "127.0.0.1", port: "43392", name: "" });
const host = flags.host;
const port = portNumber(flags.port);
if (port === 0) {
  console.error(`Invalid --port '0': the client needs the server's actual port (see --help)`);
  process.exit(2);
}

// Step 1: create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// `net.Socket` is a TCP (SOCK_STREAM) socket; its address family follows from the host.
const clientSocket = new net.Socket();

// Step 2: connect to the server.
// Python:  s.connect((host, port))
// connect() returns at once; the "connect" event says the three-way handshake is done. A
// refused or unreachable server arrives as an "error" event, which `once` turns into an
// exception: we print one line and exit 1. A host that silently drops our SYN would keep
// the operating system retrying for minutes, so we give up after CONNECT_TIMEOUT_MS.
const CONNECT_TIMEOUT_MS = 10_000;
clientSocket.connect({ host, port });
clientSocket.setTimeout(CONNECT_TIMEOUT_MS, () => clientSocket.destroy(new Error("no answer (timed out)")));
try {
  await once(clientSocket, "connect");
} catch (error) {
  const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  console.error(`Client: cannot reach the chat server at ${host}:${port} (${reason}); check that q8/Chat_Server.ts is running there and that --host and --port match it`);
  process.exit(1);
}
clientSocket.setTimeout(0);
// Each chat line is a small segment of its own: send it at once instead of letting the
// kernel hold it back until the previous one is acknowledged (Nagle's algorithm).
clientSocket.setNoDelay(true);
// The receiving loop in step 3 learns of a reset connection by itself; this listener only
// keeps an error that arrives after that loop has ended from crashing the program.
clientSocket.on("error", () => {});

// Step 3: send and receive data.
// Python:  s.send(...) and s.recv(1024)
// A chat window waits for two things at once: the keyboard (a line you type) and the socket
// (a line from the room). Python would block in input() on one thread and in recv() on
// another (or ask select() which of the two is ready). Node needs neither: both waits are
// `await`s on the one event loop, and whichever input is ready first runs its code.

// The keyboard. node:readline cuts standard input into lines. On a terminal it also draws
// the `> ` prompt and lets us redraw the line being typed; when input is piped it must stay
// silent (no prompt, no terminal codes). We take ONE iterator over its lines for the whole
// program: it queues lines that arrive while we are busy (e.g. waiting for the login
// answer), so piped input like "Batman\nAnyone here?\nquit\n" loses nothing.
const onTerminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
const rl = readline.createInterface({
  input: process.stdin,
  output: onTerminal ? process.stdout : undefined,
  terminal: onTerminal,
  prompt: "> ",
});
const keyboard = rl[Symbol.asyncIterator]();
let prompting = false; // true while the `> ` prompt waits for a line

/** Prints one line (to stdout, or stderr for our own complaints). On a terminal, the half-typed line is erased first and redrawn after it. */
function show(text: string, output: NodeJS.WriteStream = process.stdout) {
  if (!onTerminal) {
    output.write(`${text}\n`);
    return;
  }
  // Control characters from the room are shown as "�": another member must not be able
  // to clear our screen or move our cursor by sending terminal escape sequences (ESC [ 2 J).
  text = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "\uFFFD");
  // Move up to the row where the prompt starts (a long line wraps over several rows) and
  // erase from there down; print the message; then let readline redraw `> `, what was typed
  // so far and the cursor where it was. The message ends up above the line being typed.
  // readline's redraw first moves up as many rows as the cursor sat below the prompt's first
  // row, so we leave that many empty rows under the message for it to move up through.
  const rowsBelowPrompt = rl.getCursorPos().rows;
  readline.moveCursor(process.stdout, 0, -rowsBelowPrompt);
  readline.cursorTo(process.stdout, 0);
  readline.clearScreenDown(process.stdout);
  output.write(`${text}\n`);
  process.stdout.write("\n".repeat(rowsBelowPrompt));
  if (prompting) rl.prompt(true);
}

/** Waits for the next typed line, showing the prompt on a terminal; undefined at end of input. */
async function nextTypedLine(): Promise<string | undefined> {
  prompting = true;
  if (onTerminal) rl.prompt(true);
  const { value, done } = await keyboard.next();
  prompting = false;
  return done ? undefined : value;
}

// The socket: the receiving half runs for the whole session. Every line from the room is
// printed as it arrives; the login answers ("ERROR ..." or our own "has joined") are also
// passed on to the login step below through `loginAnswers`. When the loop ends, the server
// has closed the connection (or it was reset): if we did not ask to leave, we say so on
// stderr and exit 1.
const MAX_LINE_BYTES = 1 << 20; // a line longer than 1 MiB from the server is not a chat line
let loginName = flags.name.trim();
let loggedIn = false;
let leaving = false;
const loginAnswers = new EventEmitter();
const receiving = (async () => {
  let ending = `the server at ${host}:${port} closed the connection`;
  try {
    for await (const line of readLines(clientSocket, MAX_LINE_BYTES)) {
      show(line);
      if (!loggedIn && (line.startsWith("ERROR") || isOurJoin(line))) loginAnswers.emit("answer", line);
    }
  } catch (error) {
    // A reset connection (ECONNRESET) or an endless line.
    ending = `the connection to ${host}:${port} failed (${(error as Error).message})`;
  }
  if (!leaving) {
    prompting = false; // no prompt after the last line
    show(`Client: ${ending}; the chat is over`, process.stderr);
    leave(1);
  }
})();

/** The room's announcement that we joined: `Server: time=HH:MM:SS <name> has joined. Member count=<n>`. */
function isOurJoin(line: string): boolean {
  return line.startsWith("Server: time=") && line.includes(` ${loginName} has joined.`);
}

// Log in (what Q8 adds). Our first line is the login name: from --name, or asked for. The
// server answers with a line starting with ERROR (name taken, empty, too long, ...) and waits
// for another name on the same connection, or announces us to every member, ourselves
// included. Until that announcement arrives we are not in the room.
while (!loggedIn) {
  while (loginName === "") {
    show("Enter login name:");
    const typed = await nextTypedLine();
    if (typed === undefined) {
      // Q8: the end of input leaves and exits 0, even before we were in the room.
      show("Client: the input ended before a login name was accepted; leaving", process.stderr);
      leave(0);
    }
    loginName = typed.trim(); // "  Batman " means Batman; an empty line just asks again
  }
  const answered = once(loginAnswers, "answer");
  clientSocket.write(`${loginName}\n`);
  const [answer] = (await answered) as [string];
  if (answer.startsWith("ERROR")) loginName = ""; // the error is already on screen: ask again
  else loggedIn = true;
}

// Chat (what Q8 adds). Every typed line goes to the room as one UTF-8 line ending in "\n"
// (TCP is a byte stream; the newline is what tells the server where a message ends). Empty
// lines are not sent. `quit`, or the end of input (Ctrl+D, or the end of a pipe), leaves.
for (let line = await nextTypedLine(); line !== undefined; line = await nextTypedLine()) {
  if (line.trim() === "quit") break;
  if (line === "") continue;
  // write() returns false when the kernel's send buffer is full: wait until it drains.
  if (!clientSocket.write(`${line}\n`)) await once(clientSocket, "drain");
}

// Leave: send `quit` and wait (briefly) for the server to close the connection, printing
// whatever it still sends. end() sends our FIN after the line: we will send nothing more.
const LEAVE_TIMEOUT_MS = 3000;
leaving = true;
clientSocket.end("quit\n");
await Promise.race([receiving, new Promise((resolve) => setTimeout(resolve, LEAVE_TIMEOUT_MS))]);

// Step 4: close the connection.
// Python:  s.close()
leave(0);

/** Closes the socket and the keyboard (which also restores the terminal) and ends the program. */
function leave(code: number): never {
  leaving = true;
  clientSocket.destroy();
  rl.close();
  process.exit(code);
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
