// Shared test helpers: start the real scripts as child processes, read what they print,
// and talk to them over raw sockets. Every wait here has a timeout, and every child that a
// test starts is killed when the test file ends, pass or fail.

import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { after } from "node:test";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * How a script is launched. `LAB_RUNTIME` picks the runtime (default `tsx`):
 * tsx  — this Node with tsx's loader (what `npx tsx file.ts` does, minus npx);
 * node — `node file.ts`, Node's own type stripping (Node >= 22.18; `LAB_NODE` names the binary);
 * deno — `deno run --allow-net`: network access only, no file, environment or system access
 *        (the scripts need nothing else; `LAB_DENO` names the binary);
 * bun  — `bun file.ts` (`LAB_BUN` names the binary).
 * With `LAB_TRACE=1` (set by `npm run test:runtimes`) it also writes one `LAB_TRACE {...}` line to
 * stderr naming the script and the test-file lines that launched it, so that the runtime matrix
 * can tell which test exercised which script.
 */
export function command(file: string, args: string[] = []): [string, string[]] {
  const script = path.join(ROOT, file);
  if (process.env.LAB_TRACE === "1") {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 100;
    const callers = (new Error().stack ?? "").match(/[^\s(]+\.test\.ts:\d+/g) ?? [];
    Error.stackTraceLimit = limit;
    process.stderr.write(`LAB_TRACE ${JSON.stringify({ script: file, callers })}\n`);
  }
  switch (process.env.LAB_RUNTIME ?? "tsx") {
    case "tsx":
      return [process.execPath, ["--import", "tsx", script, ...args]];
    case "node":
      return [process.env.LAB_NODE ?? "node", [script, ...args]];
    case "deno":
      return [process.env.LAB_DENO ?? "deno", ["run", "--quiet", "--allow-net", script, ...args]];
    case "bun":
      return [process.env.LAB_BUN ?? "bun", [script, ...args]];
    default:
      throw new Error(`unknown LAB_RUNTIME '${process.env.LAB_RUNTIME}' (tsx, node, deno or bun)`);
  }
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** A running script: its output so far, line by line, and ways to wait for more. */
export class Running {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  constructor(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
    const [cmd, argv] = command(file, args);
    this.child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    children.add(this.child);
    // "close", not "exit": "exit" may fire before the child's stdout has been read to the end.
    this.exited = once(this.child, "close").then(([code, signal]) => {
      children.delete(this.child);
      return { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
    this.#collect(this.child.stdout!, this.stdout);
    this.#collect(this.child.stderr!, this.stderr);
    this.child.stdin!.on("error", () => {}); // the script may exit before reading its input
  }

  #collect(stream: NodeJS.ReadableStream, into: string[]) {
    let pending = "";
    stream.setEncoding("utf8");
    stream.on("data", (text: string) => {
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      into.push(...lines.map((line) => line.replace(/\r$/, "")));
      for (const wake of this.#waiters) wake();
    });
    stream.on("end", () => {
      if (pending) into.push(pending);
      pending = "";
      for (const wake of this.#waiters) wake();
    });
  }

  /** Resolves with the first stdout line (from index `from`) matching `pattern`; rejects after `ms`. */
  waitForLine(pattern: RegExp, ms = 5000, from = 0, stream: "stdout" | "stderr" = "stdout"): Promise<string> {
    const lines = stream === "stdout" ? this.stdout : this.stderr;
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = lines.slice(from).find((line) => pattern.test(line));
        if (found !== undefined) {
          cleanup();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${pattern} on ${stream}; stdout so far:\n${this.stdout.join("\n")}\nstderr so far:\n${this.stderr.join("\n")}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Writes to the script's standard input. */
  write(text: string) {
    this.child.stdin!.write(text);
  }

  /** Closes the script's standard input (end of file). */
  endInput() {
    this.child.stdin!.end();
  }

  /** Waits for the process to exit; kills it and rejects after `ms`. */
  async waitForExit(ms = 5000) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(new Error(`process did not exit within ${ms} ms; stdout:\n${this.stdout.join("\n")}\nstderr:\n${this.stderr.join("\n")}`));
      }, ms);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal (default SIGTERM) and waits for the exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM", ms = 5000) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.waitForExit(ms);
  }
}

/** Starts a server script on a free port and resolves once it has printed its bound address. */
export async function startServer(file: string, args: string[] = [], ms = 10000) {
  const server = new Running(file, ["--port", "0", ...args]);
  const first = await server.waitForLine(/:\d+/, ms);
  const match = /(\S+):(\d+)/.exec(first)!;
  return { server, host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]), firstLine: first };
}

/** Runs a script to completion (with optional stdin text) and returns its exit code and output. */
export async function runScript(file: string, args: string[] = [], options: { input?: string; ms?: number } = {}) {
  const run = new Running(file, args);
  if (options.input !== undefined) run.write(options.input);
  run.endInput();
  const { code, signal } = await run.waitForExit(options.ms ?? 10000);
  return { code, signal, stdout: run.stdout, stderr: run.stderr, out: run.stdout.join("\n"), err: run.stderr.join("\n") };
}

/** A raw TCP connection that reads the peer's replies line by line. */
export class LineSocket {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  closed = false;
  #pending = Buffer.alloc(0);
  #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      let end: number;
      while ((end = this.#pending.indexOf(0x0a)) !== -1) {
        this.lines.push(this.#pending.toString("utf8", 0, end).replace(/\r$/, ""));
        this.#pending = this.#pending.subarray(end + 1);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number, host = "127.0.0.1", ms = 5000): Promise<LineSocket> {
    const socket = net.connect({ port, host });
    socket.setTimeout(ms, () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    await once(socket, "connect");
    socket.setTimeout(0);
    return new LineSocket(socket);
  }

  #wake() {
    for (const wake of this.#waiters) wake();
  }

  #until(done: () => boolean, what: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (done()) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; lines so far: ${JSON.stringify(this.lines)}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Sends raw text or bytes, exactly as given (no newline added). */
  send(data: string | Uint8Array) {
    this.socket.write(data);
  }

  /** Waits until at least `count` lines have arrived in all, and returns the line at index count-1. */
  async line(count: number, ms = 5000): Promise<string> {
    await this.#until(() => this.lines.length >= count, `line #${count}`, ms);
    return this.lines[count - 1]!;
  }

  /** Waits for the first line (from index `from`) matching `pattern`. */
  async waitFor(pattern: RegExp, ms = 5000, from = 0): Promise<string> {
    await this.#until(() => this.lines.slice(from).some((l) => pattern.test(l)), String(pattern), ms);
    return this.lines.slice(from).find((l) => pattern.test(l))!;
  }

  /** Waits for the server to close the connection. */
  async waitForClose(ms = 5000) {
    await this.#until(() => this.closed, "the connection to close", ms);
  }

  close() {
    this.socket.destroy();
  }
}

/** Sends one UDP datagram and resolves with the reply's text, or rejects after `ms`. */
export async function udpRequest(port: number, message: string | Uint8Array, ms = 3000, host = "127.0.0.1"): Promise<string> {
  const socket = dgram.createSocket("udp4");
  try {
    socket.send(message, port, host);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no UDP reply from ${host}:${port} within ${ms} ms`)), ms);
    });
    try {
      const [reply] = (await Promise.race([once(socket, "message"), timeout])) as [Buffer];
      return reply.toString("utf8");
    } finally {
      clearTimeout(timer);
    }
  } finally {
    socket.close();
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port on 127.0.0.1 that nothing listens on (bound, read, released). */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening", { signal: AbortSignal.timeout(5000) });
  const { port } = probe.address() as net.AddressInfo;
  probe.close();
  await once(probe, "close", { signal: AbortSignal.timeout(5000) });
  return port;
}

/** A connected pair of TCP sockets on 127.0.0.1: what `writer` sends, `reader` receives. */
export async function socketPair(): Promise<{ writer: net.Socket; reader: net.Socket }> {
  const listener = net.createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening", { signal: AbortSignal.timeout(5000) });
  const writer = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  const [reader] = (await once(listener, "connection", { signal: AbortSignal.timeout(5000) })) as [net.Socket];
  listener.close();
  writer.on("error", () => {});
  return { writer, reader };
}
