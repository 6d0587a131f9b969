// TCP_Server.ts — the Server program that uses TCP (Lab 3, Q4), step for step beside
// the course's TCP_Server.py.
//
// Sequence of steps:
//   1. create a "welcome" socket for listening to new connections
//   2. bind the socket to a host and port
//   3. start listening on this socket for new connections
//   4. accept an incoming connection from the client
//   5. send and receive data over the "connection" socket
//
// Run it (from the repository root), then its partner in a second terminal:
//   npx tsx TCP_Server.ts                     # --host 0.0.0.0 lets other computers in
//   npx tsx TCP_Client.ts
//
//   $ npx tsx TCP_Server.ts
//   Server started on 127.0.0.1:43389 ...waiting for a connection from the client
//   Connection initiated from 127.0.0.1:55434
//   SERVER RECEIVED: Knock knock
//   Server: replied "Whose there?" and closed the connection

import { Buffer } from "node:buffer";
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, so one file serves
// a single laptop (the defaults) and two computers (`--host 0.0.0.0`) without editing.
const usage = `Usage: npx tsx TCP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43389; 0 = any free port)
  --help     show this help`;
const flags = readFlags({ host: "127.0.0.1", port: "43389" });
const host = flags.host;
const port = portNumber(flags.port);

// Step 1: create a "welcome" socket for listening to new connections.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// `net.Server` is Node's listening TCP socket (SOCK_STREAM). Its address family, IPv4
// (AF_INET) or IPv6, follows from the host we bind to in step 2.
const welcomeSocket = net.createServer();

// Step 2: bind the socket to a host and port.
// Python:  s.bind((host, port))
// We bind 127.0.0.1, not 'localhost': 'localhost' may resolve to the IPv6 address ::1 on one
// machine and to 127.0.0.1 on another, and then client and server miss each other.
// Step 3: start listening on this socket for new connections.
// Python:  s.listen(1)
// Node does bind and listen in one call. The backlog 1 is Python's argument: at most one
// client may wait, queued by the operating system, until we accept it. listen() returns at
// once; awaiting its "listening" event plays the part of Python's blocking call. A port that
// is taken arrives as an "error" event instead, which `once` turns into an exception.
welcomeSocket.listen({ host, port, backlog: 1 });
try {
  await once(welcomeSocket, "listening");
} catch (error) {
  console.error(`Server: cannot listen on ${host}:${port}: ${(error as Error).message}`);
  process.exit(1);
}
const bound = welcomeSocket.address() as net.AddressInfo;
console.log(`Server started on ${bound.address}:${bound.port} ...waiting for a connection from the client`);

// Step 4: accept an incoming connection from the client.
// Python:  conn, addr = s.accept()
// Node accepts connections by itself and hands each one over as a "connection" event, with
// a new socket for that one client: the "connection" socket, separate from the welcome one.
const [connectionSocket] = (await once(welcomeSocket, "connection")) as [net.Socket];
console.log(`Connection initiated from ${connectionSocket.remoteAddress}:${connectionSocket.remotePort}`);
// This template serves a single client, so the welcome socket can stop accepting now.
welcomeSocket.close();

// Step 5: send and receive data over the "connection" socket.
// Python:  data = conn.recv(1024)
// Python's recv(1024) blocks until some bytes arrive and returns at most 1024 of them. The
// Node equivalent is waiting for one "data" event: a Buffer (Python's bytes) of whatever
// arrived. TCP is a byte stream, so one read may hold part of a message or several; that is
// fine for one short greeting, and q6/ shows the proper way (one message per line).
// We reply as soon as the first message arrives; we do not wait for the client to close.
// A client that hangs up before sending anything gives "end" (an empty read in Python); one
// that vanishes abruptly (a reset) gives an "error" event, which `once` turns into an exception.
const firstRead = await Promise.race([
  once(connectionSocket, "data").then(([bytes]) => bytes as Buffer),
  once(connectionSocket, "end").then(() => undefined),
]).catch((error: Error) => {
  console.error(`Server: the connection from the client failed: ${error.message}`);
  process.exit(1);
});
if (firstRead === undefined) {
  console.log("Server: the client closed the connection without sending anything");
} else {
  console.log(`SERVER RECEIVED: ${firstRead.toString("utf8")}`);

  // Python:  conn.send(b"Whose there?")
  // end() copies the bytes into the socket's send buffer, like send(), and then shuts our
  // half of the connection: TCP's FIN follows the reply, telling the client nothing more comes.
  // A client that is already gone turns the send into an "error" event (EPIPE, ECONNRESET).
  connectionSocket.end(Buffer.from("Whose there?", "utf8"));
  await once(connectionSocket, "finish").catch((error: Error) => {
    console.error(`Server: cannot reply, the client is gone: ${error.message}`);
    process.exit(1);
  });
  console.log(`Server: replied "Whose there?" and closed the connection`);
}

// Close the connection.
// Python:  conn.close()
connectionSocket.destroy();

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
