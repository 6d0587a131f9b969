"""python_threaded_server.py - the lab's suggested chat server design, as the benchmark's anchor.

One thread per client, one lock around the member list; a broadcast takes the lock and
calls sendall() on every member's socket in turn. It speaks the Q8 wire format of
CONTRACT.md closely enough for bench/chat.ts (login, join/leave announcements, chat lines,
quit); it is a yardstick, not a hand-in.

    $ python3 bench/python_threaded_server.py --port 0
    Server started on 127.0.0.1:40123 (threaded Python anchor)
    $ npm run bench:chat -- --server node,python
"""

import argparse
import socket
import sys
import threading
import time

parser = argparse.ArgumentParser(description="Threaded Python chat server (benchmark anchor)")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=43392)
args = parser.parse_args()

members = {}  # lower-case name -> (name, socket)
members_lock = threading.Lock()


def now():
    return time.strftime("%H:%M:%S")


def broadcast(data, skip=None):
    """Sends bytes to every member but `skip`, under the lock (so every receiver gets one sender's lines in order)."""
    with members_lock:
        for _, conn in members.values():
            if conn is not skip:
                try:
                    conn.sendall(data)
                except OSError:
                    pass  # that member's own thread notices the broken connection


def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    name = None
    try:
        for raw in reader:
            line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace")
            if name is None:
                if not line or len(line) > 32 or any(c.isspace() for c in line) or line.lower() == "server":
                    conn.sendall(b"ERROR invalid name\n")
                    continue
                with members_lock:
                    if line.lower() in members:
                        conn.sendall(b"ERROR name already in use\n")
                        continue
                    members[line.lower()] = (line, conn)
                    count = len(members)
                name = line
                text = f"Server: time={now()} {name} has joined. Member count={count}"
                print(text, flush=True)
                broadcast((text + "\n").encode())
            elif line == "quit":
                break
            elif line:
                print(f"{name}: {line}", flush=True)
                broadcast(f"{name}: {line}\n".encode(), skip=conn)
    except OSError:
        pass
    finally:
        if name is not None:
            with members_lock:
                members.pop(name.lower(), None)
                count = len(members)
            text = f"Server: time={now()} {name} has left. Member count={count}"
            print(text, flush=True)
            broadcast((text + "\n").encode())
        conn.close()


welcome = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
welcome.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
welcome.bind((args.host, args.port))
welcome.listen(128)
host, port = welcome.getsockname()[:2]
print(f"Server started on {host}:{port} (threaded Python anchor)", flush=True)
try:
    while True:
        conn, _ = welcome.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
except KeyboardInterrupt:
    pass
sys.exit(0)
