// UDP_Server.ts: the Server program that uses UDP (Lab 3, Q1), beside the course's UDP_Server.py.
// Sequence of steps:
//   1. create a socket
//   2. bind the socket to a host and port address
//   3. start sending and receiving data on this socket
// Run it, then `npx tsx UDP_Client.ts --message Hello` in a second terminal (where Node and
// Python differ beyond what the steps say: docs/runtimes.md, "The template scripts"):
//   $ npx tsx UDP_Server.ts                   # --host 0.0.0.0 lets other computers in
//   Server started on 127.0.0.1:43387 ...waiting for a connection from the client
//   Server received MESSAGE= Hello from ADDR= 127.0.0.1:36337
//   Server: replied "Ok" and closed the socket

import dgram from "node:dgram";
import { once } from "node:events";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx UDP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43387; 0 = any free port)`;
const { host, port: portText } = readFlags({ host: "127.0.0.1", port: "43387" });
const port = portNumber(portText, 0);

// Step 1: create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
// AF_INET is IPv4 and SOCK_DGRAM is UDP; Node's "udp4" says both ("udp6" for an IPv6 --host).
const serverSocket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");

// Step 2: bind the socket to a host and port address.
// Python:  s.bind((host, port))
// bind() returns at once and emits "listening" when the port is ours: awaiting it is Python's
// blocking call. A port that is taken arrives as an "error" event instead.
serverSocket.bind(port, host);
await once(serverSocket, "listening").catch((error: Error) => {
  console.error(`Server: cannot bind ${host}:${port}: ${error.message}`);
  process.exit(1);
});
const bound = serverSocket.address();
console.log(`Server started on ${bound.address}:${bound.port}`
  + " ...waiting for a connection from the client");

// Step 3: start sending and receiving data on this socket.
// Python:  data, addr = s.recvfrom(1024)
// Each datagram is one "message" event: its bytes (a Buffer, Python's bytes) and the address it
// came from, the only "connection" UDP has. Awaiting the first is recvfrom's wait.
const [data, addr] = (await once(serverSocket, "message")) as [Buffer, dgram.RemoteInfo];
console.log(`Server received MESSAGE= ${data.toString()} from ADDR= ${addr.address}:${addr.port}`);
// Python:  s.sendto("Ok".encode(), addr)
// send() calls back once the operating system has taken the datagram: UDP never tells more.
const sendError = await new Promise((done) =>
  serverSocket.send("Ok", addr.port, addr.address, done));
if (sendError) throw sendError;

// Close the connection (the template's words: for UDP, this closes the socket).
// Python:  s.close()
serverSocket.close();
console.log(`Server: replied "Ok" and closed the socket`);

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
