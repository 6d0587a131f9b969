// tools/tour.ts — `npm start`: a guided run of the whole lab.
//
// Starts every client/server pair on free ports (`--port 0`), feeds the clients scripted input,
// and prints what each side printed, labelled by question and side, as it happens. It shows
// the commands it runs so that a student can type them by hand afterwards. Every wait is
// bounded; every process it starts is stopped before it exits.

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WAIT_MS = 8000;
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const dim = (text: string) => (color ? `\x1b[2m${text}\x1b[0m` : text);
const bold = (text: string) => (color ? `\x1b[1m${text}\x1b[0m` : text);

/** One script started by the tour: its output lines, printed live with a label. */
class Side {
  readonly label: string;
  readonly lines: string[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  #wake = () => {};

  /** Starts `file`; each output line is printed with `label`, or handed to `onLine` instead. */
  constructor(label: string, file: string, args: string[], onLine?: (line: string) => void) {
    this.label = label;
    console.log(dim(`$ npx tsx ${file} ${args.join(" ")}`.trimEnd()));
    this.child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, file), ...args], { cwd: ROOT });
    running.add(this.child);
    this.exited = once(this.child, "close").then(([code]) => {
      running.delete(this.child);
      return code as number | null;
    });
    this.child.stdin!.on("error", () => {});
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let pending = "";
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        const parts = (pending + text).split("\n");
        pending = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          if (onLine) onLine(line);
          else console.log(`  ${bold(label.padEnd(12))}│ ${line}`);
        }
        this.#wake();
      });
    }
  }

  /** Waits for a printed line matching `pattern` and returns it. */
  async waitFor(pattern: RegExp): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = this.lines.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${this.label}: no line matching ${pattern} within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** The port from a server's first line, `... HOST:PORT ...`. */
  async port(): Promise<string> {
    const first = await this.waitFor(/:\d+/);
    return /:(\d+)\b/.exec(first)![1]!;
  }

  type(text: string) {
    this.child.stdin!.write(text);
  }

  /**
   * Sends `signal` (if given) and waits for the exit, killing it after WAIT_MS. Every program
   * in the tour ends with exit code 0 when all went well, so any other ending fails the tour.
   */
  async finish(signal?: NodeJS.Signals): Promise<void> {
    if (signal && this.child.exitCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), WAIT_MS);
    let code: number | null;
    try {
      code = await this.exited;
    } finally {
      clearTimeout(timer);
    }
    if (code !== 0) throw new Error(`${this.label} exited with ${code === null ? "a signal (killed or crashed)" : `code ${code}`}, not 0`);
  }
}

const running = new Set<ChildProcess>();
const stopAll = () => {
  for (const child of running) child.kill("SIGKILL");
};
process.on("exit", stopAll);
// Ctrl-C, or a kill (SIGTERM, as a test's time limit sends): exit through stopAll above.
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

