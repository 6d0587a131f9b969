// q3/UDP_Server.ts — a date/time server that uses UDP (Lab 3, Q3), step for step beside the
// course's UDP_Server.py: it answers `SEND_DATE` and `SEND_TIME` until it is stopped.
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
//   Server: request "SEND_TIME" from 127.0.0.1:37435 -> 10:03:37
//   Server: request "SEND_DATE" from 127.0.0.1:47247 -> 2026-12-01
//   Server: request "time\u000a" from 127.0.0.1:41755 -> ERROR "time" is not SEND_DATE or SEND_TIME
//   ^CServer: SIGINT received, socket closed, exiting

import dgram from "node:dgram";
import { once } from "node:events";
import process from "node:process";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`.
const usage = `Usage: npx tsx q3/UDP_Server.ts [--host H] [--port P]   (SEND_DATE, SEND_TIME)
  --host H   address to bind (default 127.0.0.1; 0.0.0.0 accepts other computers)
  --port P   port to bind (default 43388; 0 = any free port)`;

const flags = readFlags({ host: "127.0.0.1", port: "43388" });
const port = portNumber(flags.port, 0);
// Ctrl-C (SIGINT) or `kill` (SIGTERM) ends the server (see the close, at the end). Listening
// for them from the start means that a signal right after our first line is handled too.
const stopped = Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);

// Step 1: create a socket.
// Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
// "udp4" is AF_INET + SOCK_DGRAM; an IPv6 --host such as ::1 needs "udp6" (AF_INET6).
const serverSocket = dgram.createSocket(flags.host.includes(":") ? "udp6" : "udp4");

// Step 2: bind the socket to a host and port address.
// Python:  s.bind((host, port))
// bind() returns at once; the "listening" event says the operating system has given us the
// port, and awaiting it stands in for Python's blocking call. A taken port is an "error".
serverSocket.bind(port, flags.host);
try {
  await once(serverSocket, "listening");
} catch (error) {
  console.error(`Server: cannot bind ${flags.host}:${port}: ${(error as Error).message}`);
  process.exit(1);
}
const bound = serverSocket.address();
console.log(`Server started on ${bound.address}:${bound.port} ...waiting for requests`);

// Step 3: start sending and receiving data on this socket.
// Python:  while True:
//              data, addr = s.recvfrom(1024)
// Node has no blocking recvfrom(): the socket emits a "message" event for each datagram, with
// the sender's address, where the reply must go (UDP has no connection). Q3's "infinite
// loop" is Node's event loop itself, which waits for as long as the socket is open.
// A console.log() per line would cost one write() system call per request, as much as the
// request itself: the lines of one event-loop turn go out together, right after it.
const logLines: string[] = [];
const writeLog = () => process.stdout.write(`${logLines.splice(0).join("\n")}\n`);
function log(line: string) { // a turn's first line schedules the write for right after it
  if (logLines.push(line) === 1) setImmediate(writeLog);
}
serverSocket.on("message", (datagram, sender) => {
  const request = datagram.toString("utf8");
  const reply = replyTo(request, new Date());

  // Python:  s.sendto(reply.encode(), addr)
  // send() queues the reply; a failure comes to the callback, and a sender that cannot be
  // answered at all (port 0) throws. Either way we log it and wait for the next request.
  const from = `${sender.address}:${sender.port}`;
  const failed = (error: Error | null) => {
    if (error) console.error(`Server: no reply to ${from}: ${error.message}`);
  };
  try {
    serverSocket.send(reply, sender.port, sender.address, failed);
  } catch (error) {
    failed(error as Error);
  }
  // One log line per request, with at most 40 characters of the request, through printable():
  // random bytes, terminal escapes or 64 KiB cannot garble the console.
  const shown = `"${printable(request.slice(0, 40))}"${request.length > 40 ? "..." : ""}`;
  log(`Server: request ${shown} from ${from} -> ${reply}`);
});
// Bun only: a client gone before its reply makes an "error" here (docs/runtimes.md).
serverSocket.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "ECONNREFUSED") throw error;
});

// Close the connection.
// Python:  s.close()
// The template closes after its one exchange; this server closes when Ctrl-C (SIGINT) or
// `kill` (SIGTERM) stops it.
const [signal] = await stopped;
serverSocket.close();
if (logLines.length > 0) writeLog();
console.log(`Server: ${signal} received, socket closed, exiting`);
process.exit(0);

/** The reply to one request, given the moment it arrived: a date, a time or an ERROR line. */
function replyTo(request: string, now: Date): string {
  // Q3: white space around the request is ignored (`echo SEND_TIME | nc -u` sends a "\n").
  const command = request.trim();
  if (command === "SEND_DATE") return formatDate(now);
  if (command === "SEND_TIME") return formatTime(now);
  // The request is echoed only when it is short plain ASCII: the reply stays one plain line.
  const what = /^[\x20-\x7e]{0,40}$/.test(command) ? JSON.stringify(command) : "the request";
  return `ERROR ${what} is not SEND_DATE or SEND_TIME`;
}

/** The local date as YYYY-MM-DD, and the local time as HH:MM:SS (24-hour). */
function formatDate(now: Date): string {
  return `${pad(now.getFullYear(), 4)}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
function formatTime(now: Date): string {
  return `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
}
function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

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

/** Text from the network made safe to print: control and bidi characters shown as `\uXXXX`. */
function printable(text: string): string {
  // A terminal obeys ESC sequences, a bare "\r" rewrites the line, bidi controls reorder it.
  return text.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
