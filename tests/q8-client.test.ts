// End-to-end tests for the chat window (Q8): q8/Chat_Client.ts driven through its standard
// input (a pipe, and a real terminal through tmux) against the real q8/Chat_Server.ts, with raw
// LineSocket members on the other side (the framing test scripts a server of its own).

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { escape, JOINED, LEFT, login } from "./chat-helpers.ts";
import { closedPort, LineSocket, Running, runScript, sleep, startServer } from "./helpers.ts";
import { Terminal, tmuxMissing } from "./terminal.ts";

const CLIENT = "q8/Chat_Client.ts";
// The tests share one room, so the member count depends on who else is in: JOINED and LEFT
// accept any count unless given one.
// Waits that include starting a script get START_MS: the machine may be busy.
const START_MS = 30000;

type ChatServer = { port: number; stop: () => Promise<void> };

/** Starts q8/Chat_Server.ts on a free port. */
async function startChatServer(args: string[] = []): Promise<ChatServer> {
  const { server, port } = await startServer("q8/Chat_Server.ts", args, START_MS);
  return { port, stop: async () => void (await server.stop()) };
}

const sockets: LineSocket[] = [];
let room: ChatServer;
before(async () => {
  room = await startChatServer();
});
after(async () => {
  for (const socket of sockets) socket.close();
  await room.stop();
});

// ---------------------------------------------------------------------------------------
// On a real terminal (tmux gives the client a pseudo-terminal and shows us its screen).

