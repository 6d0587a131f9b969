// tools/capture.ts — `npm run capture`: the packets behind Q5, captured with tshark.
//
// Captures the loopback interface (`lo`) with tshark, Wireshark's command-line twin, while
// three exchanges run on it: the TCP template pair, the UDP template pair and a short Q6
// calculator session. The capture filter names only this project's ports, so nothing else
// on the machine gets in. Afterwards it prints, for each exchange, what the two programs
// printed and the packet list: every TCP segment with its flags (SYN, SYN/ACK, ACK, PSH/ACK,
// FIN/ACK), its relative sequence numbers, and its payload decoded as text. The same text is
// saved as .cache/captures/*.txt (git-ignored), with the raw capture as loopback.pcapng for
// Wireshark. The committed evidence that answers.md quotes lives in docs/captures/ and is
// regenerated on purpose only, with `--out docs/captures`; those files are never edited by hand.
//
// Every wait is bounded: tshark stops by itself after 1000 packets or 90 seconds, and each
// program it runs is killed if it has not finished within 20 seconds.
//
//   $ npm run capture            # needs tshark, and root (or the wireshark group) to capture
//   $ npm run capture -- --out docs/captures     # regenerate the committed evidence

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** The repository root: every lab script is started from here, as `npx tsx FILE` would be. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/**
 * Where `npm run capture` and `npm run two-hosts` save by default: a git-ignored folder, so that
 * a run never changes the committed docs/captures/ that answers.md quotes.
 */
export const DEFAULT_OUT = path.join(ROOT, ".cache", "captures");
/** The raw capture, saved beside the text files for opening in Wireshark. */
const PCAP_FILE = "loopback.pcapng";
/** How long one lab program may run before it is killed. */
const SCRIPT_MS = 20_000;

const usage = `Usage: npm run capture [-- [--out DIR] [--free-ports]]
  Captures the loopback interface with tshark while the TCP template pair, the UDP template
  pair and a short Q6 session run, then prints each exchange's packets with their TCP flags
  and payloads as text.
  --out DIR      where to save the text files and loopback.pcapng (default .cache/captures,
                 git-ignored; --out docs/captures regenerates the committed evidence)
  --free-ports   use ports the system picks instead of the pairs' default ports (so that
                 nothing else aimed at a default port can wander into the capture)
  --help         show this help`;

/** One exchange to capture: the programs it runs, on which port. */
interface Exchange {
  /** File name under the output directory. */
  file: string;
  title: string;
  protocol: "tcp" | "udp";
  /** The pair's default port: used when it is free, so the capture shows the familiar number. */
  defaultPort: number;
  port: number;
  /** Runs the programs against `port`; resolves when they have all finished. */
  run: (exchange: Exchange) => Promise<void>;
  /** What each program printed, in order, labelled by side. */
  transcript: string[];
}

