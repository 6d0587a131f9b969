// TCP_Server.ts: the Server program (Lab 3, Q4), step for step beside the course's TCP_Server.py.
// Sequence of steps:
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client
//   5. send and receive data over the "connection" socket
//   $ npx tsx TCP_Server.ts     # then TCP_Client.ts; --host 0.0.0.0 lets other computers in
//   Server started on 127.0.0.1:43389 ...waiting for a connection from the client
//   Connection initiated from 127.0.0.1:55434
//   SERVER RECEIVED: Knock knock..

import { once } from "node:events";
import net from "node:net";
import { parseArgs } from "node:util";

const usage = `Usage: npx tsx TCP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43389; 0 = any free port)`;
const { host, port: portText } = readFlags({ host: "127.0.0.1", port: "43389" });
const port = portNumber(portText, 0);

// Step 1: create a "welcome" socket for listening to new connections.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// A net.Server is a listening TCP (SOCK_STREAM) socket; more on Node in docs/runtimes.md.
const welcomeSocket = net.createServer();

// Step 2: bind the socket to a host and port.
// Python:  s.bind((host, port))
// Step 3: start listening on this socket for new connections.
// Python:  s.listen(1)
// Node's listen() does both; backlog 1 is Python's argument, how many clients the operating
// system may queue until we accept. Awaiting "listening" is the wait for the port.
welcomeSocket.listen({ host, port, backlog: 1 });
await once(welcomeSocket, "listening").catch((error: Error) => {
  console.error(`Server: cannot listen on ${host}:${port}: ${error.message}`);
  process.exit(1);
});
const bound = welcomeSocket.address() as net.AddressInfo;
console.log(`Server started on ${bound.address}:${bound.port}`
  + " ...waiting for a connection from the client");

// Step 4: accept an incoming connection from the client.
// Python:  conn, addr = s.accept()
// Node accepts by itself: "connection" brings a new socket for this one client. One is all
// this template serves, so the welcome socket closes now.
const [connectionSocket] = (await once(welcomeSocket, "connection")) as [net.Socket];
const { remoteAddress, remotePort } = connectionSocket;
console.log(`Connection initiated from ${remoteAddress}:${remotePort}`);
welcomeSocket.close();

// Step 5: send and receive data over the "connection" socket.
// Python:  data = conn.recv(1024)
// One "data" event is whatever bytes have arrived, like recv(1024): we reply to it at once,
// not waiting for the client to close. "end" first is Python's empty read (it hung up).
const hungUp = once(connectionSocket, "end")
  .then(() => { throw new Error("it closed the connection"); });
const firstRead = Promise.race([once(connectionSocket, "data"), hungUp]);
const [data] = (await firstRead.catch((error: Error) => {
  console.error(`Server: the client sent nothing (${error.message})`);
  process.exit(1);
})) as [Buffer];
console.log(`SERVER RECEIVED: ${data.toString()}`);
// Python:  conn.send("Whose there?".encode())
// write() queues the reply and returns; the kernel sends it as soon as it can.
connectionSocket.write("Whose there?");

// Close the connection.
// Python:  conn.close()
// end() sends TCP's FIN right behind the reply; destroy() frees the socket once both are out.
connectionSocket.end(() => connectionSocket.destroy());

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
