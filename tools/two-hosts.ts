// tools/two-hosts.ts — `sudo npm run two-hosts`: Q2's "client and server on different
// computers", on one Linux machine.
//
// A network namespace is a private copy of the kernel's network stack: its own interfaces,
// addresses, routes and ports. Two namespaces joined by a veth pair (a virtual cable with one
// end in each) behave like two computers on one Ethernet link. The "server computer" gets
// 192.0.2.1 and the "client computer" 192.0.2.2, from 192.0.2.0/24, a range reserved for
// documentation (RFC 5737) that exists only inside this machine and reaches nothing outside.
//
// The UDP template pair, the TCP template pair and Q3 each run their server in one namespace
// (bound to 0.0.0.0 or to 192.0.2.1) and their client in the other with `--host 192.0.2.1`,
// and both sides' output is printed. While the template pairs run, tshark (when installed)
// listens on the server's end of the cable, as Wireshark would on a real network card. Last,
// the classic mistake: a server left on its default 127.0.0.1 cannot be reached from the
// other computer.
// The namespaces are removed afterwards, whatever happens (Ctrl-C included). The transcript
// is saved as .cache/captures/two-hosts.txt (git-ignored). The committed copy that answers.md
// quotes, docs/captures/two-hosts.txt, is regenerated on purpose only, with
// `--out docs/captures`; it is never edited by hand.
//
//   $ sudo npm run two-hosts      # creating namespaces needs root; needs iproute2 (`ip`)
//   $ sudo npm run two-hosts -- --out docs/captures      # regenerate the committed evidence

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { DEFAULT_OUT, readOptions, Script } from "./capture.ts";

const usage = `Usage: sudo npm run two-hosts [-- --out DIR]
  Runs each client/server pair across two network namespaces ("computers") 192.0.2.1 and
  192.0.2.2 joined by a virtual cable, prints both sides, then removes the namespaces.
  --out DIR   where to save two-hosts.txt (default .cache/captures, git-ignored;
              --out docs/captures regenerates the committed evidence)
  --help      show this help`;

const values = readOptions({ out: { type: "string", default: DEFAULT_OUT } });
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const outDir = path.resolve(values.out!);

// Namespaces need root (CAP_SYS_ADMIN); say so instead of failing halfway.
if (process.getuid?.() !== 0) {
  console.error("two-hosts: creating network namespaces needs root: run `sudo npm run two-hosts` (Linux only).");
  process.exit(1);
}
const probe = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 });
if (probe.error || probe.status !== 0) {
  console.error(`two-hosts: \`ip netns\` is not available (${probe.error?.message ?? probe.stderr.trim()}); install iproute2: sudo apt-get install iproute2`);
  process.exit(1);
}

// Names include our process id, so that two runs at once never collide. An interface name
// may have at most 15 characters.
const SERVER_NS = `lab3-server-${process.pid}`;
const CLIENT_NS = `lab3-client-${process.pid}`;
const SERVER_IP = "192.0.2.1";
const CLIENT_IP = "192.0.2.2";
const serverLink = `l3s${process.pid}`;
const clientLink = `l3c${process.pid}`;

/** Everything printed, saved at the end as two-hosts.txt. */
const transcript: string[] = [];
const say = (line = "") => {
  transcript.push(line);
  console.log(line);
};

/** Runs one `ip` command, shows it, and throws if it fails. */
function ip(...args: string[]): string {
  const result = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  say(`  # ip ${args.join(" ")}`);
  if (result.error || result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.error?.message ?? result.stderr.trim()}`);
  return result.stdout;
}

const scripts: Script[] = [];
/** Temporary directories to remove at the end (the cable capture's). */
const scratch: string[] = [];
let cleanedUp = false;
/** Stops every program still running and deletes both namespaces (the veth pair goes with them). */
function cleanUp() {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const script of scripts) script.child.kill("SIGKILL");
  for (const ns of [SERVER_NS, CLIENT_NS]) spawnSync("ip", ["netns", "delete", ns], { timeout: 10_000, stdio: "ignore" });
  // A veth pair that never made it into a namespace (a failure halfway) is still in ours.
  spawnSync("ip", ["link", "delete", serverLink], { timeout: 10_000, stdio: "ignore" });
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
}
// Ctrl-C or a kill must not leave namespaces behind.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    cleanUp();
    console.error(`two-hosts: stopped by ${signal}; the namespaces were removed`);
    process.exit(130);
  });
}
process.on("exit", cleanUp);

/** Starts a lab script inside a namespace; each line it prints is shown at once, labelled. */
function runIn(ns: string, label: string, file: string, args: string[]): Script {
  const script = new Script(label, file, args, { push: (line: string) => say(`  ${line}`) }, undefined, ["ip", "netns", "exec", ns]);
  scripts.push(script);
  return script;
}

/** A tshark capture running in the server namespace, and the file it writes. */
interface WireCapture {
  tshark: Script;
  pcap: string;
}

/** Starts tshark on the server's end of the cable (ARP and the template ports only), if it is installed. */
async function startWireCapture(): Promise<WireCapture | undefined> {
  if (spawnSync("tshark", ["--version"], { timeout: 15_000 }).status !== 0) {
    say();
    say("(tshark is not installed, so the packets on the cable are not shown: sudo apt-get install tshark)");
    return undefined;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "lab3-two-hosts-"));
  scratch.push(dir);
  const pcap = path.join(dir, "cable.pcapng");
  const argv = ["ip", "netns", "exec", SERVER_NS, "tshark", "-i", serverLink, "-f", "arp or udp port 43387 or tcp port 43389", "-c", "200", "-a", "duration:90", "-w", pcap];
  const tshark = new Script("tshark", "", [], [], argv);
  scripts.push(tshark);
  await tshark.waitFor(/Capturing on/);
  return { tshark, pcap };
}

/** Stops the capture and prints tshark's packet list: the same lines as Wireshark's top pane. */
async function showWireCapture({ tshark, pcap }: WireCapture) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await tshark.finish("SIGINT");
  const list = spawnSync("tshark", ["-r", pcap], { encoding: "utf8", timeout: 30_000 });
  say();
  say(`== What the server computer's network card saw (tshark -i ${serverLink} -f "arp or udp port 43387 or tcp port 43389") ==`);
  for (const line of list.stdout.trimEnd().split("\n")) say(`  ${line.trim().replace(/ +/g, " ")}`);
}

