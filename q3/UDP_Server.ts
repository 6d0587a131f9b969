// q3/UDP_Server.ts — a date/time server that uses UDP (Lab 3, Q3), built step for step on
// the course's UDP_Server.py: it answers `SEND_DATE` and `SEND_TIME` until it is stopped.
//
// Sequence of steps:
//   1. create a socket
//   2. bind the socket to a host and port address
//   3. start sending and receiving data on this socket
//
// Run it (from the repository root), then its partner in a second terminal:
//   npx tsx q3/UDP_Server.ts                  # --host 0.0.0.0 lets other computers in
//   npx tsx q3/UDP_Client.ts
//
//   $ npx tsx q3/UDP_Server.ts
//   Server started on 127.0.0.1:43388 ...waiting for requests
//   Server: request "SEND_TIME" from 127.0.0.1:36050 -> 11:50:23
//   Server: request "SEND_DATE" from 127.0.0.1:51148 -> 2026-11-24
//   Server: request "SEND_DATE" from 127.0.0.1:37717 -> 2026-11-24
//   Server: request "SEND_DATE" from 127.0.0.1:54192 -> 2026-11-24
//   Server: request "send_time" from 127.0.0.1:58980 -> ERROR unknown request "send_time": send SEND_DATE or SEND_TIME
//   ^CServer: SIGINT received, socket closed, exiting
//
// (Each request comes from a new port: the client opens a fresh socket per request, see
// q3/UDP_Client.ts. The lower-case request came from a hand-written Python client.)

import type { Buffer } from "node:buffer";
import dgram from "node:dgram";
import { on, once } from "node:events";
import { realpathSync } from "node:fs";
import { isIPv6 } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, so one file serves
// a single laptop (the defaults) and two computers (`--host 0.0.0.0`) without editing.
const usage = `Usage: npx tsx q3/UDP_Server.ts [--host H] [--port P]
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43388; 0 = any free port)
  --help     show this help
Answers each datagram "SEND_DATE" with the local date (YYYY-MM-DD) and "SEND_TIME" with the
local time (HH:MM:SS); anything else gets a reply starting with ERROR. Stop it with Ctrl-C.`;

