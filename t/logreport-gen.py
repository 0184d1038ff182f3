#!/usr/bin/python3
"""Synthetic logs of the sluice services, with known totals, for t/75-79 and t/bench/log-report.sh.

logreport-gen.py [options] OUTDIR
  --start UNIX     the first second (default 1767225600: 2026-01-01 00:00 UTC)
  --days N         days of logs (default 1)
  --msgs N         messages a day (default 1000)
  --seed N         random seed (default 1)
  --rotate BYTES   rotate each log at about this size into @TAI64N.s files (default: never)
  --multilog       stamps as daemontools writes them (TAI + 10, no leap seconds)
  --postfix FILE   also the same messages as a Postfix syslog, for pflogsumm
  --flat FILE      everything in one file instead of the service directories

It writes OUTDIR/smtpd, OUTDIR/submission, OUTDIR/pop3d and OUTDIR/queue as s6-log writes
them (current and rotated files) and prints the expected totals as JSON on stdout.
"""
import json, os, random, sys

LEAPS = 37   # TAI - UTC since 2017: s6-log's stamps (skalibs counts the leap seconds)


def stamp(t, multilog):
    sec = int(t)
    ns = int((t - sec) * 1e9)
    return "@%016x%08x " % ((1 << 62) + sec + (10 if multilog else LEAPS), ns)


class Log:
    """a log directory: lines with stamps, rotated past `rotate` bytes"""
    def __init__(self, path, rotate, multilog, flat=None):
        self.path, self.rotate, self.multilog, self.flat = path, rotate, multilog, flat
        self.size = 0
        self.buf = []
        self.last = 0
        if flat is None:
            os.makedirs(path, exist_ok=True)
            self.f = open(os.path.join(path, "current"), "w")
        else:
            self.f = flat

    def w(self, t, line):
        if t < self.last:
            t = self.last
        self.last = t
        self.lastw = t
        s = stamp(t, self.multilog) + line + "\n"
        if self.flat is not None:
            self.f.write(s)
            return
        self.buf.append(s)
        self.size += len(s)
        if len(self.buf) >= 4096:
            self.flush()
        if self.rotate and self.size >= self.rotate and self.flat is None:
            self.flush()
            self.f.close()
            name = stamp(t, self.multilog).strip() + ".s"
            os.rename(os.path.join(self.path, "current"), os.path.join(self.path, name))
            self.f = open(os.path.join(self.path, "current"), "w")
            self.size = 0

    def flush(self):
        self.f.write("".join(self.buf))
        self.buf = []

    def close(self):
        self.flush()
        if self.flat is None:
            self.f.close()


