// TCP_Client.ts: the client program (Lab 3, Q4), step for step beside the course's TCP_Client.py.
// Sequence of steps:
//   1. Create a socket
//   2. Connect it to the server process. (We need to know the server's hostname and port.)
//   3. Send and receive data
//   $ npx tsx TCP_Client.ts        # TCP_Server.ts first; --host <server's IP> if it runs elsewhere
//   CLIENT RECEIVED: Whose there?

import { once } from "node:events";
import net from "node:net";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx TCP_Client.ts [--host H] [--port P] [--message TEXT] [--timeout S]
  --host H         the server's address (default 127.0.0.1)
  --port P         the server's port (default 43389)
  --message TEXT   what to send (default: the template's "Knock knock..")
  --timeout S      seconds to wait for the connection, then for the reply (default 5)`;
const defaults = { host: "127.0.0.1", port: "43389", message: "Knock knock..", timeout: "5" };
const flags = readFlags(defaults);
const port = portNumber(flags.port, 1), seconds = positiveNumber("timeout", flags.timeout, false);

// Step 1: Create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// A net.Socket is TCP (SOCK_STREAM); IPv4 or IPv6 follows from its address (docs/runtimes.md).
const clientSocket = new net.Socket();

// Step 2: Connect it to the server process. (We need to know the server's hostname and port.)
// Python:  s.connect((host, port))
// connect() starts TCP's handshake; connected() waits for it. Unlike UDP, TCP knows now whether
// anyone is there: a refused or silent server ends the script here (after --timeout seconds).
clientSocket.connect({ host: flags.host, port });
await connected(clientSocket, flags.host, port, seconds);

// Step 3: Send and receive data.
// Python:  s.send("Knock knock..".encode())
// write() encodes the text as UTF-8 and queues all of it (Python's sendall).
clientSocket.write(flags.message);
// Python:  data = s.recv(1024)
// One "data" event is whatever has arrived, like recv(1024); connected()'s timer bounds the wait.
const hungUp = once(clientSocket, "end").then(() => { throw new Error("it hung up"); });
const [reply] = (await Promise.race([once(clientSocket, "data"), hungUp]).catch((error: Error) => {
  console.error(`Client: no reply from ${flags.host}:${port} (${error.message})`);
  process.exit(1);
})) as [Buffer];
console.log(`CLIENT RECEIVED: ${reply.toString()}`);

// Close the connection.
// Python:  s.close()
clientSocket.destroy();

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
