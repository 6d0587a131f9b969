// q3/UDP_Client.ts — a date/time client that uses UDP (Lab 3, Q3), built step for step on
// the course's UDP_Client.py: it asks q3/UDP_Server.ts for the date or the time, at random,
// every 1 to 2 seconds, and prints each answer.
//
// Sequence of steps (repeated for every request):
//   1. Create a socket
//   2. Send messages to it (we need to know the server's hostname and port)
//
// Run its partner first, then this (from the repository root), in a second terminal:
//   npx tsx q3/UDP_Server.ts
//   npx tsx q3/UDP_Client.ts                  # --host 192.168.1.23 reaches another computer
//
//   $ npx tsx q3/UDP_Client.ts --count 4
//   Client: SEND_TIME -> 11:50:23
//   Client: SEND_DATE -> 2026-11-24
//   Client: SEND_DATE -> 2026-11-24
//   Client: SEND_DATE -> 2026-11-24
//   $ npx tsx q3/UDP_Client.ts --count 2          # after the server was stopped; exit status 1
//   Client: SEND_TIME -> no reply from 127.0.0.1:43388 within 2 s (is the server running there? check --host, --port and the server's firewall)
//   Client: SEND_DATE -> no reply from 127.0.0.1:43388 within 2 s (is the server running there? check --host, --port and the server's firewall)
//   Client: no reply to any of 2 request(s) from 127.0.0.1:43388; is q3/UDP_Server.ts running there? Check --host, --port and the server's firewall for UDP

import type { Buffer } from "node:buffer";
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { on } from "node:events";
import process from "node:process";
import { setTimeout } from "node:timers/promises";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, and sets the
// question's loop: how many requests, the pause between them and how long to wait for a reply.
const usage = `Usage: npx tsx q3/UDP_Client.ts [--host H] [--port P] [--count N] [--min-delay S] [--max-delay S] [--timeout S]
  --host H        the server's address (default 127.0.0.1)
  --port P        the server's port (default 43388)
  --count N       stop after N requests; exit 0, or 1 if not one was answered (default: forever)
  --min-delay S   shortest pause between requests, in seconds (default 1)
  --max-delay S   longest pause between requests, in seconds (default 2)
  --timeout S     how long to wait for each reply, in seconds (default 2)`;
const flags = readFlags({ host: "127.0.0.1", port: "43388", count: "forever", "min-delay": "1", "max-delay": "2", timeout: "2" });
const host = flags.host;
const port = portNumber(flags.port);
const count = flags.count === "forever" ? Infinity : wholeNumber("--count", flags.count);
const minDelay = seconds("--min-delay", flags["min-delay"], 0);
const maxDelay = seconds("--max-delay", flags["max-delay"], 0);
const timeout = seconds("--timeout", flags.timeout, 0.001);
if (port === 0) {
  console.error("Invalid --port '0': a client must name the server's port, from 1 to 65535 (see --help)");
  process.exit(2);
}
if (minDelay > maxDelay) {
  console.error(`Invalid --min-delay ${minDelay} and --max-delay ${maxDelay}: the minimum must not exceed the maximum (see --help)`);
  process.exit(2);
}

// Python:  host = 'localhost'; port = 43388
// A reply is recognised by its source address, which is always a numeric IP, so we turn the
// host name into that address once, here. sendto() does the same lookup on every call.
let server: { address: string; family: number };
try {
  server = await lookup(host);
} catch (error) {
  console.error(`Client: cannot find the server ${host}:${port}: ${(error as Error).message} (check --host)`);
  process.exit(1);
}

