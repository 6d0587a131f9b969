// UDP_Client.ts — the client program that uses UDP (Lab 3, Q1), step for step beside
// the course's UDP_Client.py.
//
// Sequence of steps:
//   1. Create a socket
//   2. Send messages to it (we need to know the server's hostname and port)
//
// Run its partner first (from the repository root), then this in a second terminal:
//   npx tsx UDP_Server.ts
//   npx tsx UDP_Client.ts                     # --host <server's IP> when it runs elsewhere
//
//   $ npx tsx UDP_Client.ts
//   Client received MESSAGE= Ok from ADDR= 127.0.0.1:43387
//
//   $ npx tsx UDP_Client.ts --timeout 2       # and with no server running:
//   Client: timeout, no reply from 127.0.0.1:43387 within 2 s. Is UDP_Server.ts running there (with --host 0.0.0.0 if it is another computer)? Check --host, --port and the server's firewall for UDP.

import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host`, `port` and message; --timeout
// is new: the Python template waits for a reply forever, which is how a lost datagram looks.
const usage = `Usage: npx tsx UDP_Client.ts [--host H] [--port P] [--message TEXT] [--timeout S]
  --host H         the server's address (default 127.0.0.1)
  --port P         the server's port (default 43387)
  --message TEXT   what to send (default: the template's UDP joke)
  --timeout S      seconds to wait for the reply (default 5)
  --help           show this help`;
const flags = readFlags({
  host: "127.0.0.1",
  port: "43387",
  message: "I could tell you a UDP joke but I'm not sure you'll get it.",
  timeout: "5",
});
const host = flags.host;
const port = portNumber(flags.port);
if (port === 0) {
  console.error(`Invalid --port '0': the client needs the server's actual port (see --help)`);
  process.exit(2);
}
const timeoutSeconds = Number(flags.timeout);
if (!(timeoutSeconds > 0 && timeoutSeconds <= 86400)) {
  console.error(`Invalid --timeout '${flags.timeout}': expected a number of seconds above 0 and at most 86400 (see --help)`);
  process.exit(2);
}

// Step 1: Create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
// AF_INET means IPv4 and SOCK_DGRAM means UDP (SOCK_STREAM would be TCP). Node names both at
// once: "udp4" is AF_INET + SOCK_DGRAM, "udp6" the IPv6 variant, used only for an IPv6 --host.
// The client never calls bind(): the operating system gives it a free port (an "ephemeral"
// port) with the first send, and that is the port the server sees in ADDR=.
const clientSocket = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");

// Step 2: Send messages to it (we need to know the server's hostname and port).
// Python:  s.sendto(msg.encode(), (host, port))
// We default to 127.0.0.1, not 'localhost': 'localhost' may resolve to the IPv6 address ::1
// on one machine and to 127.0.0.1 on another, and then client and server miss each other.
// Like Python, we encode the string into bytes first: a Buffer is Node's bytes. There is no
// connection: the datagram is addressed and sent, and send() calls back once the operating
// system has taken it — not when (or whether) it arrives.
const bytes = Buffer.from(flags.message, "utf8");
try {
  await new Promise<void>((resolve, reject) => {
    clientSocket.send(bytes, port, host, (error) => (error ? reject(error) : resolve()));
  });
} catch (error) {
  // An unknown host name, no network, or a message longer than one datagram can carry.
  console.error(`Client: cannot send to ${host}:${port}: ${(error as Error).message} (check --host and --port)`);
  process.exit(1);
}

// See if the other side responds.
// Python:  data, addr = s.recvfrom(1024)
// Python's recvfrom blocks until one datagram arrives; awaiting Node's "message" event is
// the same wait. The 1024 is the largest datagram Python accepts whole: for UDP the bytes
// beyond it are cut off and lost, while for TCP it only caps one read. Node always delivers
// the whole datagram, as a Buffer, with the address it came from.
// UDP gives no error when nobody listens (the datagram is just dropped, or the operating
// system's "port unreachable" notice is not passed to an unconnected socket), so silence is
// all we would see: the timer below turns it into a clear message, like Python's
// s.settimeout(5) turns recvfrom's wait into a socket.timeout exception.
const timer = setTimeout(() => {
  console.error(
    `Client: timeout, no reply from ${host}:${port} within ${timeoutSeconds} s. ` +
      `Is UDP_Server.ts running there (with --host 0.0.0.0 if it is another computer)? Check --host, --port and the server's firewall for UDP.`,
  );
  process.exit(1);
}, timeoutSeconds * 1000);
const [data, sender] = (await once(clientSocket, "message").catch((error: Error) => {
  // Rare on an unconnected socket. (Python on Windows does fail here, with ConnectionResetError
  // 10054, after a "port unreachable"; Node on Windows ignores that notice.)
  console.error(`Client: no reply from ${host}:${port}: ${error.message}. Is UDP_Server.ts running there? Check --host and --port.`);
  process.exit(1);
})) as [Buffer, dgram.RemoteInfo];
clearTimeout(timer);
console.log(`Client received MESSAGE= ${data.toString("utf8")} from ADDR= ${sender.address}:${sender.port}`);

// Close the socket.
// Python:  s.close()
clientSocket.close();

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
