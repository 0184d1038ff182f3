# t/resident-env.py: a resident worker (tcpsrv's protocol, doc/tcpsrv.1) written apart from
# tools/lib/resident.c, for t/67: run as "python3 t/resident-env.py" behind tls-wrap under
# tcpsrv -w. For each connection it writes what it was given: the TLS and client variables,
# the descriptors that came after the socket, its pid; with SSLCTLFD it first says "ready"
# in clear, asks tls-wrap for the handshake ('Y' on SSLCTLFD) and writes the rest over
# SSLWRITEFD. Then it says "done 7".
import os, socket, sys

sock = socket.socket(fileno=int(os.environ.pop("RESIDENTFD")))
base = dict(os.environ)
sock.send(b"hello 1")
while True:
    msg, fds, flags, addr = socket.recv_fds(sock, 65537, 8)
    if not msg:
        sys.exit(0)
    if msg[:1] != b"C" or not fds:
        sys.exit(20)
    env = dict(base)
    for m in msg[1:].split(b"\0")[:-1]:
        name, eq, value = m.decode().partition("=")
        if eq:
            env[name] = value
        else:
            env.pop(name, None)
    conn, extra = fds[0], fds[1:]
    out = conn
    if "SSLCTLFD" in env:
        # tls-wrap says SSLCTLFD=3 SSLREADFD=SSLWRITEFD=4 and the descriptors come in order
        ctl, data = extra[0], extra[1]
        os.write(conn, b"ready\n")
        os.write(ctl, b"Y")
        facts = b""
        while not facts.endswith(b"\0\0"):
            b = os.read(ctl, 4096)
            if not b:
                break
            facts += b
        for f in facts.split(b"\0"):
            if f:
                name, _, value = f.decode().partition("=")
                env[name] = value
        out = data
    lines = ["%s=%s" % (k, env[k]) for k in sorted(env) if k.startswith("SSL") or k in ("TCPREMOTEPORT", "RULEVAR")]
    lines.append("extra=%d" % len(extra))
    lines.append("pid=%d" % os.getpid())
    os.write(out, ("\n".join(lines) + "\n").encode())
    for fd in fds:
        os.close(fd)
    sock.send(b"done 7")
