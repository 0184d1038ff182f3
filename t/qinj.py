#!/usr/bin/env python3
"""qinj.py SOCKET MODE [NAME=value...]: a client of the queue-injectd protocol (queue-injectd(8))
for the filter tests. Sends the message of $T/m for $QFROM (default joe@example.com)
-> bob@example.org, with the variables given (flag e) when there are any, and with the flag l
and $QORIGIN ("UID PID": whose local injection this is) when that is set.
MODE: whole; drop (closes mid-message); hold (stops mid-message until the file $T/go exists,
then sends the rest and commits). Prints the answer (empty when the connection closed
without one)."""
import os, socket, sys, time

def ns(b):
    return b"%d:" % len(b) + b + b","

path, mode, vs = sys.argv[1], sys.argv[2], sys.argv[3:]
msg = open(os.path.join(os.environ["T"], "m"), "rb").read()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
origin = os.environ.get("QORIGIN", "")
out = ns(b"1" + (b"e" if vs else b"") + (b"l" if origin else b""))
if vs:
    out += ns(b"".join(v.encode() + b"\0" for v in vs))
if origin:
    out += ns(origin.encode())
out += ns(b"F" + os.environ.get("QFROM", "joe@example.com").encode() + b"\0Tbob@example.org\0\0")
half = len(msg) // 2
s.sendall(out + ns(msg[:half]))
if mode == "drop":
    s.close()
    sys.exit(0)
if mode == "hold":
    go = os.path.join(os.environ["T"], "go")
    while not os.path.exists(go):
        time.sleep(0.05)
try:
    s.sendall(ns(msg[half:]) + b"0:,")
except OSError:
    pass
ans = b""
try:
    while True:
        r = s.recv(4096)
        if not r:
            break
        ans += r
except OSError:
    pass
print(ans.decode(errors="replace"))
