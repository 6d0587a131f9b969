// q3/UDP_Client.ts — a date/time client that uses UDP (Lab 3, Q3), step for step beside the
// course's UDP_Client.py: every 1 to 2 s it asks q3/UDP_Server.ts for the date or the time.
//
// Sequence of steps (repeated for every request):
//   1. Create a socket
//   2. Send messages to it (we need to know the server's hostname and port)
//
// Run its partner first, then this (from the repository root), in a second terminal:
//   npx tsx q3/UDP_Server.ts
//   npx tsx q3/UDP_Client.ts                  # --host 192.168.1.23 reaches another computer
//
//   $ npx tsx q3/UDP_Client.ts --count 2
//   Client: SEND_TIME -> 10:46:55
//   Client: SEND_TIME -> 10:46:56
//   $ npx tsx q3/UDP_Client.ts --count 1          # the server is stopped: exit status 1
//   Client: SEND_TIME -> no reply from 127.0.0.1:43388 within 2 s; check --host and --port
//   Client: no reply to any of 1 requests from 127.0.0.1:43388; is the server up?

import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { on } from "node:events";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

// The command line replaces the template's hard-coded `host` and `port`, and sets Q3's loop.
const usage = `Usage: npx tsx q3/UDP_Client.ts [--host H] [--port P] [--count N] [--help] [options]
  --host H        the server's address (default 127.0.0.1)
  --port P        the server's port (default 43388)
  --count N       stop after N requests; exit 0, or 1 if not one was answered (default: forever)
  --min-delay S, --max-delay S   the pause between requests, at random between them (1, 2)
  --timeout S     how long to wait for each reply, in seconds (default 2)`;
const flags = readFlags({ host: "127.0.0.1", port: "43388", count: "forever",
  "min-delay": "1", "max-delay": "2", timeout: "2" });
const port = portNumber(flags.port, 1);
const where = `${flags.host}:${port}`;
const count = flags.count === "forever" ? Infinity : positiveNumber("count", flags.count, true);
const timeout = positiveNumber("timeout", flags.timeout, false);
// A pause may be 0, which positiveNumber() refuses. Like random.uniform(), either may be larger.
function pause(flag: "min-delay" | "max-delay"): number {
  return /^0+\.?0*$/.test(flags[flag]) ? 0 : positiveNumber(flag, flags[flag], false);
}
const minDelay = pause("min-delay");
const maxDelay = pause("max-delay");

// Python:  host = 'localhost'   (a reply is recognised by its source address: a numeric IP)
const server = await lookup(flags.host).catch((error: Error) => {
  console.error(`Client: cannot find the server ${where}: ${error.message} (check --host)`);
  process.exit(1);
});
const serverIsAnyAddress = server.address === "0.0.0.0" || server.address === "::";

// Q3: "The Client runs in a loop where it generates multiple such requests."
let answered = 0;
for (let sent = 0; sent < count; sent++) {
  // Python:  time.sleep(random.uniform(1, 2))   (Node cannot block: this pauses only the loop)
  if (sent > 0) await sleep(1000 * (minDelay + Math.random() * (maxDelay - minDelay)));

  // Step 1: Create a socket.
  // Python:  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  // A new socket (a new port) per request: UDP does not pair replies with requests, and a late
  // reply to the last one, sent to a port closed by then, is dropped (DNS uses the same trick).
  const clientSocket = dgram.createSocket(server.family === 6 ? "udp6" : "udp4");

  // Step 2: Send messages to it (we need to know the server's hostname and port).
  // Python:  s.sendto(random.choice(["SEND_DATE", "SEND_TIME"]).encode(), (host, port))
  // send() queues the datagram and returns; a failure (no route, say) comes to the callback.
  const request = Math.random() < 0.5 ? "SEND_DATE" : "SEND_TIME";
  let failure: Error | null = null;
  clientSocket.send(request, port, server.address, (error) => { failure = error; });

  // Python:  s.settimeout(timeout)
  //          data, addr = s.recvfrom(1024)
  // `on()` turns "message" events into a loop that waits for each datagram, like recvfrom();
  // the signal ends it after --timeout s, as UDP may lose a datagram without a word. Only one
  // from the server's address and port is a reply (for 0.0.0.0 or ::, any local address).
  const datagrams = on(clientSocket, "message", { signal: AbortSignal.timeout(timeout * 1000) });
  let reply: string | undefined;
  try {
    for await (const [datagram, sender] of datagrams as AsyncIterable<[Buffer, dgram.RemoteInfo]>) {
      if ((sender.address === server.address || serverIsAnyAddress) && sender.port === port) {
        reply = datagram.toString("utf8");
        break;
      }
      console.log(`Client: ignored ${sender.address}:${sender.port}, which is not the server`);
    }
  } catch (error) {
    if ((error as Error).name !== "AbortError") failure = error as Error;
  }

  // Q3: "When the Client receives a response, it prints it"; a lost one does not stop the loop.
  if (reply !== undefined) {
    answered++;
    console.log(`Client: ${request} -> ${printable(reply)}`);
  } else {
    const why = failure ? `(sending failed: ${failure.message})` : `within ${timeout} s`;
    console.log(`Client: ${request} -> no reply from ${where} ${why}; check --host and --port`);
  }

  // Close the connection (the template's words: for UDP, this closes the socket).
  // Python:  s.close()
  clientSocket.close();
}

// Q3 --count: like ping, not one reply means no server there: one line, exit status 1.
if (answered === 0) {
  console.error(`Client: no reply to any of ${count} requests from ${where}; is the server up?`);
  process.exit(1);
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

/** --flag as a plain positive decimal (`whole`: whole number), at most 2147483 s; else exit 2. */
function positiveNumber(flag: string, text: string, whole: boolean): number {
  const value = Number(text);
  if ((whole ? /^\d+$/ : /^(\d+\.?\d*|\.\d+)$/).test(text) && value > 0
    && (whole || value <= 2147483)) return value;
  const expected = whole ? "a positive whole number" : "seconds above 0, at most 2147483";
  console.error(`Invalid --${flag} '${text}': expected ${expected} (see --help)`);
  process.exit(2);
}

/** Text from the network made safe to print: control and bidi characters shown as `\uXXXX`. */
function printable(text: string): string {
  // A terminal obeys ESC sequences, a bare "\r" rewrites the line, bidi controls reorder it.
  return text.replace(/[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
