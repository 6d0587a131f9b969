// TCP_Client.ts: the client program (Lab 3, Q4), step for step beside the course's TCP_Client.py.
// Sequence of steps:
//   1. Create a socket
//   2. Connect it to the server process. (We need to know the server's hostname and port.)
//   3. Send and receive data
// Run TCP_Server.ts first, then this in a second terminal (more on Node: docs/runtimes.md):
//   $ npx tsx TCP_Client.ts                   # --host <server's IP> when it runs elsewhere
//   CLIENT RECEIVED: Whose there?

import { once } from "node:events";
import net from "node:net";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx TCP_Client.ts [--host H] [--port P] [--message TEXT] [--timeout S]
  --host H         the server's address (default 127.0.0.1)
  --port P         the server's port (default 43389)
  --message TEXT   what to send (default: the template's "Knock knock..")
  --timeout S      seconds to wait for the connection, and then for the reply (default 5)
  --help           show this help`;
const greeting = "Knock knock.."; // the template's, two dots and all
const flags = readFlags({ host: "127.0.0.1", port: "43389", message: greeting, timeout: "5" });
const port = portNumber(flags.port, 1), seconds = positiveNumber("timeout", flags.timeout, false);
if (flags.message === "") { // zero bytes: TCP would send nothing, and the server would wait
  console.error("Invalid --message '': TCP cannot send an empty message (see --help)");
  process.exit(2);
}

// Step 1: Create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// A net.Socket is TCP (SOCK_STREAM); IPv4 (AF_INET) or IPv6 follows from the address it gets.
const clientSocket = new net.Socket();

// Step 2: Connect it to the server process. (We need to know the server's hostname and port.)
// Python:  s.connect((host, port))
// connect() starts TCP's handshake and returns at once; connected() waits for it. Unlike UDP,
// TCP knows now whether anyone is there: a refused or silent server ends the script here.
clientSocket.connect({ host: flags.host, port });
await connected(clientSocket, flags.host, port, seconds);

// Step 3: Send and receive data.
// Python:  s.send("Knock knock..".encode())
// write() encodes the text as UTF-8 and queues all of it (Python's sendall).
clientSocket.write(flags.message);
// Python:  data = s.recv(1024)
// One "data" event is whatever bytes have arrived, like recv(1024). "end" first means the
// server closed without replying; a server that never replies is given --timeout seconds.
clientSocket.setTimeout(seconds * 1000,
  () => clientSocket.destroy(new Error(`no answer in ${seconds} s`)));
const ended = once(clientSocket, "end")
  .then(() => Promise.reject(new Error("it closed the connection without replying")));
const [reply] = await Promise.race([once(clientSocket, "data"), ended]).catch((error: Error) => {
  console.error(`Client: no reply from ${flags.host}:${port} (${error.message})`);
  process.exit(1);
});
console.log(`CLIENT RECEIVED: ${reply.toString()}`);

// Close the connection.
// Python:  s.close()
clientSocket.destroy();

// ---------------------------------------------------------------------------------------
// Helpers. Each script carries its own copy of the ones it needs, so that it stays
// standalone (it imports only Node's built-in modules); the suite checks every copy is
// the same text (tests/copies.test.ts).

/** Reads `--flag value` over `defaults`; `--help` prints the usage (exit 0), a bad flag exit 2. */
function readFlags<Name extends string>(defaults: Record<Name, string>): Record<Name, string> {
  const options: Record<string, { type: "string" | "boolean"; default?: string }> = {
    help: { type: "boolean" },
  };
  for (const [name, value] of Object.entries<string>(defaults)) {
    options[name] = { type: "string", default: value };
  }
  try {
    const { values } = parseArgs({ options });
    if (values.help) {
      console.log(usage);
      process.exit(0);
    }
    // An empty --host would make a server listen on every interface, and a client aim nowhere.
    if (typeof values.host === "string" && values.host.trim() === "") {
      throw new Error(`Invalid --host '${values.host}': expected an address or a host name`);
    }
    return values as Record<Name, string>;
  } catch (error) {
    // Node's message may run over several sentences ("Unknown option '--x'. To specify ..."):
    // keep the first.
    console.error(`${(error as Error).message.split(/\.\s/)[0]} (see --help)`);
    process.exit(2);
  }
}

/** A port from `lowest` (a server: 0, any free port; a client: 1) to 65535; else exit 2. */
function portNumber(text: string, lowest: number): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < lowest || port > 65535) {
    console.error(`Invalid --port '${text}': expected a whole number from ${lowest} to 65535`
      + " (see --help)");
    process.exit(2);
  }
  return port;
}

/** --flag as a positive decimal (`whole`: whole number), seconds at most 2147483; else exit 2. */
function positiveNumber(flag: string, text: string, whole: boolean): number {
  // Plain decimals only: "0x10" and "1e3" are numbers to Number() but not to a person, and a
  // setTimeout() longer than 2147483 s would fire at once.
  const value = Number(text);
  const decimal = whole ? /^\d+$/ : /^(\d+\.?\d*|\.\d+)$/;
  if (!decimal.test(text) || value <= 0 || (!whole && value > 2147483)) {
    const expected = whole ? "a positive whole number" : "seconds above 0, at most 2147483";
    console.error(`Invalid --${flag} '${text}': expected ${expected} (see --help)`);
    process.exit(2);
  }
  return value;
}

/** Waits for TCP's handshake; a server that cannot be reached: one line naming it, exit 1. */
async function connected(socket: net.Socket, host: string, port: number, seconds: number) {
  // A host that silently drops our SYN would keep the kernel retrying for minutes.
  socket.setTimeout(seconds * 1000, () => socket.destroy(new Error(`no answer in ${seconds} s`)));
  try {
    await once(socket, "connect");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    console.error(`Client: cannot reach the server at ${host}:${port} (${reason}); is it running`
      + " there, with --host 0.0.0.0 if on another computer? Check --host and --port.");
    process.exit(1);
  }
  socket.setTimeout(0);
}