/** Captures the three exchanges; returns the exit code (0 when every capture is complete). */
async function main(outDir: string, anyPort: boolean): Promise<number> {
  // tshark must exist before anything starts; say how to get it when it does not.
  const probe = spawnSync("tshark", ["--version"], { encoding: "utf8", timeout: 15_000 });
  if (probe.error || probe.status !== 0) {
    console.error("Capture: tshark is not installed (or does not run). Install it, then run this again:");
    console.error("  Debian/Ubuntu:  sudo apt-get install tshark");
    console.error("  macOS:          brew install wireshark      Windows: install Wireshark, which includes tshark");
    return 1;
  }

  const exchanges: Exchange[] = [
    {
      file: "tcp-template.txt",
      title: "Q4/Q5: the TCP template pair (TCP_Server.ts, TCP_Client.ts)",
      protocol: "tcp",
      defaultPort: 43389,
      port: 0,
      transcript: [],
      run: templatePair("TCP_Server.ts", "TCP_Client.ts"),
    },
    {
      file: "udp-template.txt",
      title: "Q1: the UDP template pair (UDP_Server.ts, UDP_Client.ts)",
      protocol: "udp",
      defaultPort: 43387,
      port: 0,
      transcript: [],
      run: templatePair("UDP_Server.ts", "UDP_Client.ts"),
    },
    {
      file: "q6-session.txt",
      title: "Q6: a short calculator session (q6/TCP_Server.ts, q6/TCP_Client.ts)",
      protocol: "tcp",
      defaultPort: 43390,
      port: 0,
      transcript: [],
      run: async (exchange) => {
        const server = new Script("server", "q6/TCP_Server.ts", ["--port", String(exchange.port)], exchange.transcript);
        await server.waitFor(/:\d+/);
        // The client reads its expressions from standard input, as if typed; `q` ends the session.
        const client = new Script("client", "q6/TCP_Client.ts", ["--port", String(exchange.port), "--name", "Ada"], exchange.transcript);
        client.type("12 + 42\n4.5 / -6\nq\n", true);
        succeeded(await client.finish(), client);
        // The q6 server serves clients until it is stopped: stop it once the session is over.
        await server.waitFor(/Session ended/);
        succeeded(await server.finish("SIGTERM"), server);
      },
    },
  ];

  // The capture must be running before the first packet, so the ports are chosen first: each
  // pair's default port when it is free (the numbers a student sees in the README), otherwise
  // any port the operating system says is free.
  for (const exchange of exchanges) exchange.port = await freePort(exchange.protocol, anyPort ? 0 : exchange.defaultPort);
  const filter = exchanges.map((exchange) => `${exchange.protocol} port ${exchange.port}`).join(" or ");

  const work = mkdtempSync(path.join(os.tmpdir(), "lab3-capture-"));
  // Removed on the way out, however that comes (main's result, an error, Ctrl-C, SIGTERM): every
  // path ends in process.exit, and the "exit" handlers run then.
  process.on("exit", () => rmSync(work, { recursive: true, force: true }));
  const pcap = path.join(work, "lo.pcapng");
  // `-f` is a capture filter (BPF, the kernel keeps everything else out); `-c` and
  // `-a duration:` are the bounds after which tshark stops by itself; `-w` saves the
  // packets so that they can be read back below with the fields we want.
  console.log(`Capture: $ tshark -i lo -f "${filter}" -c 1000 -a duration:90 -w ${pcap}`);
  const tshark = new Script("tshark", "", [], [], ["tshark", "-i", "lo", "-f", filter, "-c", "1000", "-a", "duration:90", "-w", pcap]);
  if (!(await captureStarted(tshark))) {
    await tshark.finish("SIGKILL");
    // tshark also complains about every settings file it may not read; keep the lines that matter.
    const said = tshark.lines.filter((line) => /capture|permitted|denied|no such device/i.test(line) && !/Error loading table|read the file/.test(line));
    console.error(`Capture: tshark could not capture on lo. It said:\n  ${said.join("\n  ")}`);
    console.error("Capture: capturing needs root (sudo npm run capture), or membership in the wireshark group (sudo dpkg-reconfigure wireshark-common).");
    return 1;
  }

  let failed = false;
  for (const exchange of exchanges) {
    console.log(`Capture: running ${exchange.title} on ${exchange.protocol} port ${exchange.port}`);
    try {
      await exchange.run(exchange);
    } catch (error) {
      failed = true;
      exchange.transcript.push(`(failed: ${(error as Error).message})`);
      console.error(`Capture: ${exchange.title} failed: ${(error as Error).message}`);
    }
  }

  // Loopback packets are copied to tshark at once, but give it a moment to write the last
  // ones, then stop it the way Ctrl-C would: it closes the file properly.
  await sleep(500);
  await tshark.finish("SIGINT");

  const packets = readPackets(pcap);
  mkdirSync(outDir, { recursive: true });
  for (const exchange of exchanges) {
    const own = packets.filter((packet) => packet.protocol === exchange.protocol && (packet.srcPort === exchange.port || packet.dstPort === exchange.port));
    const text = report(exchange, own, filter);
    console.log(`\n${text}`);
    writeFileSync(path.join(outDir, exchange.file), text);
    if (own.length === 0) failed = true;
  }
  // The raw capture too, for Wireshark: File > Open shows exactly these packets.
  copyFileSync(pcap, path.join(outDir, PCAP_FILE));
  chmodSync(path.join(outDir, PCAP_FILE), 0o644); // tshark made it private to its user; anyone may read this copy
  const saved = [...exchanges.map((exchange) => exchange.file), PCAP_FILE].map((file) => path.relative(process.cwd(), path.join(outDir, file)));
  console.log(`Capture: saved ${saved.join(", ")}`);
  return failed ? 1 : 0;
}

/**
 * Waits until tshark is really capturing. It prints "Capturing on 'Loopback: lo'" first, even
 * when the capture then fails for lack of permission; newer versions confirm with "Capture
 * started.", older ones do not, so a tshark still running 3 seconds later counts as started.
 */
