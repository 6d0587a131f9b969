// TCP_Client.ts — the client program that uses TCP (Lab 3, Q4), step for step beside
// the course's TCP_Client.py, the mirror image of TCP_Server.ts.
//
// Sequence of steps:
//   1. create a socket
//   2. connect it to the server's host and port (this is TCP's handshake)
//   3. send and receive data over the connection
//   4. close the connection
//
// Run its partner first (from the repository root), then this in a second terminal:
//   npx tsx TCP_Server.ts
//   npx tsx TCP_Client.ts                     # --host <server's IP> when it runs elsewhere
//
//   $ npx tsx TCP_Client.ts
//   CLIENT RECEIVED: Whose there?
//
//   $ npx tsx TCP_Client.ts                   # and with no server running:
//   Client: cannot connect to 127.0.0.1:43389: connection refused, nothing is listening on that port. Is TCP_Server.ts running there (with --host 0.0.0.0 if it is another computer)? Check --host, --port and the server's firewall for TCP.

import { Buffer } from "node:buffer";
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host`, `port` and greeting; --timeout
// is new: it bounds the connect and the wait for the reply, which in Python could hang for
// minutes when a firewall silently drops the connection attempt.
const usage = `Usage: npx tsx TCP_Client.ts [--host H] [--port P] [--message TEXT] [--timeout S]
  --host H         the server's address (default 127.0.0.1)
  --port P         the server's port (default 43389)
  --message TEXT   what to send (default "Knock knock")
  --timeout S      seconds to wait for the connection and for the reply (default 5)
  --help           show this help`;
const flags = readFlags({ host: "127.0.0.1", port: "43389", message: "Knock knock", timeout: "5" });
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
// An empty string is zero bytes: TCP would send nothing, and the server would wait forever.
if (flags.message === "") {
  console.error(`Invalid --message '': TCP cannot send an empty message (see --help)`);
  process.exit(2);
}

// Step 1: create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
// `net.Socket` is Node's TCP socket (SOCK_STREAM). Its address family, IPv4 (AF_INET) or
// IPv6, follows from the address we connect to in step 2.
const clientSocket = new net.Socket();

// Step 2: connect it to the server's host and port.
// Python:  s.connect((host, port))
// We default to 127.0.0.1, not 'localhost': 'localhost' may resolve to the IPv6 address ::1
// on one machine and to 127.0.0.1 on another, and then client and server miss each other.
// connect() starts TCP's three-way handshake (SYN, SYN/ACK, ACK) and returns at once; the
// "connect" event says it is done, and awaiting it plays the part of Python's blocking call.
// Unlike UDP, TCP knows at this point whether anyone is there: a refused or unreachable
// server arrives as an "error" event, which `once` turns into an exception. The socket's
// idle timer ends a connect that gets no answer at all (a firewall that drops packets).
clientSocket.connect({ host, port });
clientSocket.setTimeout(timeoutSeconds * 1000, () => {
  clientSocket.destroy(Object.assign(new Error(`no answer within ${timeoutSeconds} s`), { code: "ETIMEDOUT" }));
});
try {
  await once(clientSocket, "connect");
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused, nothing is listening on that port",
    ETIMEDOUT: `no answer within ${timeoutSeconds} s (wrong address, or a firewall drops the connection)`,
    EHOSTUNREACH: "no route to that computer",
    ENETUNREACH: "no route to that network",
    ENOTFOUND: "unknown host name",
    EAI_AGAIN: "the host name could not be looked up",
  };
  console.error(
    `Client: cannot connect to ${host}:${port}: ${reasons[code] ?? (error as Error).message}. ` +
      `Is TCP_Server.ts running there (with --host 0.0.0.0 if it is another computer)? Check --host, --port and the server's firewall for TCP.`,
  );
  process.exit(1);
}

// Step 3: send and receive data over the connection.
// Python:  s.send("Knock knock".encode())
// Like Python, we encode the string into bytes first: a Buffer is Node's bytes. write()
// queues them all for sending (Python's sendall; a bare send may send only part).
clientSocket.write(Buffer.from(flags.message, "utf8"));

// Python:  data = s.recv(1024)
// Python's recv(1024) blocks until some bytes arrive and returns at most 1024 of them. The
// Node equivalent is waiting for one "data" event: a Buffer of whatever arrived. TCP is a
// byte stream, so one read may hold part of a message or several; that is fine for one short
// reply, and q6/ shows the proper way (one message per line). A server that closes without
// replying gives "end" (an empty read in Python). The idle timer from step 2 still runs, so
// a server that accepts but never replies is given up on after --timeout seconds as well.
const reply = await Promise.race([
  once(clientSocket, "data").then(([bytes]) => bytes as Buffer),
  once(clientSocket, "end").then(() => undefined),
]).catch((error: Error) => {
  console.error(`Client: the connection to ${host}:${port} failed: ${error.message}`);
  process.exit(1);
});
if (reply === undefined) {
  console.error(`Client: the server at ${host}:${port} closed the connection without replying`);
  process.exit(1);
}
console.log(`CLIENT RECEIVED: ${reply.toString("utf8")}`);

// Step 4: close the connection.
// Python:  s.close()
// destroy() closes the socket at once, as Python's close() does; the operating system still
// says goodbye properly (TCP's FIN), which Wireshark shows as the teardown.
clientSocket.destroy();

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
