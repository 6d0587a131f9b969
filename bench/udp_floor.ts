// bench/udp_floor.ts — the floor under any Q3 server on Node: node:dgram answering each
// datagram with a fixed date or time, and nothing else (no clock, no log, no checks). What it
// costs per request is what node:dgram and the kernel cost; no lab server can go below it.
//   npm run bench:q3 -- --node-files q3/UDP_Server.ts,bench/udp_floor.ts

import dgram from "node:dgram";
import { once } from "node:events";
import process from "node:process";

const port = Number(process.argv[process.argv.indexOf("--port") + 1] || 0);
const socket = dgram.createSocket("udp4");
socket.bind(port, "127.0.0.1");
await once(socket, "listening");
console.log(`listening on 127.0.0.1:${socket.address().port}`);
socket.on("message", (datagram, sender) => {
  socket.send(datagram.toString() === "SEND_DATE" ? "2026-12-01" : "10:00:00", sender.port, sender.address);
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(0));
