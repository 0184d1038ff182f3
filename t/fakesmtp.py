#!/usr/bin/env python3
"""fakesmtp.py [KEY=VALUE...] [addr=ADDR KEY=VALUE...]...: SMTP servers on loopback that
misbehave on demand, for the remote-deliver tests (t/6[5-8]-*.t). Each addr= starts another
listener, configured by the keys that follow it (keys before the first addr= are every
listener's defaults). Writes the port of the first listener on stdout once all listen, then
serves connections until killed.

Keys (a reply is its lines joined with "|"; "hang" never answers, "drop" closes at once):
  addr=127.0.0.1   port=0 (0: the kernel picks)
  greet="220 fake.example ESMTP"
  ehlo="250-fake.example|250-PIPELINING|250-8BITMIME|250 SIZE"
  helo="250 fake.example"
  mail="250 2.1.0 ok"
  rcpt="250 2.1.5 ok"      rcpt:ADDR=reply for that one address
  data="354 go ahead"
  datadrop=N               close the connection once N bytes of the message have come
  end="250 2.0.0 queued"   the reply to the end of the data
  quit="221 2.0.0 bye"
  rset="250 2.0.0 ok"      the reply to RSET (and NOOP)
  msgs=N                   close the connection after the reply to its N-th message (0: never)
  delay.VERB=SECONDS       wait that long before the reply to VERB (mail, rcpt, data, end,
                           rset, quit)
  starttls=REPLY           the reply to STARTTLS (default 502); after a 220 the connection is
                           closed: the handshake fails
  log=FILE                 one line per event:
                             conn                   a connection was accepted
                             open N                 ... N connections are open now
                             closed                 a connection ended
                             cmd LINE               a command line, as received
                             recv VERB VERB...      the verbs of the commands one read got
                             data N                 N bytes of data (up to its final dot)
                           and each message as received (CR LF, stuffing dots, final dot)
                           in FILE.N (N = 1, 2, ...)
"""
import socket, sys, threading, time

defaults = {"addr": "127.0.0.1", "port": "0", "greet": "220 fake.example ESMTP",
            "ehlo": "250-fake.example|250-PIPELINING|250-8BITMIME|250 SIZE",
            "helo": "250 fake.example", "mail": "250 2.1.0 ok", "rcpt": "250 2.1.5 ok",
            "data": "354 go ahead", "datadrop": "0", "end": "250 2.0.0 queued",
            "quit": "221 2.0.0 bye", "rset": "250 2.0.0 ok", "msgs": "0", "log": ""}
confs = []
for a in sys.argv[1:]:
    k, v = a.split("=", 1)
    if k == "addr":
        confs.append(dict(defaults))
    (confs[-1] if confs else defaults)[k] = v
if not confs:
    confs.append(dict(defaults))

lock = threading.Lock()


def log(conf, line):
    if conf["log"]:
        with lock, open(conf["log"], "a") as f:
            f.write(line + "\n")


class Drop(Exception):
    pass


def reply(c, r, conf=None, verb=None):
    """send reply r (after the delay set for verb); raises Drop to end the session"""
    if conf is not None and conf.get("delay." + verb):
        time.sleep(float(conf["delay." + verb]))
    if r == "drop":
        raise Drop()
    if r == "hang":
        while c.recv(4096):
            pass
        raise Drop()
    c.sendall(("\r\n".join(r.split("|")) + "\r\n").encode("latin-1"))


def session(conf, c):
    buf = b""
    with lock:
        conf["open"] = conf.get("open", 0) + 1
        n = conf["open"]
    try:
        log(conf, "conn")
        log(conf, "open %d" % n)
        reply(c, conf["greet"])
        msgs = 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return
            buf += chunk
            verbs = []
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r").decode("latin-1")
                log(conf, "cmd " + line)
                verb = line.split(" ")[0].split(":")[0].upper()
                verbs.append(verb)
                if verb == "EHLO":
                    reply(c, conf["ehlo"])
                elif verb == "HELO":
                    reply(c, conf["helo"])
                elif verb == "MAIL":
                    reply(c, conf["mail"], conf, "mail")
                elif verb == "RCPT":
                    addr = line[line.find("<") + 1:line.rfind(">")]
                    reply(c, conf.get("rcpt:" + addr, conf["rcpt"]), conf, "rcpt")
                elif verb == "DATA":
                    r = conf["data"]
                    reply(c, r, conf, "data")
                    if r.startswith("354"):
                        log(conf, "recv " + " ".join(verbs))
                        verbs = []
                        buf = data(conf, c, buf)
                        msgs += 1
                        if msgs == int(conf["msgs"]):
                            raise Drop()
                elif verb == "QUIT":
                    log(conf, "recv " + " ".join(verbs))
                    reply(c, conf["quit"], conf, "quit")
                    return
                elif verb == "STARTTLS" and conf.get("starttls"):
                    reply(c, conf["starttls"])
                    if conf["starttls"].startswith("220"):
                        log(conf, "recv " + " ".join(verbs))
                        raise Drop()
                elif verb == "RSET" or verb == "NOOP":
                    reply(c, conf["rset"], conf, "rset")
                else:
                    reply(c, "502 5.5.1 unknown command")
            if verbs:
                log(conf, "recv " + " ".join(verbs))
    except (Drop, ConnectionError, OSError):
        pass
    finally:
        c.close()
        with lock:
            conf["open"] -= 1
        log(conf, "closed")


def data(conf, c, buf):
    """read the message up to its final dot, store it, answer; return what follows"""
    drop = int(conf["datadrop"])
    while True:
        if buf.startswith(b".\r\n"):
            end = 3
            break
        i = buf.find(b"\r\n.\r\n")
        if i >= 0:
            end = i + 5
            break
        if drop and len(buf) >= drop:
            log(conf, "data dropped after %d" % len(buf))
            raise Drop()
        chunk = c.recv(65536)
        if not chunk:
            raise Drop()
        buf += chunk
    msg, rest = buf[:end], buf[end:]
    log(conf, "data %d" % len(msg))
    if conf["log"]:
        with lock:
            conf["n"] = conf.get("n", 0) + 1
            with open("%s.%d" % (conf["log"], conf["n"]), "wb") as f:
                f.write(msg)
    reply(c, conf["end"], conf, "end")
    return rest


def serve(conf, s):
    while True:
        conn, _ = s.accept()
        threading.Thread(target=session, args=(conf, conn), daemon=True).start()


socks = []
for conf in confs:
    family = socket.AF_INET6 if ":" in conf["addr"] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((conf["addr"], int(conf["port"])))
    s.listen(16)
    socks.append(s)
print(socks[0].getsockname()[1], flush=True)
for conf, s in zip(confs[1:], socks[1:]):
    threading.Thread(target=serve, args=(conf, s), daemon=True).start()
serve(confs[0], socks[0])