// Q3: "The Client runs in a loop where it generates multiple such requests."
let answered = 0; // replies received; none at all after --count requests means no server there
for (let requestNumber = 1; requestNumber <= count; requestNumber++) {
  // Step 1: Create a socket.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  // A new socket for every request, where the template has one for its one message. UDP does
  // not pair a reply with its request, and our replies carry no request number: a late reply
  // to an earlier SEND_TIME looks exactly like the answer to this one (comparing the kind of
  // reply, date or time, would catch only half of such mix-ups). A fresh socket gets a fresh
  // port from the operating system, so a reply that comes after we gave up is addressed to a
  // port that is closed by then, and the operating system drops it. DNS resolvers use the
  // same trick. "udp4" is AF_INET; "udp6" is AF_INET6, for a server with an IPv6 address.
  const clientSocket = dgram.createSocket(server.family === 6 ? "udp6" : "udp4");

  // Step 2: Send messages to it (we need to know the server's hostname and port).
  // Python:  s.sendto(random.choice(["SEND_DATE", "SEND_TIME"]).encode(), (host, port))
  // Q3: the request is one of the two strings, picked at random; a datagram of that text
  // (UTF-8 bytes), nothing more. send() queues it and returns; a failure (no route to that
  // network, say) arrives in the callback, and we report it if no reply comes.
  const request = Math.random() < 0.5 ? "SEND_DATE" : "SEND_TIME";
  const failure: { error?: Error } = {};
  clientSocket.send(request, port, server.address, (error) => {
    if (error) failure.error = error;
  });

  // Python:  s.settimeout(timeout)
  //          data, addr = s.recvfrom(1024)   # raises socket.timeout when nothing came
  // "See if the other side responds." `on()` turns the socket's "message" events into a loop
  // that waits for each datagram, like a blocking recvfrom(); the abort signal ends the wait
  // after --timeout seconds. UDP may lose the request or the reply without telling anyone,
  // so a client that waited without a limit could hang forever. The socket accepts datagrams
  // from anyone who knows its port: only one from the server's address and port is a reply.
  const deadline = AbortSignal.timeout(timeout * 1000);
  let reply: Buffer | undefined;
  try {
    for await (const [datagram, sender] of on(clientSocket, "message", { signal: deadline }) as AsyncIterable<[Buffer, dgram.RemoteInfo]>) {
      // A server reached through 0.0.0.0 or :: (this machine) answers from a real address.
      const fromServer = sender.address === server.address || server.address === "0.0.0.0" || server.address === "::";
      if (fromServer && sender.port === port) {
        reply = datagram;
        break;
      }
      console.log(`Client: ignored a datagram from ${sender.address}:${sender.port}, which is not the server`);
    }
  } catch (error) {
    if (!deadline.aborted) failure.error = error as Error;
  }

  // Close the socket.
  // Python:  s.close()
  clientSocket.close();

  // Q3: "When the Client receives a response, it prints it." A lost reply is no reason to
  // stop: the next request may well get through.
  if (reply !== undefined) {
    answered++;
    console.log(`Client: ${request} -> ${printable(reply.toString("utf8"))}`);
  } else {
    const why = failure.error
      ? `: sending failed, ${failure.error.message} (check --host)`
      : ` within ${timeout} s (is the server running there? check --host, --port and the server's firewall)`;
    // A host name is shown with the address it became ('localhost' may be ::1 or 127.0.0.1).
    const resolved = server.address === host ? "" : ` (${server.address})`;
    console.log(`Client: ${request} -> no reply from ${host}:${port}${resolved}${why}`);
  }

  // Python:  time.sleep(random.uniform(1, 2))
  // Q3: "the time between successive requests varies randomly between 1-2 seconds". Math.random()
  // is uniform in [0, 1), stretched here over [min, max]. Node cannot block like sleep(); the
  // promise version of setTimeout pauses only this loop. There is no pause after the last request.
  if (requestNumber < count) {
    const delay = minDelay + Math.random() * (maxDelay - minDelay);
    await setTimeout(delay * 1000);
  }
}

// A run of --count requests that got not a single reply never reached a server: like every
// client of this lab whose server cannot be reached, say so in one line and exit 1. One lost
// reply among others is UDP being UDP, and the run still ends with 0.
if (answered === 0) {
  console.error(`Client: no reply to any of ${count} request(s) from ${host}:${port}; is q3/UDP_Server.ts running there? Check --host, --port and the server's firewall for UDP`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------

/** A reply as it may be printed: plain text as is; anything with other characters (terminal escapes, say) JSON-quoted, ASCII only. */
function printable(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `--count`: a whole number from 1 up; anything else exits 2 with one line. */
function wholeNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || !Number.isSafeInteger(value)) {
    console.error(`Invalid ${flag} '${text}': expected a whole number from 1 up (see --help)`);
    process.exit(2);
  }
  return value;
}

/** A duration in seconds, a decimal number from `least` up; anything else exits 2 with one line. */
function seconds(flag: string, text: string, least: number): number {
  // setTimeout() counts in 32-bit milliseconds: a longer wait (about 24.8 days) would fire at once.
  const most = 2147483;
  const value = Number(text);
  if (!/^(\d+\.?\d*|\.\d+)$/.test(text) || value < least || value > most) {
    console.error(`Invalid ${flag} '${text}': expected a number of seconds from ${least} to ${most} (see --help)`);
    process.exit(2);
  }
  return value;
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