def main():
    a = sys.argv[1:]
    opt = {"--start": "1767225600", "--days": "1", "--msgs": "1000", "--seed": "1", "--rotate": "0"}
    flags = set()
    out = None
    while a:
        x = a.pop(0)
        if x in ("--multilog",):
            flags.add(x)
        elif x.startswith("--"):
            opt[x] = a.pop(0)
        else:
            out = x
    if out is None:
        sys.exit("usage: logreport-gen.py [options] OUTDIR")
    start, days, mpd = int(opt["--start"]), int(opt["--days"]), int(opt["--msgs"])
    rnd = random.Random(int(opt["--seed"]))
    multilog = "--multilog" in flags
    rotate = int(opt["--rotate"])
    flat = open(opt["--flat"], "w") if "--flat" in opt else None
    pf = open(opt["--postfix"], "w") if "--postfix" in opt else None
    logs = {n: Log(os.path.join(out, n), rotate, multilog, flat) for n in ("smtpd", "submission", "pop3d", "queue")}
    exp = {"connections": {}, "denied_rule": 0, "denied_limit": 0, "accepted": {}, "bytes": 0,
           "rejected": 0, "rbl": 0, "auth_fail": {}, "auth_ok": {}, "deliveries": [0, 0, 0],
           "domains": {}, "bounces": 0, "new": 0, "done": 0, "pop3_sessions": 0, "pop3_retr": 0,
           "foreign": 0, "senders": {}, "rcptdomains": {}, "lines": 0, "followed": 0}
    clients = ["192.0.2.%d" % i for i in range(1, 60)] + ["2001:db8::%x" % i for i in range(1, 20)]
    senders = ["user%d@sender%d.example" % (i, i % 7) for i in range(40)]
    domains = ["example.com", "example.net", "example.org", "mail.test", "big.example"]
    dno = 0
    pid = 1000
    qp = 5000
    inode = 100
    pending = []  # (time, kind, data): queue events after acceptance
    qlive = [0]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    import time as _t

    def syslog(t, prog, p, text):
        tm = _t.gmtime(int(t))
        pf.write("%s %2d %02d:%02d:%02d mx postfix/%s[%d]: %s\n" % (months[tm.tm_mon - 1], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, prog, p, text))

    def bump(d, k, n=1):
        d[k] = d.get(k, 0) + n

    def flush_queue(upto):
        nonlocal dno
        pending.sort(key=lambda e: e[0])
        while pending and pending[0][0] <= upto:
            t, kind, m = pending.pop(0)
            q = logs["queue"]
            if kind == "new":
                q.w(t, "new msg %s" % m["id"])
                qlive[0] += 1
                exp["queue_max"] = max(exp.get("queue_max", 0), qlive[0])
                q.w(t, "info msg %s: bytes %d from <%s> qp %d uid 4252" % (m["id"], m["bytes"] + 40, m["from"], m["qp"]))
                exp["new"] += 1
                for r in m["to"]:
                    dno += 1
                    d = r.split("@")[1]
                    ch = "local" if d == "example.com" else "remote"
                    q.w(t + 0.001, "starting delivery %d: msg %s to %s %s" % (dno, m["id"], ch, r))
                    q.w(t + 0.001, "status: local 1/10 remote 0/20 queued %d" % qlive[0])
                    pending.append((t + m["delay"], "result", (dno, m, r, ch)))
                m["left"] = len(m["to"])
            elif kind == "result":
                n, m, r, ch = m
                d = r.split("@")[1]
                dom = exp["domains"].setdefault(d, [0, 0, 0])
                if m["fate"] == "ok":
                    q.w(t, "delivery %d: success: %s" % (n, "did 1+0+0" if ch == "local" else "mx.%s[192.0.2.200] said: 250 2.0.0 ok" % d))
                    exp["deliveries"][0] += 1
                    dom[0] += 1
                elif m["fate"] == "defer":
                    q.w(t, "delivery %d: deferral: mx.%s[192.0.2.201] said: 451 4.3.0 try again later" % (n, d))
                    if pf is not None:
                        syslog(t, "smtp", 300, "%s: to=<%s>, relay=mx.%s[192.0.2.201]:25, delay=%.1f, dsn=4.3.0, status=deferred (host mx.%s[192.0.2.201] said: 451 4.3.0 try again later (in reply to RCPT TO command))" % (m["pfid"], r, d, m["delay"], d))
                    exp["deliveries"][1] += 1
                    dom[1] += 1
                    # then a success, 20 minutes later
                    m["fate"] = "ok"
                    m["delay"] += 1200
                    pending.append((t + 1200, "retry", (n, m, r, ch)))
                    continue
                else:
                    q.w(t, "delivery %d: failure: mx.%s[192.0.2.202] said: 550 5.1.1 no such user" % (n, d))
                    exp["deliveries"][2] += 1
                    dom[2] += 1
                if pf is not None:
                    syslog(t, "smtp", 300, "%s: to=<%s>, relay=mx.%s[192.0.2.200]:25, delay=%.1f, dsn=%s, status=%s (250 2.0.0 ok)" % (m["pfid"], r, d, m["delay"], "2.0.0" if m["fate"] == "ok" else "5.1.1", "sent" if m["fate"] == "ok" else "bounced"))
                m["left"] -= 1
                if m["left"] == 0:
                    if m["fate"] == "fail":
                        q.w(t, "bounce msg %s qp %d" % (m["id"], m["qp"] + 1))
                        exp["bounces"] += 1
                    q.w(t, "end msg %s" % m["id"])
                    qlive[0] -= 1
                    exp["done"] += 1
                    if pf is not None:
                        syslog(t, "qmgr", 200, "%s: removed" % m["pfid"])
            elif kind == "retry":
                n, m, r, ch = m
                dno += 1
                q.w(t, "starting delivery %d: msg %s to %s %s" % (dno, m["id"], ch, r))
                pending.append((t + 1, "result", (dno, m, r, ch)))

    for day in range(days):
        t0 = start + day * 86400
        times = sorted(t0 + rnd.random() * 86400 for _ in range(mpd))
        for t in times:
            flush_queue(t)
            svc = "submission" if rnd.random() < 0.2 else "smtpd"
            L = logs[svc]
            ip = rnd.choice(clients)
            pid += 1
            shown = "[%s]" % ip if ":" in ip else ip
            L.w(t, "tcpsrv: status: 1/40")
            L.w(t, "tcpsrv: pid %d from %s" % (pid, ip))
            x = rnd.random()
            if x < 0.03:
                L.w(t, "tcpsrv: deny %d :127.0.0.1:25 :%s::%d" % (pid, shown, 40000 + pid % 20000))
                exp["denied_rule"] += 1
                L.w(t, "tcpsrv: end %d status 25600" % pid)
                L.w(t, "tcpsrv: status: 0/40")
                continue
            if x < 0.04:
                L.w(t, "tcpsrv: deny %d :127.0.0.1:25 :%s::%d MAXCONNIP:6/5" % (pid, shown, 40000 + pid % 20000))
                exp["denied_limit"] += 1
                L.w(t, "tcpsrv: end %d status 25600" % pid)
                L.w(t, "tcpsrv: status: 0/40")
                continue
            L.w(t, "tcpsrv: ok %d :127.0.0.1:25 :%s::%d" % (pid, shown, 40000 + pid % 20000))
            bump(exp["connections"], svc)
            if pf is not None:
                syslog(t, "smtpd", pid, "connect from unknown[%s]" % ip)
            if svc == "smtpd" and x < 0.07:
                L.w(t + 0.01, "rblsmtpd: deny %s pid %d by bl.example: 451 Listed in bl.example" % (ip, pid))
                exp["rbl"] += 1
                if pf is not None:
                    syslog(t, "smtpd", pid, "NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 Service unavailable; Client host [%s] blocked using bl.example; from=<a@b.example> to=<c@example.com> proto=ESMTP helo=<client.example>" % (ip, ip))
            elif x < 0.12:
                L.w(t + 0.01, "reject ip=%s code=553 to=<x@elsewhere.example> reason=relaying denied: this domain is not in my list of rcpthosts" % ip)
                exp["rejected"] += 1
                if pf is not None:
                    syslog(t, "smtpd", pid, "NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 <x@elsewhere.example>: Relay access denied; from=<a@b.example> to=<x@elsewhere.example> proto=ESMTP helo=<client.example>" % ip)
            elif x < 0.15:
                L.w(t + 0.01, "auth failure ip=%s user=alice@example.com mech=PLAIN code=1" % ip)
                bump(exp["auth_fail"], svc)
                if pf is not None:
                    syslog(t, "smtpd", pid, "warning: unknown[%s]: SASL PLAIN authentication failed: authentication failure" % ip)
            else:
                if svc == "submission":
                    L.w(t + 0.01, "auth success ip=%s user=alice@example.com mech=PLAIN" % ip)
                    bump(exp["auth_ok"], svc)
                inode += 1
                qp += 2
                mid = "%d.%06d.%d" % (int(t), int((t % 1) * 1e6), inode)
                frm = rnd.choice(senders)
                to = sorted(set(rnd.choice(["alice", "bob", "carol"]) + "@" + rnd.choice(domains) for _ in range(rnd.choice([1, 1, 1, 2, 3]))))
                size = rnd.randint(500, 50000)
                L.w(t + 0.02, "accept ip=%s id=%s bytes=%d from=<%s> %s" % (ip, mid, size, frm, " ".join("to=<%s>" % r for r in to)))
                bump(exp["accepted"], svc)
                exp["bytes"] += size
                exp["followed"] += 1
                bump(exp["senders"], frm)
                for r in to:
                    bump(exp["rcptdomains"], r.split("@")[1])
                y = rnd.random()
                fate = "ok" if y < 0.9 else "defer" if y < 0.96 else "fail"
                m = {"id": mid, "from": frm, "to": to, "bytes": size, "qp": qp, "fate": fate,
                     "delay": 0.05 + rnd.random() * (2 if fate != "defer" else 1), "pfid": "%X" % (inode * 7919)}
                pending.append((L.lastw + 0.01, "new", m))
                if pf is not None:
                    syslog(t, "smtpd", pid, "%s: client=unknown[%s]" % (m["pfid"], ip))
                    syslog(t, "cleanup", 100, "%s: message-id=<%s@%s>" % (m["pfid"], mid, frm.split("@")[1]))
                    syslog(t, "qmgr", 200, "%s: from=<%s>, size=%d, nrcpt=%d (queue active)" % (m["pfid"], frm, size, len(to)))
            L.w(t + 0.05, "tcpsrv: end %d status 0" % pid)
            L.w(t + 0.05, "tcpsrv: status: 0/40")
            if pf is not None:
                syslog(t + 0.05, "smtpd", pid, "disconnect from unknown[%s]" % ip)
            # a POP3 session now and then
            if rnd.random() < 0.3:
                P = logs["pop3d"]
                pid += 1
                P.w(t, "tcpsrv: ok %d :127.0.0.1:110 :%s::%d" % (pid, shown, 30000 + pid % 20000))
                bump(exp["connections"], "pop3d")
                if rnd.random() < 0.1:
                    P.w(t + 0.01, "auth failure ip=%s user=bob@example.com mech=USER code=1" % ip)
                    bump(exp["auth_fail"], "pop3d")
                    P.w(t + 0.01, "auth-check: reject %s bob@example.com badpassword failures=1 delay=2000ms" % ip)
                else:
                    P.w(t + 0.01, "auth success ip=%s user=bob@example.com mech=USER" % ip)
                    bump(exp["auth_ok"], "pop3d")
                    P.w(t + 0.01, "auth-check: ok %s bob@example.com" % ip)
                    n = rnd.randint(0, 3)
                    P.w(t + 0.02, "quit ip=%s user=bob@example.com retr=%d top=0 dele=%d left=0 bytes=%d" % (ip, n, n, n * 1000))
                    exp["pop3_sessions"] += 1
                    exp["pop3_retr"] += n
                P.w(t + 0.03, "tcpsrv: end %d status 0" % pid)
            if rnd.random() < 0.01:
                L.w(t, "something a foreign program wrote")
                exp["foreign"] += 1
    flush_queue(float("inf"))
    for l in logs.values():
        l.close()
    if flat:
        flat.close()
    if pf:
        pf.close()
    json.dump(exp, sys.stdout, sort_keys=True)
    print()


main()