// Python:  if __name__ == "__main__":
// The steps run only when this file is the program; the tests import its functions without
// starting anything.
if (isMainModule()) {
  const flags = readFlags({ host: "127.0.0.1", port: "43388" });
  const host = flags.host;
  const port = portNumber(flags.port);

  // Step 1: create a socket.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  // `dgram` is Node's UDP (SOCK_DGRAM) module. "udp4" is AF_INET; an IPv6 host such as ::1
  // needs an AF_INET6 socket, "udp6".
  const serverSocket = dgram.createSocket(isIPv6(host) ? "udp6" : "udp4");

  // Step 2: bind the socket to a host and port address.
  // Python:  s.bind((host, port))
  // bind() returns at once and emits "listening" when the operating system has given us the
  // port; awaiting that event plays the part of Python's blocking call. A port that is taken
  // (or an address that is not this computer's) arrives as an "error" event instead, which
  // `once` turns into an exception.
  serverSocket.bind(port, host);
  try {
    await once(serverSocket, "listening");
  } catch (error) {
    console.error(`Server: cannot bind ${host}:${port}: ${(error as Error).message}`);
    process.exit(1);
  }
  const bound = serverSocket.address();
  console.log(`Server started on ${bound.address}:${bound.port} ...waiting for requests`);

  // Close the connection.
  // Python:  s.close()
  // The template closes its socket after one exchange; this server runs until stopped.
  // Ctrl-C (SIGINT) or `kill` (SIGTERM) would otherwise end Node with a non-zero status and
  // leave the close to the operating system: we close the socket ourselves and exit 0.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      serverSocket.close();
      console.log(`Server: ${signal} received, socket closed, exiting`);
      process.exit(0);
    });
  }

  // Step 3: start sending and receiving data on this socket.
  // Python:  while True:
  //              data, addr = s.recvfrom(1024)
  // The question's "infinite loop where it keeps waiting for requests". `on()` turns the
  // socket's "message" events into a loop that waits for each datagram in turn, like the
  // blocking recvfrom(). Each event brings the whole datagram (Node reads up to 64 KiB, where
  // recvfrom(1024) would cut a longer one short) and the sender's address and port: UDP has
  // no connection, so the sender's address is the only way to know where to reply.
  // The outer loop only starts the inner one again after Bun's "port unreachable" (see catch).
  for (;;) {
    try {
      for await (const [datagram, sender] of on(serverSocket, "message") as AsyncIterable<[Buffer, dgram.RemoteInfo]>) {
        // Q3: the request is the datagram's text, white space around it ignored (a client that
        // sends "SEND_TIME\n", as `echo SEND_TIME | nc -u` does, is understood). Bytes that are
        // not UTF-8 decode to U+FFFD and simply make an unknown request.
        const request = datagram.toString("utf8");
        const reply = replyTo(request, new Date());

        // Python:  s.sendto(reply.encode(), addr)
        // The reply goes back to the address the request came from. send() queues the datagram
        // and returns; a failure arrives in the callback (without one it would be an "error"
        // event, which would end this loop). A sender that cannot be answered at all, such as
        // one with port 0, throws at once: we log it and wait for the next request.
        const from = `${sender.address}:${sender.port}`;
        try {
          serverSocket.send(reply, sender.port, sender.address, (error) => {
            if (error) console.error(`Server: could not reply to ${from}: ${error.message}`);
          });
        } catch (error) {
          console.error(`Server: could not reply to ${from}: ${(error as Error).message}`);
        }
        // One line per request. The request is shown escaped and shortened, so that a datagram
        // of random bytes, control characters or 64 KiB cannot garble the console; the reply is
        // our own plain ASCII text.
        console.log(`Server: request ${quote(request)} from ${from} -> ${reply}`);
      }
    } catch (error) {
      // Bun only: a client that has gone before its reply arrives makes the operating system
      // answer that reply with an ICMP "port unreachable" notice, and Bun passes the notice on
      // as an "error" event (ECONNREFUSED) on this socket, which ends the loop above. Node and
      // Deno drop it, as UDP has no connection to refuse (Python on Windows raises it too, as
      // ConnectionResetError 10054). Our socket is fine: we go round and wait for the next request.
      if ((error as NodeJS.ErrnoException).code === "ECONNREFUSED") {
        console.error("Server: a client went away before its reply arrived; waiting for the next request");
        continue;
      }
      // Reached only if the socket itself fails: no datagram, however odd, gets here.
      console.error(`Server: the socket failed: ${(error as Error).message}`);
      process.exit(1);
    }
  }
}

// ---------------------------------------------------------------------------------------
// The Q3 protocol. These functions are pure (no network, no clock of their own), so the
// tests can check them with fixed dates.

/** The reply to one request, given the moment it arrived: a date, a time, or an ERROR line. */
export function replyTo(request: string, now: Date): string {
  const command = request.trim();
  if (command === "SEND_DATE") return formatDate(now);
  if (command === "SEND_TIME") return formatTime(now);
  const what = command === "" ? "empty request" : `unknown request ${quote(command)}`;
  return `ERROR ${what}: send SEND_DATE or SEND_TIME`;
}

/** The local date as YYYY-MM-DD. */
export function formatDate(now: Date): string {
  return `${pad(now.getFullYear(), 4)}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** The local time as HH:MM:SS, 24-hour. */
export function formatTime(now: Date): string {
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
}

/** A number with leading zeros: pad(7) is "07". */
function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/**
 * Text made safe to print: in double quotes, at most `limit` characters, and plain ASCII —
 * quotes, backslashes and every other character (control characters, U+FFFD from bytes
 * that were not UTF-8, terminal escapes, right-to-left marks) escaped as in JSON.
 */
export function quote(text: string, limit = 40): string {
  const shown = JSON.stringify(text.slice(0, limit)).replace(
    /[^\x20-\x7e]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return text.length > limit ? `${shown}...` : shown;
}

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

/** True when this file is the program being run, not a module imported by the tests. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
}