async function captureStarted(tshark: Script): Promise<boolean> {
  try {
    await tshark.waitFor(/Capturing on/, 20_000);
    await tshark.waitFor(/Capture started/, 3000).catch(() => {}); // it ends, or it has said so, or 3 s went by
  } catch {
    return false;
  }
  return tshark.lines.some((line) => /Capture started/.test(line)) || !tshark.done;
}

/** One captured packet, as tshark decoded it. */
export interface Packet {
  number: number;
  time: number;
  protocol: "tcp" | "udp";
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** TCP flags as Wireshark names them (`SYN/ACK`, `PSH/ACK`, `FIN/ACK`); empty for UDP. */
  flags: string;
  seq: string;
  ack: string;
  /** Bytes of payload: the TCP segment's data, or the UDP datagram's. */
  length: number;
  payload: Buffer;
}

/** Reads the saved capture back with tshark, one tab-separated line of fields per packet. */
function readPackets(pcap: string): Packet[] {
  const fields = ["frame.number", "frame.time_relative", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len", "tcp.payload", "udp.payload"];
  const args = ["-r", pcap, "-T", "fields", "-E", "separator=/t", ...fields.flatMap((field) => ["-e", field])];
  const result = spawnSync("tshark", args, { encoding: "utf8", timeout: 30_000, maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`tshark -r failed: ${result.stderr}`);
  const packets: Packet[] = [];
  for (const line of result.stdout.split("\n")) {
    if (!line.trim()) continue;
    const [number, time, src, dst, tcpSrc, tcpDst, udpSrc, udpDst, flags, seq, ack, tcpLen, tcpPayload, udpPayload] = line.split("\t");
    const isTcp = Boolean(tcpSrc);
    // tshark prints a payload as hex digits, sometimes with ':' between bytes.
    const payload = Buffer.from(((isTcp ? tcpPayload : udpPayload) ?? "").replace(/:/g, ""), "hex");
    packets.push({
      number: Number(number),
      time: Number(time),
      protocol: isTcp ? "tcp" : "udp",
      src: src ?? "",
      srcPort: Number(isTcp ? tcpSrc : udpSrc),
      dst: dst ?? "",
      dstPort: Number(isTcp ? tcpDst : udpDst),
      flags: isTcp ? flagNames(parseInt(flags ?? "0", 16)) : "",
      seq: seq ?? "",
      ack: ack ?? "",
      length: isTcp ? Number(tcpLen) : payload.length,
      payload,
    });
  }
  return packets;
}

/** TCP's flag bits, named and ordered as Wireshark's Info column does: `[FIN, PSH, ACK]` → FIN/PSH/ACK. */
function flagNames(bits: number): string {
  const names: [number, string][] = [[0x01, "FIN"], [0x02, "SYN"], [0x04, "RST"], [0x08, "PSH"], [0x10, "ACK"], [0x20, "URG"]];
  return names.filter(([bit]) => bits & bit).map(([, name]) => name).join("/");
}

/** The text saved for one exchange: header, what the programs printed, the packet list. */
function report(exchange: Exchange, packets: Packet[], filter: string): string {
  const out: string[] = [];
  out.push(`# ${exchange.title}`);
  out.push(`# Captured on the loopback interface by \`npm run capture\` (tools/capture.ts). Regenerate, do not edit.`);
  out.push(`# tshark capture filter: ${filter}`);
  out.push(`# Wireshark display filter for this exchange alone: ${exchange.protocol}.port == ${exchange.port}  (open ${PCAP_FILE} beside this file)`);
  out.push("");
  out.push("What the programs printed:");
  for (const line of exchange.transcript) out.push(`  ${line}`);
  out.push("");
  out.push(
    exchange.protocol === "tcp"
      ? `Packets (${packets.length}). Seq and Ack count bytes from the start of the connection (relative, as Wireshark shows them); the payload is the bytes on the wire decoded as UTF-8 text.`
      : `Packets (${packets.length}). UDP has no flags, no sequence numbers and no handshake; the payload is the bytes on the wire decoded as UTF-8 text.`,
  );
  out.push(`  No.  Time (s)  From                      To                        Flags        Seq    Ack  Len  Payload as text`);
  // Another program aiming at the same port during the capture would show up as a second connection.
  const clientPorts = new Set(packets.map((packet) => (packet.srcPort === exchange.port ? packet.dstPort : packet.srcPort)));
  if (clientPorts.size > 1) out.push(`  (${clientPorts.size} client ports: something else used port ${exchange.port} during the capture)`);
  const start = packets[0]?.time ?? 0;
  const notes = annotate(packets, exchange.port);
  for (const packet of packets) {
    const side = (port: number) => (port === exchange.port ? "server" : "client");
    const from = `${side(packet.srcPort)} ${packet.src}:${packet.srcPort}`;
    const to = `${side(packet.dstPort)} ${packet.dst}:${packet.dstPort}`;
    const flags = packet.protocol === "tcp" ? packet.flags : "(UDP)";
    const payload = packet.length > 0 ? JSON.stringify(packet.payload.toString("utf8")) : "";
    const note = notes.get(packet.number);
    const row = [
      String(packet.number).padStart(5),
      (packet.time - start).toFixed(6).padStart(9),
      ` ${from.padEnd(25)}`,
      to.padEnd(25),
      flags.padEnd(11),
      packet.seq.padStart(5),
      packet.ack.padStart(6),
      String(packet.length).padStart(4),
      ` ${payload}${note ? `${payload ? "  " : ""}<- ${note}` : ""}`,
    ];
    out.push(row.join(" ").trimEnd());
  }
  return `${out.join("\n")}\n`;
}

/** Labels the segments a reader looks for: the three-way handshake and each side's FIN. */
function annotate(packets: Packet[], serverPort: number): Map<number, string> {
  const notes = new Map<number, string>();
  const syn = packets.find((packet) => packet.flags === "SYN");
  const synAck = packets.find((packet) => packet.flags === "SYN/ACK");
  if (syn) notes.set(syn.number, "handshake 1/3: the client asks to connect");
  if (synAck) notes.set(synAck.number, "handshake 2/3: the server agrees");
  if (syn && synAck) {
    const third = packets.find((packet) => packet.number > synAck.number && packet.flags === "ACK" && packet.srcPort === syn.srcPort);
    if (third) notes.set(third.number, "handshake 3/3: the client confirms; the connection is open");
  }
  const fins = packets.filter((packet) => packet.flags.includes("FIN"));
  for (const fin of fins) notes.set(fin.number, `teardown: the ${fin.srcPort === serverPort ? "server" : "client"} has nothing more to send`);
  const lastFin = fins[fins.length - 1];
  if (fins.length >= 2 && lastFin) {
    const finalAck = packets.find((packet) => packet.number > lastFin.number && packet.flags === "ACK" && packet.srcPort !== lastFin.srcPort);
    if (finalAck) notes.set(finalAck.number, "teardown: the last FIN acknowledged; the connection is closed");
  }
  return notes;
}

/** `preferred` when nothing listens on it (for that protocol), otherwise a free port the system picks. */
async function freePort(protocol: "tcp" | "udp", preferred: number): Promise<number> {
  for (const port of new Set([preferred, 0])) {
    try {
      if (protocol === "tcp") {
        const server = net.createServer().listen({ port, host: "127.0.0.1" });
        await once(server, "listening");
        const bound = (server.address() as net.AddressInfo).port;
        server.close();
        await once(server, "close");
        return bound;
      }
      const socket = dgram.createSocket("udp4");
      socket.bind(port, "127.0.0.1");
      await once(socket, "listening");
      const bound = socket.address().port;
      socket.close();
      return bound;
    } catch {
      // taken: try the next candidate
    }
  }
  throw new Error(`no free ${protocol} port`);
}

/** Runs a template pair: the server, then the client; each exits 0 after its one exchange. */
function templatePair(serverFile: string, clientFile: string): Exchange["run"] {
  return async (exchange) => {
    const server = new Script("server", serverFile, ["--port", String(exchange.port)], exchange.transcript);
    await server.waitFor(/:\d+/);
    const client = new Script("client", clientFile, ["--port", String(exchange.port)], exchange.transcript);
    succeeded(await client.finish(), client);
    succeeded(await server.finish(), server);
  };
}

/** Throws unless the program exited with code 0, so that a failed exchange is reported. */
function succeeded(code: number | null, script: Script) {
  if (code !== 0) throw new Error(`${script.label} exited with ${code === null ? "a signal" : `code ${code}`}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child process started here, so that none outlives this program. */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Where a `Script` writes its labelled lines: an array, or anything else with `push`. */
export type Transcript = { push(line: string): unknown };

/**
 * One program started by a tool: a lab script run as `npx tsx FILE ARGS` would run it (this
 * Node with tsx's loader, from the repository root), or any command given as `argv`. Each
 * line it prints goes into `lines` and, labelled, into `transcript`.
 */
export class Script {
  readonly label: string;
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** True once the program has ended. */
  done = false;
  #wake = () => {};

  /** `prefix` goes before the node command, e.g. `ip netns exec NS` to run it in a namespace. */
  constructor(label: string, file: string, args: string[], transcript: Transcript, argv?: string[], prefix: string[] = []) {
    this.label = label;
    const command = argv ?? [...prefix, process.execPath, "--import", "tsx", path.join(ROOT, file), ...args];
    if (!argv) transcript.push(`${label.padEnd(6)} $ ${prefix.length ? `${prefix.join(" ")} ` : ""}npx tsx ${[file, ...args].join(" ")}`);
    this.child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    running.add(this.child);
    this.exited = new Promise((resolve) => {
      // "close" comes after "exit", once the last output has been read.
      this.child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
        running.delete(this.child);
        this.done = true;
        if (!argv) transcript.push(`${label.padEnd(6)}   (exited with ${code === null ? signal : `code ${code}`})`);
        resolve(code);
      });
      // A program that cannot be started (command not found) reports an "error" instead.
      this.child.on("error", (error) => {
        running.delete(this.child);
        this.done = true;
        this.lines.push(`(could not start: ${error.message})`);
        resolve(null);
      });
    });
    this.child.stdin!.on("error", () => {}); // it may exit before reading its input
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let pending = "";
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        const parts = (pending + text).split("\n");
        pending = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          if (!argv) transcript.push(`${label.padEnd(6)} | ${line}`);
        }
        this.#wake();
      });
    }
  }

  /** Writes to the program's standard input, as if typed; `end` closes it afterwards. */
  type(text: string, end = false) {
    this.child.stdin!.write(text);
    if (end) this.child.stdin!.end();
  }

  /** Waits (at most `ms`) for a printed line matching `pattern` and returns it. */
  async waitFor(pattern: RegExp, ms = SCRIPT_MS): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${this.label}: no line matching ${pattern} within ${ms} ms`);
      if (this.done) {
        throw new Error(`${this.label}: exited before printing a line matching ${pattern}`);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Sends `signal` (if given), then waits at most `ms` for the exit, killing it after that. */
  async finish(signal?: NodeJS.Signals, ms = SCRIPT_MS): Promise<number | null> {
    if (signal && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    let kill: NodeJS.Timeout | undefined;
    let giveUp: NodeJS.Timeout | undefined;
    // After `ms` it is killed; a second later we stop waiting even if some process it started
    // still holds its output open.
    const deadline = new Promise<null>((resolve) => {
      kill = setTimeout(() => this.child.kill("SIGKILL"), ms);
      giveUp = setTimeout(() => resolve(null), ms + 1000);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      clearTimeout(kill);
      clearTimeout(giveUp);
    }
  }
}

// Python:  if __name__ == "__main__":
// The capture runs only when this file is the program; two-hosts.ts imports `Script` from
// here without starting one. (It comes last so that everything above is defined when it runs.)
if (isMainModule()) {
  const values = readOptions({ out: { type: "string", default: DEFAULT_OUT }, "free-ports": { type: "boolean" } });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  // Ctrl-C or a kill (SIGTERM): exit through the "exit" handlers, which stop every child and
  // remove the temp files.
  process.on("SIGINT", () => process.exit(130));
  process.on("SIGTERM", () => process.exit(143));
  try {
    // Exit explicitly: a program left running by a failed exchange must not keep this one alive
    // (the "exit" handler above kills it).
    process.exit(await main(path.resolve(values.out!), Boolean(values["free-ports"])));
  } catch (error) {
    console.error(`Capture: ${(error as Error).message}`);
    process.exit(1);
  }
}

/** Reads a tool's flags; a bad one prints one line and exits 2, as the lab scripts do. */
export function readOptions<Options extends ParseArgsOptionsConfig>(options: Options) {
  try {
    return parseArgs({ options: { ...options, help: { type: "boolean" } } as Options & { help: { type: "boolean" } } }).values;
  } catch (error) {
    console.error(`${(error as Error).message.split(". ")[0]} (see --help)`);
    process.exit(2);
  }
}

/** True when this file is the program being run, not a module imported by another tool or a test. */
function isMainModule(): boolean {
  // Deno, Bun and Node >= 24.2 set `import.meta.main`; older Node needs the path comparison.
  const main = (import.meta as { main?: boolean }).main;
  if (main !== undefined) return main;
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
}