function section(title: string, explanation: string) {
  console.log(`\n${bold(`== ${title} ==`)}`);
  console.log(dim(explanation));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const started = Date.now();
console.log(bold("Lab 3: Socket Programming, a guided run of every client/server pair"));
console.log(dim("Each pair runs on free ports chosen by the operating system (--port 0), so nothing clashes."));

try {
  // Q1: one datagram each way, then both programs end.
  section("Q1 · UDP template pair (UDP_Server.ts, UDP_Client.ts)", "One datagram to the server, one \"Ok\" back; no connection is ever set up.");
  {
    const server = new Side("Q1 server", "UDP_Server.ts", ["--port", "0"]);
    const client = new Side("Q1 client", "UDP_Client.ts", ["--port", await server.port()]);
    await client.finish();
    await server.finish();
  }

  // Q4: the same exchange over a TCP connection.
  section("Q4 · TCP template pair (TCP_Server.ts, TCP_Client.ts)", "A connection first (accept), then the knock-knock exchange over it.");
  {
    const server = new Side("Q4 server", "TCP_Server.ts", ["--port", "0"]);
    const client = new Side("Q4 client", "TCP_Client.ts", ["--port", await server.port()]);
    await client.finish();
    await server.finish();
  }

  // Q3: the client asks for the date or the time at random, pausing between requests.
  section("Q3 · date/time service over UDP (q3/)", "Three random requests, 0.2-0.4 s apart (the lab's 1-2 s, shortened for the tour).");
  {
    const server = new Side("Q3 server", "q3/UDP_Server.ts", ["--port", "0"]);
    const port = await server.port();
    const client = new Side("Q3 client", "q3/UDP_Client.ts", ["--port", port, "--count", "3", "--min-delay", "0.2", "--max-delay", "0.4"]);
    await client.finish();
    await server.finish("SIGTERM");
  }

  // Q6: two named clients; the second connects during the first's session and waits its turn.
  section("Q6 · calculator session over TCP (q6/)", "Alice's session, with a malformed line and a division by zero; Bob connects meanwhile and is served after her.");
  {
    const server = new Side("Q6 server", "q6/TCP_Server.ts", ["--port", "0"]);
    const port = await server.port();
    const alice = new Side("Q6 Alice", "q6/TCP_Client.ts", ["--port", port, "--name", "Alice"]);
    await server.waitFor(/session started with "Alice"/);
    alice.type("12 + 42\n");
    await alice.waitFor(/^54$/);
    const bob = new Side("Q6 Bob", "q6/TCP_Client.ts", ["--port", port, "--name", "Bob"]);
    bob.type("0.1 + 0.2\nq\n");
    await server.waitFor(/waits until the session/);
    for (const expression of ["3.24 - 45", "4.5 / -6", "12 +", "10 / 0"]) {
      alice.type(`${expression}\n`);
      await sleep(100);
    }
    await alice.waitFor(/division by zero/);
    alice.type("q\n");
    await alice.finish();
    await bob.finish();
    await server.finish("SIGTERM");
  }

  // Q8: the assignment's example, replayed: each window printed as the assignment shows it.
  section("Q8 · chat room (q8/)", "The assignment's Batman/Voldemort example, replayed by two scripted chat windows.");
  {
    const server = new Side("Q8 server", "q8/Chat_Server.ts", ["--port", "0"]);
    const port = await server.port();
    const windows = { Batman: [] as string[], Voldemort: [] as string[] };
    // Each window is what its user saw: the lines the client printed, and what was typed
    // after a "> " (piped input is not echoed, so the tour writes it in).
    const open = (name: "Batman" | "Voldemort") =>
      new Side(`Q8 ${name}`, "q8/Chat_Client.ts", ["--port", port], (line) => windows[name].push(line));
    const say = async (side: Side, name: "Batman" | "Voldemort", text: string) => {
      windows[name].push(`> ${text}`);
      side.type(`${text}\n`);
      await sleep(200);
    };
    const batman = open("Batman");
    await batman.waitFor(/Enter login name/);
    await say(batman, "Batman", "Batman");
    await batman.waitFor(/Batman has joined/);
    const voldemort = open("Voldemort");
    await voldemort.waitFor(/Enter login name/);
    await say(voldemort, "Voldemort", "Voldemort");
    await batman.waitFor(/Voldemort has joined/);
    await say(batman, "Batman", "Anyone here?");
    await voldemort.waitFor(/Batman: Anyone here\?/);
    await say(voldemort, "Voldemort", "Crucio!");
    await batman.waitFor(/Voldemort: Crucio!/);
    await say(batman, "Batman", "Aaaaaahrrhhhhh..");
    await voldemort.waitFor(/Aaaaaahrrhhhhh/);
    await say(batman, "Batman", "quit");
    await batman.finish();
    await voldemort.waitFor(/Batman has left/);
    voldemort.child.stdin!.end();
    await voldemort.finish();
    await server.finish("SIGTERM");
    for (const name of ["Batman", "Voldemort"] as const) {
      console.log(`\n  ${bold(`${name}'s window`)}`);
      for (const line of windows[name]) console.log(`    ${line}`);
    }
  }
} catch (error) {
  console.error(`\ntour: ${(error as Error).message}`);
  stopAll();
  process.exit(1);
}

console.log(dim(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Run any pair yourself: see the table in README.md.`));