let failed = false;
function expect(what: string, ok: boolean) {
  if (!ok) {
    failed = true;
    say(`  !! unexpected: ${what}`);
  }
}

try {
  say("# Q2: client and server on two different computers, simulated with two Linux network namespaces");
  say("# Generated by `sudo npm run two-hosts` (tools/two-hosts.ts). Regenerate, do not edit.");
  say();
  say(`Setting up two "computers" joined by a virtual cable (run as root):`);
  ip("netns", "add", SERVER_NS);
  ip("netns", "add", CLIENT_NS);
  ip("link", "add", serverLink, "type", "veth", "peer", "name", clientLink);
  ip("link", "set", serverLink, "netns", SERVER_NS);
  ip("link", "set", clientLink, "netns", CLIENT_NS);
  ip("-n", SERVER_NS, "address", "add", `${SERVER_IP}/24`, "dev", serverLink);
  ip("-n", CLIENT_NS, "address", "add", `${CLIENT_IP}/24`, "dev", clientLink);
  for (const [ns, link] of [[SERVER_NS, serverLink], [CLIENT_NS, clientLink]] as const) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", link, "up");
  }
  say();
  say("Each computer's addresses (what `ip addr` or `ipconfig` shows on a real one):");
  for (const ns of [SERVER_NS, CLIENT_NS]) {
    for (const line of ip("-n", ns, "-brief", "address", "show").trim().split("\n")) say(`    ${line.trim().replace(/\s+/g, " ")}`);
  }

  // What the server computer's network card sees during the two template pairs, as Wireshark
  // would show it there: tshark runs inside the server namespace on its end of the cable.
  // Optional: without tshark the run goes on without it.
  const wire = await startWireCapture();

  // Q1/Q2: the UDP template pair; the server accepts datagrams on every address (0.0.0.0).
  say();
  say(`== UDP template pair: server on ${SERVER_IP} (bound to 0.0.0.0), client on ${CLIENT_IP} ==`);
  {
    const server = runIn(SERVER_NS, "server", "UDP_Server.ts", ["--host", "0.0.0.0"]);
    await server.waitFor(/:\d+/);
    const client = runIn(CLIENT_NS, "client", "UDP_Client.ts", ["--host", SERVER_IP]);
    expect("the UDP client should exit 0", (await client.finish()) === 0);
    expect("the UDP server should exit 0", (await server.finish()) === 0);
  }

  // Q4 over two computers: the TCP template pair; the server binds its own address only.
  say();
  say(`== TCP template pair: server bound to ${SERVER_IP}, client on ${CLIENT_IP} ==`);
  {
    const server = runIn(SERVER_NS, "server", "TCP_Server.ts", ["--host", SERVER_IP]);
    await server.waitFor(/:\d+/);
    const client = runIn(CLIENT_NS, "client", "TCP_Client.ts", ["--host", SERVER_IP]);
    expect("the TCP client should exit 0", (await client.finish()) === 0);
    expect("the TCP server should exit 0", (await server.finish()) === 0);
  }

  if (wire) await showWireCapture(wire);

  // Q3 over two computers: three requests, a fraction of a second apart to keep it short.
  say();
  say(`== Q3 date/time service: server on ${SERVER_IP} (bound to 0.0.0.0), client on ${CLIENT_IP} ==`);
  {
    const server = runIn(SERVER_NS, "server", "q3/UDP_Server.ts", ["--host", "0.0.0.0"]);
    await server.waitFor(/:\d+/);
    const client = runIn(CLIENT_NS, "client", "q3/UDP_Client.ts", ["--host", SERVER_IP, "--count", "3", "--min-delay", "0.2", "--max-delay", "0.4"]);
    expect("the Q3 client should exit 0", (await client.finish()) === 0);
    expect("the Q3 server should exit 0 when stopped", (await server.finish("SIGTERM")) === 0);
  }

  // The mistake students make first: the server still on its default 127.0.0.1, an address
  // that exists on every computer but is reachable only from that same computer.
  say();
  say(`== The common mistake: server left on 127.0.0.1, client on ${CLIENT_IP} tries ${SERVER_IP} ==`);
  {
    const server = runIn(SERVER_NS, "server", "TCP_Server.ts", []);
    await server.waitFor(/:\d+/);
    const client = runIn(CLIENT_NS, "client", "TCP_Client.ts", ["--host", SERVER_IP]);
    expect("the client should fail to connect (exit 1)", (await client.finish()) === 1);
    await server.finish("SIGTERM");
  }
} catch (error) {
  failed = true;
  say(`two-hosts: ${(error as Error).message}`);
} finally {
  cleanUp();
  say();
  say(`Removed the namespaces ${SERVER_NS} and ${CLIENT_NS} (and the virtual cable with them).`);
}

mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, "two-hosts.txt"), `${transcript.join("\n")}\n`);
console.log(`two-hosts: saved ${path.relative(process.cwd(), path.join(outDir, "two-hosts.txt"))}`);
process.exitCode = failed ? 1 : 0;
