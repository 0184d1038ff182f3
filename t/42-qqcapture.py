#!/usr/bin/env python3
# A stand-in for queue-inject (not written yet), used as $QMAILQUEUE by t/42 and t/43: a
# qmail-queue program that reads the message on fd 0 and the envelope on fd 1, checks the
# envelope byte by byte (F sender NUL, then one or more T recipient NUL, a final NUL, nothing
# after; no NUL inside an address, no empty recipient), keeps both in $QQ_DIR/N.msg and N.env
# (N = 1, 2, ...), and exits $QQ_EXIT (default 0), or 91 when the envelope is malformed.
import os, sys

def readall(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)

def envelope_ok(env):
    if env[:1] != b"F":
        return False
    i = env.find(b"\0")
    if i < 0:
        return False
    rest = env[i + 1:]
    n = 0
    while rest[:1] == b"T":
        j = rest.find(b"\0")
        if j <= 1:
            return False
        rest = rest[j + 1:]
        n += 1
    return n > 0 and rest == b"\0"

msg = readall(0)
env = readall(1)
d = os.environ["QQ_DIR"]
n = 1
while True:
    try:
        fd = os.open(os.path.join(d, "%d.env" % n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        break
    except FileExistsError:
        n += 1
os.write(fd, env)
os.close(fd)
with open(os.path.join(d, "%d.msg" % n), "wb") as f:
    f.write(msg)
if not envelope_ok(env):
    sys.exit(91)
sys.exit(int(os.environ.get("QQ_EXIT", "0")))
