// A real terminal for the chat and calculator clients' tests: tmux gives the program a
// pseudo-terminal and shows us its screen. Shared by tests/q8-client.test.ts and tests/q6.test.ts.

import { execFile, spawnSync } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import { command, ROOT, sleep } from "./helpers.ts";


export const tmuxMissing = spawnSync("tmux", ["-V"], { timeout: 15_000 }).status !== 0;
const execFileAsync = promisify(execFile);

/**
 * A tmux server of our own (its own socket) running one program in a pane of the given size.
 * Every tmux call is asynchronous: a blocking spawnSync would stall this process's event
 * loop, and with it the sockets and timers of the tests running beside this one.
 */
export class Terminal {
  readonly socketName = `lab-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  // The shell in the pane writes the program's exit status here (tmux's own #{pane_dead_status}
  // is sometimes left empty when the program exits).
  readonly statusFile = path.join(os.tmpdir(), `${this.socketName}.status`);

  static async start(file: string, args: string[], width: number, height: number): Promise<Terminal> {
    const terminal = new Terminal();
    const [cmd, argv] = command(file, args);
    const shellLine = `cd ${quote(ROOT)} && ${[cmd, ...argv].map(quote).join(" ")}; echo $? > ${quote(terminal.statusFile)}`;
    await terminal.tmux("-f", "/dev/null", "new-session", "-d", "-s", "lab", "-x", String(width), "-y", String(height), shellLine, ";", "set-option", "-t", "lab", "remain-on-exit", "on");
    return terminal;
  }

  async tmux(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync("tmux", ["-L", this.socketName, ...args], { encoding: "utf8", timeout: 10000 });
    return stdout;
  }

  /** Types text (literally, one key at a time like a person; no Enter). */
  async type(text: string) {
    for (const key of text) await this.tmux("send-keys", "-t", "lab", "-l", key);
  }

  /** Pastes text in one chunk, as a terminal does when you paste (no Enter). */
  async paste(text: string) {
    await this.tmux("set-buffer", "-b", "paste", "--", text);
    await this.tmux("paste-buffer", "-d", "-b", "paste", "-t", "lab");
  }

  /** Presses one key by its tmux name, e.g. `C-c`. */
  async press(key: string) {
    await this.tmux("send-keys", "-t", "lab", key);
  }

  async enter() {
    await this.tmux("send-keys", "-t", "lab", "Enter");
  }

  /** The screen's rows, trailing blanks removed, and where the cursor is. */
  async screen() {
    const rows = (await this.tmux("capture-pane", "-p", "-t", "lab")).split("\n").map((row) => row.trimEnd());
    const [x, y] = (await this.tmux("display-message", "-p", "-t", "lab", "#{cursor_x} #{cursor_y}")).trim().split(" ");
    while (rows.length > 0 && rows.at(-1) === "") rows.pop();
    const status = await readFile(this.statusFile, "utf8").catch(() => "");
    return { rows, cursorX: Number(x), cursorY: Number(y), exited: status.trim() !== "", status: Number(status) };
  }

  /** Polls the screen until `done` holds; fails with the screen after `ms`. */
  async waitFor(what: string, done: (screen: Screen) => boolean, ms = 30000): Promise<Screen> {
    const deadline = Date.now() + ms;
    for (;;) {
      const screen = await this.screen();
      if (done(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen.rows.join("\n")}`);
      await sleep(50);
    }
  }

  async kill() {
    await this.tmux("kill-server").catch(() => {});
    await rm(this.statusFile, { force: true });
    // tmux leaves its socket file behind; it lives in $TMUX_TMPDIR (default /tmp)/tmux-UID.
    const socketDir = path.join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.()}`);
    await rm(path.join(socketDir, this.socketName), { force: true });
  }
}
export type Screen = Awaited<ReturnType<Terminal["screen"]>>;

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
/** The skip option for tests that need tmux. */
export const skipTmux = { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false };
