// q6/TCP_Client.ts — the calculator Client (Lab 3, Q6): a name, then expressions, then `q`.
//
// Sequence of steps:
//   1. Create a socket
//   2. Connect it to the server process. (We need to know the server's hostname and port.)
//   3. Send and receive data
//
// Run `npx tsx q6/TCP_Server.ts` first, then this in a second terminal (or pipe lines in):
//   npx tsx q6/TCP_Client.ts --name Alice     # --host 192.168.1.23 reaches another computer
//
//   $ printf '4.5 / -6\nq\n' | npx tsx q6/TCP_Client.ts --name Alice
//   Client: connected to 127.0.0.1:43390; type an expression such as 12 + 42, or q
//   -0.75

import { EventEmitter, once } from "node:events";
import { realpathSync } from "node:fs";
import net from "node:net";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx q6/TCP_Client.ts [--host H] [--port P] [--name NAME] [--timeout S]
  --host H      the server's address (default 127.0.0.1)
  --port P      the server's port (default 43390)
  --name NAME   the name this client gives the server (default "Calculator client")
  --timeout S   seconds to wait for the connection (default 5)`;
// The server's rule for a request (q6/TCP_Server.ts explains it), checked before sending.
const EXPRESSION = /^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s+([-+*/])\s+([+-]?(?:\d+\.?\d*|\.\d+))\s*$/;

if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43390", name: "", timeout: "5" });
  const host = flags.host;
  const port = portNumber(flags.port, 1);

  // Step 1: Create a socket.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  const clientSocket = new net.Socket();

  // Step 2: Connect it to the server process. (We need to know the server's hostname and port.)
  // Python:  s.connect((host, port))
  // connect() returns at once; connected() (below) awaits TCP's handshake, for --timeout s.
  clientSocket.connect({ host, port });
  await connected(clientSocket, host, port, positiveNumber("timeout", flags.timeout, false));
  clientSocket.setTimeout(0); // a session may be quiet for as long as the person thinks
  console.log(`Client: connected to ${host}:${port}; type an expression such as 12 + 42, or q`);

  // Step 3: Send and receive data.
  // Python:  s.send(name.encode())
  // One message per line, ending in "\n": the server cuts TCP's byte stream at each one.
  const clientName = flags.name.replace(/\s+/g, " ").trim() || "Calculator client";
  clientSocket.write(`${clientName}\n`);

  // readline gives the typed lines; on a terminal, show() prints above its `> ` prompt row.
  const onTerminal = process.stdin.isTTY === true; // the contract: a prompt when stdin is one
  const input = readline.createInterface({ input: process.stdin, prompt: "> ",
    output: onTerminal ? process.stdout : undefined, terminal: onTerminal });
  const erase = onTerminal ? "\r\x1b[K" : ""; // to column 0, erase the row; readline redraws
  let prompting = onTerminal;
  function show(text: string, output: NodeJS.WriteStream = process.stdout) {
    output.write(`${erase}${text}\n`);
    if (prompting) input.prompt(true);
  }
  process.on("exit", () => { if (prompting) process.stdout.write(erase); }); // no `> ` left

  // Each reply is printed as it comes. The server closing ends us: after `q` exit 0, else 1.
  let leaving = false;
  const replies = new EventEmitter(); // one "reply" event per line printed
  const over = (why: string) => {
    if (leaving) process.exit(0);
    prompting = false;
    show(`Client: the server at ${host}:${port} ${why}; the session is over`, process.stderr);
    process.exit(1);
  };
  async function receiveReplies() {
    try {
      for await (const reply of readLines(clientSocket, 65536)) {
        show(printable(reply));
        replies.emit("reply");
      }
      over("closed the connection");
    } catch (error) {
      over(`failed: ${(error as Error).message}`);
    }
  }
  void receiveReplies();

  // Ctrl-C (readline's "SIGINT" on a terminal) leaves at once, queued or not: `q` goes out.
  const interrupted = () => clientSocket.end("q\n", () => process.exit(0));
  input.on("SIGINT", interrupted);
  process.on("SIGINT", interrupted);

  // Python:  while True:
  //              line = input("> ")
  // We loop right after creating `input` (no await between), so that no line is lost.
  input.on("line", () => { if (prompting) input.prompt(); }); // a fresh `> ` under each line
  input.prompt();
  for await (const line of input) {
    if (line.trim() === "q") break;
    // Q6: "if the input is not correctly formatted, a warning is displayed to the user".
    if (!EXPRESSION.test(line)) {
      show(`Client: Invalid input ${JSON.stringify(line)}: expected <number> <op> <number>`);
      continue;
    }
    // Python:  s.send(line.encode())
    //          data = s.recv(1024)   (a long silence: the server has not taken us yet)
    clientSocket.write(`${line.trim()}\n`);
    const note = setTimeout(() => show("Client: no reply yet: the server must be busy with"
      + " another session; your lines will be answered, in order, when it ends"), 2000);
    await once(replies, "reply");
    clearTimeout(note);
  }

  // Close the connection.
  // Python:  s.close()
  leaving = true; // `q` or the end of input (Ctrl-D, a pipe's end): the server closes after it
  clientSocket.write("q\n"); // the server closes first; receiving the FIN ends this process
}

export { EXPRESSION, readLines };

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

/** True when this file is the program being run, not a module imported by the tests. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  const script = process.argv[1];
  return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
}
