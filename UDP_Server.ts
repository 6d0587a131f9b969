// UDP_Server.ts — the Server program that uses UDP (Lab 3, Q1), step for step beside
// the course's UDP_Server.py.
//
// Sequence of steps:
//   1. create a socket
//   2. bind the socket to a host and port address
//   3. start sending and receiving data on this socket
//
// Run it (from the repository root), then its partner in a second terminal:
//   npx tsx UDP_Server.ts                     # --host 0.0.0.0 lets other computers in
//   npx tsx UDP_Client.ts
//
//   $ npx tsx UDP_Server.ts
//   Server started on 127.0.0.1:43387 ...waiting for a connection from the client
//   Server received MESSAGE= I could tell you a UDP joke but I'm not sure you'll get it. from ADDR= 127.0.0.1:36337
//   Server: replied "Ok" and closed the socket

import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, so one file serves
// a single laptop (the defaults) and two computers (`--host 0.0.0.0`) without editing.
const usage = `Usage: npx tsx UDP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43387; 0 = any free port)
  --help     show this help`;
const flags = readFlags({ host: "127.0.0.1", port: "43387" });
const host = flags.host;
const port = portNumber(flags.port);

// Step 1: create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
// AF_INET means IPv4 and SOCK_DGRAM means UDP (SOCK_STREAM would be TCP). Node names both at
// once: "udp4" is AF_INET + SOCK_DGRAM, "udp6" the IPv6 variant, used only for an IPv6 --host.
const serverSocket = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");

// Step 2: bind the socket to a host and port address.
// Python:  s.bind((host, port))
// We bind 127.0.0.1, not 'localhost': 'localhost' may resolve to the IPv6 address ::1 on one
// machine and to 127.0.0.1 on another, and then client and server miss each other. bind()
// returns at once and emits "listening" when the operating system has given us the port;
// awaiting that event plays the part of Python's blocking call. A port that is taken arrives
// as an "error" event instead, which `once` turns into an exception.
serverSocket.bind(port, host);
try {
  await once(serverSocket, "listening");
} catch (error) {
  console.error(`Server: cannot bind ${host}:${port}: ${(error as Error).message}`);
  process.exit(1);
}
const bound = serverSocket.address();
console.log(`Server started on ${bound.address}:${bound.port} ...waiting for a connection from the client`);

// Step 3: start sending and receiving data on this socket.
// Python:  data, addr = s.recvfrom(1024)
// Python's recvfrom blocks until one datagram arrives and returns its bytes and the sender's
// (host, port). Node hands over each datagram as a "message" event: a Buffer (Python's bytes)
// and the sender's address; awaiting the first one is the blocking call. For UDP the 1024 is
// the size of one datagram Python will accept: the bytes beyond it are cut off and lost (for
// TCP it only caps one read; the rest waits for the next). Node always delivers the whole
// datagram, up to UDP's limit of about 64 KiB. There is no connection: `sender` is simply
// the return address written on this one datagram.
const [data, sender] = (await once(serverSocket, "message").catch((error: Error) => {
  console.error(`Server: receiving failed: ${error.message}`);
  process.exit(1);
})) as [Buffer, dgram.RemoteInfo];
console.log(`Server received MESSAGE= ${data.toString("utf8")} from ADDR= ${sender.address}:${sender.port}`);

// Python:  s.sendto("Ok".encode(), addr)
// The reply goes to the address the datagram came from. send() encodes the string as UTF-8
// bytes and calls back once the operating system has taken the datagram; UDP never tells us
// whether it arrived.
try {
  await new Promise<void>((resolve, reject) => {
    serverSocket.send(Buffer.from("Ok", "utf8"), sender.port, sender.address, (error) => (error ? reject(error) : resolve()));
  });
} catch (error) {
  console.error(`Server: cannot reply to ${sender.address}:${sender.port}: ${(error as Error).message}`);
  process.exit(1);
}
console.log(`Server: replied "Ok" and closed the socket`);

// Close the socket.
// Python:  s.close()
// One datagram in, one out: the template ends here, and so does this process (exit code 0).
serverSocket.close();

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