// The tests use different names in the shared room (or their own servers), so they can run
// side by side: each spends most of its time waiting for a script to start.
describe("q8/Chat_Client.ts", { concurrency: 4 }, () => {
  test("piped stdin: login retry after a taken name, chat both ways, quit -> exit 0", async () => {
    const batman = await login(room.port, "Batman");
    sockets.push(batman);
    const client = new Running(CLIENT, ["--port", String(room.port)]);
    await client.waitForLine(/^Enter login name:$/, START_MS);
    client.write("batman\n"); // taken: names are compared without case
    const error = await client.waitForLine(/^ERROR/);
    await client.waitForLine(/^Enter login name:$/, 5000, client.stdout.indexOf(error) + 1);
    client.write("Robin\n");
    await client.waitForLine(JOINED("Robin"));
    await batman.waitFor(JOINED("Robin"));

    client.write("Anyone here?\n");
    await batman.waitFor(/^Robin: Anyone here\?$/);
    batman.send("Holy sockets, Robin! Ça marche 🦇\n");
    await client.waitForLine(/^Batman: Holy sockets, Robin! Ça marche 🦇$/);

    const from = batman.lines.length;
    client.write("quit\n");
    assert.equal((await client.waitForExit(START_MS)).code, 0);
    await batman.waitFor(LEFT("Robin"), 5000, from);
    // A pipe gets plain lines: no prompt, no terminal codes, and our own lines are not echoed.
    const screen = client.stdout.join("\n");
    assert.doesNotMatch(screen, /\x1b|> /);
    assert.doesNotMatch(screen, /Anyone here/);
    assert.deepEqual(client.stderr, []);
  });

  test("piped stdin: lines piped all at once are not lost while the login is answered; end of input leaves with exit 0", async () => {
    const alfred = await login(room.port, "Alfred");
    sockets.push(alfred);
    const from = alfred.lines.length;
    const run = await runScript(CLIENT, ["--port", String(room.port)], { input: "Gordon\nfirst\n\nsecond\n", ms: START_MS });
    assert.equal(run.code, 0, run.err);
    assert.match(run.stdout[0]!, /^Enter login name:$/);
    assert.match(run.stdout[1]!, JOINED("Gordon"));
    await alfred.waitFor(LEFT("Gordon"), 5000, from);
    // The empty line is not sent; the two others arrive in order, then the leave.
    const said = alfred.lines.slice(from).filter((line) => line.startsWith("Gordon: "));
    assert.deepEqual(said, ["Gordon: first", "Gordon: second"]);
  });

  test("--name: logs in without asking; a taken --name prints the ERROR and asks on stdin", async () => {
    const joker = await login(room.port, "Joker");
    sockets.push(joker);
    const named = await runScript(CLIENT, ["--port", String(room.port), "--name", "Harley"], { input: "hello\n", ms: START_MS });
    assert.equal(named.code, 0, named.err);
    assert.doesNotMatch(named.out, /Enter login name:/);
    assert.match(named.stdout[0]!, JOINED("Harley"));
    await joker.waitFor(/^Harley: hello$/);

    const taken = await runScript(CLIENT, ["--port", String(room.port), "--name", "JOKER"], { input: "Penguin\n", ms: START_MS });
    assert.equal(taken.code, 0, taken.err);
    assert.match(taken.stdout[0]!, /^ERROR/);
    assert.equal(taken.stdout[1], "Enter login name:");
    assert.match(taken.stdout[2]!, JOINED("Penguin"));
  });

  test("input ends before a name is accepted: leaves with one line, exit 0", async () => {
    const bane = await login(room.port, "Bane");
    sockets.push(bane);
    const run = await runScript(CLIENT, ["--port", String(room.port), "--name", "Bane"], { ms: START_MS });
    assert.equal(run.code, 0, run.err);
    assert.match(run.stdout[0]!, /^ERROR/);
    assert.equal(run.stderr.length, 1, run.err);
    assert.match(run.err, /^Client: .*login name/);
  });

  test("the server goes away: the client says so and exits 1", async () => {
    const ownRoom = await startChatServer();
    try {
      const client = new Running(CLIENT, ["--port", String(ownRoom.port), "--name", "Riddler"]);
      await client.waitForLine(JOINED("Riddler"), START_MS);
      await ownRoom.stop();
      assert.equal((await client.waitForExit(START_MS)).code, 1);
      assert.equal(client.stderr.length, 1, client.stderr.join("\n"));
      assert.match(client.stderr[0]!, /^Client: the server at 127\.0\.0\.1:\d+ closed the connection/);
      assert.doesNotMatch(client.stderr[0]!, /\n\s+at /);
    } finally {
      await ownRoom.stop();
    }
  });

  test("framing (scripted fake server): bytes split mid-character, several lines per read, \\r\\n and a last unterminated line", async () => {
    const server = net.createServer(async (socket) => {
      socket.on("error", () => {});
      await once(socket, "data"); // the login name
      const bytes = Buffer.from("Server: time=12:00:00 Ivy has joined. Member count=1\nBane: héllo 🌿\r\nBane: two\nBane: last");
      const cut = bytes.indexOf(Buffer.from("🌿")) + 2; // in the middle of the 4-byte emoji
      socket.write(bytes.subarray(0, cut));
      await sleep(100);
      socket.end(bytes.subarray(cut));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening", { signal: AbortSignal.timeout(5000) });
    try {
      const { port } = server.address() as net.AddressInfo;
      const client = new Running(CLIENT, ["--port", String(port), "--name", "Ivy"]);
      assert.equal((await client.waitForExit(START_MS)).code, 1);
      assert.deepEqual(client.stdout, ["Server: time=12:00:00 Ivy has joined. Member count=1", "Bane: héllo 🌿", "Bane: two", "Bane: last"]);
    } finally {
      server.close();
    }
  });

  test("an unreachable server: one line naming 127.0.0.1:PORT, exit 1, no stack trace", async () => {
    const port = await closedPort();
    const run = await runScript(CLIENT, ["--port", String(port), "--name", "Nobody"], { ms: START_MS });
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout, []);
    assert.equal(run.stderr.length, 1, run.err);
    assert.ok(run.err.includes(`127.0.0.1:${port}`), run.err);
    assert.match(run.err, /Check --host and --port/);
  });

  test("--help exits 0; an unknown flag or a bad port exits 2 with one line", async () => {
    const [help, bad, badPort] = await Promise.all([
      runScript(CLIENT, ["--help"], { ms: START_MS }),
      runScript(CLIENT, ["--bogus"], { ms: START_MS }),
      runScript(CLIENT, ["--port", "70000"], { ms: START_MS }),
    ]);
    assert.equal(help.code, 0);
    assert.match(help.out, /--name/);
    assert.match(help.out, /43392/);
    assert.match(help.out, /--timeout S/);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.length, 1);
    assert.match(bad.err, /--bogus/);
    assert.equal(badPort.code, 2);
    assert.equal(badPort.stderr.length, 1);
    assert.match(badPort.err, /70000/);
  });

  test("terminal via tmux: the > prompt, and an incoming message never garbles the half-typed line", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    // A room of its own: chatter from the other tests must not land between our rows.
    const ownRoom = await startChatServer();
    const voldemort = await login(ownRoom.port, "Voldemort");
    sockets.push(voldemort);
    const terminal = await Terminal.start(CLIENT, ["--port", String(ownRoom.port)], 80, 24);
    try {
      // The assignment's window: the question, then the name typed after `> `.
      await terminal.waitFor("the login question", (s) => s.rows.join("\n") === "Enter login name:\n>");
      await terminal.type("Harry");
      await terminal.enter();
      await terminal.waitFor("the join announcement and a fresh prompt", (s) => JOINED("Harry").test(s.rows.at(-2) ?? "") && s.rows.at(-1) === ">");
      assert.deepEqual((await terminal.screen()).rows.slice(0, 2), ["Enter login name:", "> Harry"]);

      await terminal.type("Expelliar");
      await terminal.waitFor("the half-typed line", (s) => s.rows.at(-1) === "> Expelliar");
      voldemort.send("Crucio!\n");
      const screen = await terminal.waitFor("the incoming message", (s) => s.rows.includes("Voldemort: Crucio!"));
      // The message has a row of its own, above the prompt; the typed text is intact after
      // `> `, and the cursor is still at its end.
      assert.equal(screen.rows.at(-2), "Voldemort: Crucio!");
      assert.equal(screen.rows.at(-1), "> Expelliar");
      assert.equal(screen.cursorY, screen.rows.length - 1);
      assert.equal(screen.cursorX, "> Expelliar".length);

      // What readline holds is what was on the screen: finishing the word sends all of it.
      await terminal.type("mus!");
      await terminal.enter();
      await voldemort.waitFor(/^Harry: Expelliarmus!$/);

      const from = voldemort.lines.length;
      await terminal.type("quit");
      await terminal.enter();
      const end = await terminal.waitFor("the client to exit", (s) => s.exited);
      assert.equal(end.status, 0);
      await voldemort.waitFor(LEFT("Harry"), 5000, from);
    } finally {
      await terminal.kill();
      await ownRoom.stop();
    }
  });

  test("terminal via tmux: a typed line that wraps over several rows survives incoming messages", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    const ownRoom = await startChatServer();
    const dumbledore = await login(ownRoom.port, "Dumbledore");
    sockets.push(dumbledore);
    const terminal = await Terminal.start(CLIENT, ["--port", String(ownRoom.port), "--name", "Hermione"], 30, 16);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      const long = "It's leviOsa, not levioSA! Swish and flick, then it floats.";
      await terminal.type(long);
      const typed = await terminal.waitFor("the wrapped line", (s) => s.rows.slice(-3).join("") === `> ${long}`);
      const promptRows = 3; // "> " and the 59 characters on rows of 30
      dumbledore.send("Ten points to Gryffindor\n");
      dumbledore.send("for the levitation charm\n");
      const screen = await terminal.waitFor("both messages", (s) => s.rows.includes(" charm"));
      // Every row above the prompt block is a whole message row; the block is the typed line.
      assert.equal(screen.rows.slice(-promptRows).join(""), `> ${long}`);
      const wrapped = (text: string) => text.match(/.{1,30}/g)!;
      const messageRows = [...wrapped("Dumbledore: Ten points to Gryffindor"), ...wrapped("Dumbledore: for the levitation charm")];
      assert.deepEqual(screen.rows.slice(-promptRows - messageRows.length, -promptRows), messageRows);
      assert.equal(screen.rows.filter((row) => row.startsWith("> ")).length, 1, screen.rows.join("\n"));
      assert.equal(screen.cursorX, typed.cursorX);
      await terminal.enter();
      await dumbledore.waitFor(new RegExp(`^Hermione: ${long.replace(/[.!?]/g, "\\$&")}$`));
    } finally {
      await terminal.kill();
      await ownRoom.stop();
    }
  });

  test("a person who types the name after the server's --login-timeout still joins, and sees no ERROR", async () => {
    const ownRoom = await startChatServer(["--login-timeout", "1"]);
    try {
      const tonks = await login(ownRoom.port, "Tonks");
      sockets.push(tonks);
      const client = new Running(CLIENT, ["--port", String(ownRoom.port)]);
      await client.waitForLine(/^Enter login name:$/, START_MS);
      await sleep(2500); // the server closed the idle connection at 1 s
      client.write("Lupin\n");
      await client.waitForLine(JOINED("Lupin"), 10_000);
      await tonks.waitFor(JOINED("Lupin"));
      client.write("quit\n");
      assert.equal((await client.waitForExit(START_MS)).code, 0);
      assert.deepEqual(client.stdout.filter((line) => /ERROR/.test(line)), []);
      assert.deepEqual(client.stderr, []);
      assert.equal(client.stdout.filter((line) => line === "Enter login name:").length, 1);
    } finally {
      await ownRoom.stop();
    }
  });

  test("Ctrl-C (SIGINT) at the login prompt: says the person left before logging in, exit 0", async () => {
    const client = new Running(CLIENT, ["--port", String(room.port)]);
    await client.waitForLine(/^Enter login name:$/, START_MS);
    const { code, signal } = await client.stop("SIGINT", START_MS);
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.deepEqual(client.stderr, ["Client: you left before logging in"]);
  });

  test("heartbeat (scripted fake server): an empty line right after the join, then about every 10 s", async () => {
    let joinedAt = 0;
    const received: { line: string; at: number }[] = [];
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      let pending = "";
      socket.setEncoding("utf8").on("data", (text: string) => {
        const lines = (pending + text).split("\n");
        pending = lines.pop()!;
        for (const line of lines) received.push({ line, at: Date.now() });
        if (joinedAt === 0 && received.length > 0) {
          joinedAt = Date.now();
          socket.write("Server: time=12:00:00 Tonks has joined. Member count=1\n");
        }
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening", { signal: AbortSignal.timeout(5000) });
    const client = new Running(CLIENT, ["--port", String((server.address() as net.AddressInfo).port), "--name", "Tonks"]);
    try {
      await client.waitForLine(JOINED("Tonks"), START_MS);
      const beats = () => received.filter(({ line }) => line === "");
      const deadline = Date.now() + 13_000;
      while (beats().length < 2 && Date.now() < deadline) await sleep(100);
      assert.equal(beats().length, 2, `not two empty lines within 13 s of the join: ${JSON.stringify(received)}`);
      assert.equal(received[0]!.line, "Tonks"); // nothing before the name
      const [first, second] = beats().map((beat) => (beat.at - joinedAt) / 1000);
      // The first at once (a member that vanishes right after joining must not escape the
      // server's heartbeat rule), the next one about 10 s later.
      assert.ok(first! <= 2, `first heartbeat ${first} s after the join`);
      assert.ok(second! >= 9 && second! <= 12, `second heartbeat ${second} s after the join`);
    } finally {
      await client.stop("SIGKILL");
      server.close();
    }
  });

  test("piped stdout: control and bidi characters from another member are printed escaped", async () => {
    const bellatrix = await login(room.port, "Bellatrix");
    sockets.push(bellatrix);
    const client = new Running(CLIENT, ["--port", String(room.port), "--name", "Neville"]);
    try {
      await bellatrix.waitFor(JOINED("Neville"), START_MS);
      bellatrix.send("\x1b]0;pwned\x07\x1b[2J x\rNeville: \u202Eevil\n");
      const shown = await client.waitForLine(/^Bellatrix: /);
      assert.equal(shown, "Bellatrix: \\u001b]0;pwned\\u0007\\u001b[2J x\\u000dNeville: \\u202eevil");
    } finally {
      await client.stop("SIGKILL");
    }
  });

  test("terminal via tmux: Ctrl-C at the login prompt says the person left before logging in, exit 0", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    const terminal = await Terminal.start(CLIENT, ["--port", String(room.port)], 80, 24);
    try {
      await terminal.waitFor("the login question", (s) => s.rows.join("\n") === "Enter login name:\n>");
      await terminal.type("Nev");
      await terminal.press("C-c");
      const end = await terminal.waitFor("the client to exit", (s) => s.exited);
      assert.equal(end.status, 0);
      // A row of its own (not glued to `> Nev`). tmux may have scrolled the screen by a row to
      // write "Pane is dead" under it, so the rows above are not checked.
      assert.ok(end.rows.includes("Client: you left before logging in"), end.rows.join("\n"));
      assert.ok(!end.rows.some((row) => /input ended/.test(row)), end.rows.join("\n"));
    } finally {
      await terminal.kill();
    }
  });

  test("terminal via tmux: escape sequences and bidi controls from another member are shown escaped, not obeyed", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    const ownRoom = await startChatServer();
    const voldemort = await login(ownRoom.port, "Voldemort");
    sockets.push(voldemort);
    const terminal = await Terminal.start(CLIENT, ["--port", String(ownRoom.port), "--name", "Harry"], 80, 24);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      // ESC [ 2 J would clear the screen, ESC ] 0 ; ... BEL retitle the window, a bare CR
      // rewrite the row, and U+202E show the rest of the line right to left.
      voldemort.send("Imperio\x1b[2J\x1b]0;pwned\x07!\n");
      voldemort.send("x\rHarry: I am \u202Eevil\n");
      const screen = await terminal.waitFor("both messages", (s) => s.rows.some((row) => row.includes("202e")));
      assert.deepEqual(screen.rows.slice(1), [
        "Voldemort: Imperio\\u001b[2J\\u001b]0;pwned\\u0007!",
        "Voldemort: x\\u000dHarry: I am \\u202eevil",
        ">",
      ]);
      assert.match(screen.rows[0]!, JOINED("Harry")); // the screen was not cleared
    } finally {
      await terminal.kill();
      await ownRoom.stop();
    }
  });

  test("terminal via tmux: a pasted chunk that wraps leaves no empty row between incoming messages", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    const ownRoom = await startChatServer();
    const dumbledore = await login(ownRoom.port, "Dumbledore");
    sockets.push(dumbledore);
    const terminal = await Terminal.start(CLIENT, ["--port", String(ownRoom.port), "--name", "Hermione"], 100, 20);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      const pasted = "Wingardium Leviosa! ".repeat(8).slice(0, 150); // 152 columns with `> `
      await terminal.paste(pasted);
      await terminal.waitFor("the pasted line", (s) => s.rows.slice(-2).join("") === `> ${pasted}`);
      dumbledore.send("Ten points to Gryffindor\n");
      await terminal.waitFor("the first message", (s) => s.rows.includes("Dumbledore: Ten points to Gryffindor"));
      dumbledore.send("for the levitation charm\n");
      const screen = await terminal.waitFor("the second message", (s) => s.rows.includes("Dumbledore: for the levitation charm"));
      // The two messages on consecutive rows, right above the two rows of the pasted line.
      assert.deepEqual(screen.rows.slice(-4, -2), ["Dumbledore: Ten points to Gryffindor", "Dumbledore: for the levitation charm"]);
      assert.equal(screen.rows.slice(-2).join(""), `> ${pasted}`);
      assert.equal(screen.rows.filter((row) => row === "").length, 0, screen.rows.join("\n"));
      await terminal.enter();
      await dumbledore.waitFor(new RegExp(`^Hermione: ${escape(pasted)}$`));
    } finally {
      await terminal.kill();
      await ownRoom.stop();
    }
  });

  test("terminal via tmux: a pasted line that wraps can be edited (Home, then typing) and is redrawn whole", { skip: tmuxMissing ? "tmux not installed (Debian package: tmux)" : false }, async () => {
    const ownRoom = await startChatServer();
    const snape = await login(ownRoom.port, "Snape");
    sockets.push(snape);
    const terminal = await Terminal.start(CLIENT, ["--port", String(ownRoom.port), "--name", "Ron"], 100, 20);
    try {
      await terminal.waitFor("the prompt", (s) => s.rows.at(-1) === ">");
      const pasted = "y".repeat(150);
      await terminal.paste(pasted);
      await terminal.waitFor("the pasted line", (s) => s.rows.slice(-2).join("") === `> ${pasted}`);
      await terminal.press("Home");
      await terminal.type("AB");
      const screen = await terminal.waitFor("the edited line", (s) => s.rows.join("").includes("AB"));
      assert.equal(screen.rows.slice(-2).join(""), `> AB${pasted}`, screen.rows.join("\n"));
      assert.equal(screen.rows.filter((row) => row.startsWith("> ")).length, 1, screen.rows.join("\n"));
      await terminal.enter();
      await snape.waitFor(new RegExp(`^Ron: AB${pasted}$`));
    } finally {
      await terminal.kill();
      await ownRoom.stop();
    }
  });
});
