// UDP_Client.ts: the client program that uses UDP (Lab 3, Q1), beside the course's UDP_Client.py.
// Sequence of steps:
//   1. Create a socket
//   2. Send messages to it (we need to know the server's hostname and port)
//   $ npx tsx UDP_Client.ts       # UDP_Server.ts first; --host <server's IP> if it runs elsewhere
//   Client received MESSAGE= Ok from ADDR= 127.0.0.1:43387

import dgram from "node:dgram";
import { once } from "node:events";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx UDP_Client.ts [--host H] [--port P] [--message TEXT] [--timeout S]
  --host H         the server's address (default 127.0.0.1)
  --port P         the server's port (default 43387)
  --message TEXT   what to send (default: the template's UDP joke)
  --timeout S      seconds to wait for the reply (default 5)`;
const joke = "I could tell you a UDP joke but I'm not sure you'll get it.";
const flags = readFlags({ host: "127.0.0.1", port: "43387", message: joke, timeout: "5" });
const port = portNumber(flags.port, 1), seconds = positiveNumber("timeout", flags.timeout, false);

// Step 1: Create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
// "udp4" is AF_INET + SOCK_DGRAM. No bind(): the first send gets the socket a free port.
const clientSocket = dgram.createSocket(flags.host.includes(":") ? "udp6" : "udp4");

// Step 2: Send messages to it (we need to know the server's hostname and port).
// Python:  s.sendto(message.encode(), (host, port)); data, addr = s.recvfrom(1024)
// send() encodes the text as UTF-8 and the datagram just goes; awaiting "message" is recvfrom's
// wait. No server there is silence (UDP has nothing to refuse), so a timer ends it with an error.
clientSocket.send(flags.message, port, flags.host);
const timer = setTimeout(() => clientSocket.emit("error", new Error("timed out")), seconds * 1000);
const [data, addr] = (await once(clientSocket, "message").catch((error: Error) => {
  console.error(`Client: no reply from ${flags.host}:${port} (${error.message}); is UDP_Server.ts`
    + " running there, with --host 0.0.0.0 if on another computer? Check --host and --port.");
  process.exit(1);
})) as [Buffer, dgram.RemoteInfo];
clearTimeout(timer);
console.log(`Client received MESSAGE= ${data.toString()} from ADDR= ${addr.address}:${addr.port}`);

// Close the connection (the template's words: for UDP, this closes the socket).
// Python:  s.close()
clientSocket.close();

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
