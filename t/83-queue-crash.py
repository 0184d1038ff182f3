#!/usr/bin/python3
# The flow and the kills of t/83-queue-crash.t (read its header first). Environment: B (the
# binaries), S (the instance root), PORT (tcpsrv + smtpd), INJPID (queue-injectd), LOG (queue-run's
# log, appended), OUT (the results, "key value" lines), CHAOS (a log of every kill), SEED, and
# KILLS_INJECT, KILLS_WORKER, KILLS_RUN, KILLS_HELPER, KILLS_LOCAL (how many of each).
#
# It starts queue-spawn + queue-run itself (and again after each crash) as a child subreaper,
# so that the helpers and workers orphaned by a kill become its children: it knows when they
# end, and none is left behind. Processes are signalled through pidfds only (no pid reuse
# race), and only processes this test started or their descendants.
#
# Meanwhile three SMTP clients (smtplib -> tcpsrv -> smtpd -> queue-injectd) and one
# queue-inject loop (as root: written directly; as uid 4244: through queue-injectd) keep
# messages coming, each with a unique X-Tag and a body made from it. At the end: queue-run is
# running, it gets SIGALRM every second (deferrals of killed workers are retried now) until
# every message the flow was told was accepted is in its Maildir; then the queue must be
# empty, and queue-run must stop on SIGTERM with its helper and workers.
import ctypes, os, random, re, select, signal, smtplib, threading, time

B, S = os.environ["B"], os.environ["S"]
Q = S + "/queue"
PORT = int(os.environ["PORT"])
INJPID = int(os.environ["INJPID"])
SEED = int(os.environ["SEED"])
NK = {k: int(os.environ["KILLS_" + k.upper()]) for k in ("inject", "worker", "run", "helper", "local")}
USERS = ["u1@example.com", "u2@example.com", "u3@example.com", "u4@example.com"]
SENDER = "sender@example.com"
NOBODY = "nosuch@example.com"   # no such user: the message bounces for this recipient
ME = os.getpid()

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:   # PR_SET_CHILD_SUBREAPER
    raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed")

lock = threading.Lock()
chaoslog = open(os.environ["CHAOS"], "w", buffering=1)
T0 = time.monotonic()

def note(s):
    with lock:
        chaoslog.write("%7.3f %s\n" % (time.monotonic() - T0, s))

res = {}
def count(key, n=1):
    with lock:
        res[key] = res.get(key, 0) + n

# ---- processes --------------------------------------------------------------------------------

tracked = set()   # our children that a Proc waits for: the janitor leaves them alone
env = dict(os.environ)

class Proc:
    """a child started with posix_spawn, waited for and signalled through a pidfd"""
    def __init__(self, argv, fds):
        with lock:
            self.pid = os.posix_spawn(argv[0], argv, env, file_actions=[(os.POSIX_SPAWN_DUP2, f, t) for f, t in fds],
                                      setsigdef=(signal.SIGPIPE,))
            tracked.add(self.pid)
        self.fd = os.pidfd_open(self.pid)
        self.status = None
        self.started = time.monotonic()
    def ended(self, timeout=0):
        if self.status is not None:
            return True
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        if not p.poll(None if timeout is None else int(timeout * 1000)):
            return False
        _, st = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(st)   # -9: killed by SIGKILL
        os.close(self.fd)
        with lock:
            tracked.discard(self.pid)
        return True
    def kill(self, sig=signal.SIGKILL):
        if self.status is None:
            try:
                signal.pidfd_send_signal(self.fd, sig)
            except ProcessLookupError:
                pass

def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""

def children(pid, name=None):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return [p for p in out if name is None or comm(p) == name]

def descendants(pid):
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out

def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

class Other:
    """a descendant we did not spawn (a worker, a helper): a pidfd, opened while it is known
    to be the process we mean (its parent and name checked after opening)"""
    def __init__(self, pid, parent, name):
        self.pid = pid
        self.fd = os.pidfd_open(pid)
        if comm(pid) != name or pid not in children(parent):
            os.close(self.fd)
            raise ProcessLookupError(pid)
    def kill(self, sig=signal.SIGKILL):
        try:
            signal.pidfd_send_signal(self.fd, sig)
        except ProcessLookupError:
            pass
    def ended(self, timeout=0):
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        return bool(p.poll(int(timeout * 1000))) or state(self.pid) in ("Z", "gone")
    def close(self):
        os.close(self.fd)

def janitor():
    """reap the orphans given to us (helpers, workers) once they have ended; under the lock,
    so that a Proc just spawned is already in tracked"""
    with lock:
        for p in children(ME):
            if p not in tracked and state(p) == "Z":
                try:
                    os.waitpid(p, os.WNOHANG)
                except ChildProcessError:
                    pass

logfd = os.open(os.environ["LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
nullfd = os.open("/dev/null", os.O_RDWR)

def start_run():
    p = Proc([B + "/queue-spawn", B + "/queue-run"], [(nullfd, 0), (nullfd, 1), (logfd, 2)])
    note("queue-run started: pid %d" % p.pid)
    return p

# ---- messages ---------------------------------------------------------------------------------

def body(tag, n):
    lines = [".%s starts with a dot" % tag] + ["%s %05d %s" % (tag, i, "abcdefghij" * 6) for i in range(1, n)]
    return ("\n".join(lines) + "\n").encode()

def message(tag, rcpts, n):
    head = "From: %s\nTo: %s\nSubject: crash test %s\nX-Tag: %s\nX-Lines: %d\n\n" % (SENDER, ", ".join(rcpts), tag, tag, n)
    return head.encode() + body(tag, n)

def recipients(rnd):
    """one user, or two or three (the state of each recipient kept apart)"""
    return rnd.sample(USERS, 1 if rnd.random() < 0.7 else rnd.randint(2, 3))

sent = {}   # tag -> [rcpts, how, outcome]
def record(tag, rcpts, how, outcome):
    with lock:
        sent[tag] = [rcpts, how, outcome]

stop = threading.Event()      # the flow stops (queue-inject's kills are done first)
aborted = threading.Event()   # the test was interrupted: at once

def smtp_flow(k):
    rnd = random.Random(SEED * 10 + k)
    i = 0
    while not stop.is_set():
        i += 1
        tag = "s%d.%d" % (k, i)
        rcpt = recipients(rnd)
        n = 1500 if rnd.random() < 0.15 else rnd.randint(5, 30)
        c = None
        try:
            c = smtplib.SMTP("127.0.0.1", PORT, timeout=30)
            c.sendmail(SENDER, rcpt, message(tag, rcpt, n).replace(b"\n", b"\r\n"))
            record(tag, rcpt, "smtp", "accepted")
            count("smtp_accepted")
            c.quit()
        except smtplib.SMTPResponseException as e:
            if tag not in sent:
                record(tag, rcpt, "smtp", "refused %d" % e.smtp_code)
                count("smtp_refused_%d" % e.smtp_code)
        except (OSError, smtplib.SMTPException) as e:
            if tag not in sent:
                record(tag, rcpt, "smtp", "error %s" % type(e).__name__)
                count("smtp_errors")
        finally:
            if c is not None:
                c.close()

inject_durations = []
def inject_once(rnd, tag, kill):
    """one queue-inject run; kill it (SIGKILL) at a random moment of its life when kill is set"""
    rcpt = recipients(rnd) + ([NOBODY] if rnd.random() < 0.08 else [])
    n = 4000 if rnd.random() < 0.1 else rnd.randint(5, 30)   # 4000 lines: past 256 KB, spilled
    data = message(tag, rcpt, n)
    asuser = rnd.random() < 0.25   # through queue-injectd
    argv = ["/usr/bin/setpriv", "--reuid=4244", "--regid=4244", "--clear-groups", B + "/queue-inject"] if asuser else [B + "/queue-inject"]
    er, ew = os.pipe()
    os.write(ew, ("F%s\0%s\0" % (SENDER, "".join("T%s\0" % r for r in rcpt))).encode())
    os.close(ew)
    mr, mw = os.pipe()
    p = Proc(argv, [(mr, 0), (er, 1), (nullfd, 2)])
    os.close(mr)
    os.close(er)
    os.set_blocking(mw, False)
    typical = sorted(inject_durations[-21:])[len(inject_durations[-21:]) // 2] if inject_durations else 0.02
    delay = rnd.uniform(0, typical * 1.3)
    deadline = p.started + delay if kill else None
    off = 0
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            p.kill()
            break
        po = select.poll()
        po.register(p.fd, select.POLLIN)
        if mw is not None:
            po.register(mw, select.POLLOUT)
        ev = dict(po.poll(None if deadline is None else max(0, int((deadline - now) * 1000)) + 1))
        if p.fd in ev:
            break
        if mw is not None and mw in ev:
            try:
                off += os.write(mw, data[off:off + 65536])
            except BrokenPipeError:
                off = len(data)
            if off >= len(data):
                os.close(mw)
                mw = None
    if mw is not None:
        os.close(mw)
    p.ended(None)
    if not kill and p.status == 0:
        inject_durations.append(time.monotonic() - p.started)
    how = "inject-uid4244" if asuser else "inject"
    if p.status == 0:
        record(tag, rcpt, how, "accepted")
        count("inject_accepted")
    elif p.status == -signal.SIGKILL:
        record(tag, rcpt, how, "killed")
    else:
        record(tag, rcpt, how, "exit %d" % p.status)
        count("inject_exit_%d_%s" % (p.status, how))
    if kill:
        note("queue-inject %d killed %.1f ms after its start (%s, %d bytes): %s" % (p.pid, delay * 1000, how, len(data), "exit 0 before" if p.status == 0 else "killed"))

def inject_flow():
    rnd = random.Random(SEED * 10 + 9)
    i = 0
    kills = NK["inject"]
    while (not stop.is_set() or kills > 0) and not aborted.is_set():
        i += 1
        kill = kills > 0 and i > 5 and rnd.random() < 0.5   # the first runs tell how long a run lasts
        if kill:
            kills -= 1
            count("kills_inject")
        inject_once(rnd, "i%d" % i, kill)
        time.sleep(rnd.uniform(0, 0.03))

# ---- the kills ----------------------------------------------------------------------------------

run = None
watch = []   # helpers whose queue-run died: (Other, deadline)

def check_watch(final=False):
    for w in list(watch):
        o, deadline = w
        if o.ended():
            watch.remove(w)
            o.close()
        elif final or time.monotonic() > deadline:
            if o.ended(max(0, deadline - time.monotonic())):
                watch.remove(w)
                o.close()
                continue
            count("stuck_helpers")
            note("FAIL: the helper %d still runs 10 s after its queue-run died (state %s): killed" % (o.pid, state(o.pid)))
            o.kill()
            watch.remove(w)
            o.close()
    janitor()

def helper_of(p):
    hs = children(p.pid, "queue-spawn")
    return Other(hs[0], p.pid, "queue-spawn") if hs else None

def restart(rnd):
    """queue-run ended: start a new one (as s6 would), now or after a short while"""
    global run
    time.sleep(rnd.choice((0, 0, 0.01, 0.05)))
    run = start_run()

def kill_run(rnd):
    global run
    h = None
    try:
        h = helper_of(run)
    except ProcessLookupError:
        pass
    run.kill()
    run.ended(None)
    note("queue-run %d killed (exit %d, %.0f ms after its start), helper %s" % (run.pid, run.status, (time.monotonic() - run.started) * 1000, h.pid if h else "none"))
    if h:
        watch.append((h, time.monotonic() + 10))
    restart(rnd)

def kill_helper(rnd):
    global run
    try:
        h = helper_of(run)
    except ProcessLookupError:
        h = None
    if not h:
        return False
    h.kill()
    h.close()
    if not run.ended(10):
        count("stuck_runs")
        note("FAIL: queue-run %d still runs 10 s after its helper %d was killed: killed" % (run.pid, h.pid))
        run.kill()
        run.ended(None)
    else:
        note("helper %d killed: queue-run %d exit %d" % (h.pid, run.pid, run.status))
        if run.status != 111:
            count("run_bad_exit")
            note("FAIL: queue-run exit %d after its helper was killed, not 111" % run.status)
    restart(rnd)
    return True

def kill_child(rnd, parent, name, what):
    pids = children(parent, name)
    if not pids:
        return False
    pid = rnd.choice(pids)
    try:
        o = Other(pid, parent, name)
    except (ProcessLookupError, OSError):
        return False
    o.kill()
    o.close()
    note("%s %d killed (%d of them)" % (what, pid, len(pids)))
    return True

def kill_local(rnd):
    hs = children(run.pid, "queue-spawn")
    return bool(hs) and kill_child(rnd, hs[0], "queue-local", "queue-local")

def kill_worker(rnd):
    return kill_child(rnd, INJPID, "queue-injectd", "queue-injectd worker")

def chaos():
    rnd = random.Random(SEED)
    plan = sum(([k] * NK[k] for k in ("worker", "run", "helper", "local")), [])
    rnd.shuffle(plan)
    what = {"worker": kill_worker, "run": kill_run, "helper": kill_helper, "local": kill_local}
    for k in plan:
        for attempt in range(200):   # until there is one to kill (a worker busy, a helper up)
            time.sleep(rnd.uniform(0, 0.02) if rnd.random() < 0.2 else rnd.uniform(0.05, 0.3))
            if run.ended():
                note("FAIL: queue-run %d ended by itself: exit %d" % (run.pid, run.status))
                count("run_died")
                restart(rnd)
            if what[k](rnd) is not False:
                count("kills_" + k)
                break
        check_watch()

# ---- the checks ---------------------------------------------------------------------------------

def maildirs():
    """(tag, user) -> list of (copy is byte-exact); tag -> bounces that returned it; the
    messages that are neither"""
    got, bounces, strays = {}, {}, 0
    for u in USERS + [SENDER]:
        base = "%s/domains/example.com/%s/Maildir" % (S, u.split("@")[0])
        for sub in ("new", "cur"):
            try:
                names = os.listdir(base + "/" + sub)
            except OSError:
                continue
            for name in names:
                try:
                    with open(base + "/" + sub + "/" + name, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                if u == SENDER:
                    # a DSN: the original's header comes back in it
                    tags = re.findall(rb"^X-Tag: (\S+)$", data, re.M)
                    if tags and b"multipart/report" in data and NOBODY.encode() in data:
                        bounces[tags[0].decode()] = bounces.get(tags[0].decode(), 0) + 1
                    else:
                        strays += 1
                    continue
                head, _, b = data.partition(b"\n\n")
                h = {}
                for line in head.split(b"\n"):
                    k, _, v = line.partition(b": ")
                    h.setdefault(k.lower(), v.decode(errors="replace"))
                tag = h.get(b"x-tag")
                if tag is None:
                    strays += 1
                    continue
                good = b == body(tag, int(h.get(b"x-lines", "0")))
                got.setdefault((tag, u), []).append(good)
    return got, bounces, strays

def expected(tags):
    """what the accepted messages must give: (tag, user) for each recipient, and a bounce
    for each message with a recipient that does not exist"""
    pairs = {(t, r) for t in tags for r in sent[t][0] if r != NOBODY}
    return pairs, {t for t in tags if NOBODY in sent[t][0]}

def accepted():
    return {t for t, v in sent.items() if v[2] == "accepted"}

def queue_files(dirs=("todo", "mess")):
    return sum(len(os.listdir(Q + "/" + d)) for d in dirs)

def orphan_logs():
    """info/ logs whose message is gone (queue-run killed between the two removals)"""
    return [i for i in os.listdir(Q + "/info") if not os.path.exists(Q + "/mess/" + i)]

# ---- the run --------------------------------------------------------------------------------------

def kill_descendants():
    for p in descendants(ME):
        try:
            fd = os.pidfd_open(p)
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            os.close(fd)
        except OSError:
            pass

def flow_and_kills():
    global run
    run = start_run()
    flows = [threading.Thread(target=smtp_flow, args=(k,), daemon=True) for k in (1, 2, 3)]
    flows.append(threading.Thread(target=inject_flow, daemon=True))
    for t in flows:
        t.start()
    try:
        chaos()
    except BaseException:
        aborted.set()
        raise
    finally:
        stop.set()
    for t in flows:
        t.join()
    note("the flow stopped")

def drain():
    """every accepted message delivered, todo/ and mess/ empty; SIGALRM each second"""
    global run
    want, want_bounces = expected(accepted())
    t_end = time.monotonic() + 30
    last_alrm = 0
    while True:
        got, bounces, strays = maildirs()
        missing = (want - set(got)) | (want_bounces - set(bounces))
        left = queue_files()
        if (not missing and not left) or time.monotonic() > t_end:
            break
        if run.ended():
            note("FAIL: queue-run %d ended by itself: exit %d" % (run.pid, run.status))
            count("run_died")
            run = start_run()
        if time.monotonic() - last_alrm >= 1:
            run.kill(signal.SIGALRM)
            last_alrm = time.monotonic()
        time.sleep(0.1)
    note("the end: %d accepted, %d missing, %d files left in todo/ and mess/, %d logs in info/ without a message" % (len(accepted()), len(missing), left, len(orphan_logs())))

def stop_all():
    """queue-run stops on SIGTERM, and with it every helper and worker"""
    run.kill(signal.SIGTERM)
    if not run.ended(15):
        count("stuck_runs")
        note("FAIL: queue-run %d still runs 15 s after SIGTERM: killed" % run.pid)
        run.kill()
        run.ended(None)
    res["final_exit"] = run.status
    check_watch(final=True)
    deadline = time.monotonic() + 10
    while descendants(ME) and time.monotonic() < deadline:
        janitor()
        time.sleep(0.05)
    left_procs = [(p, comm(p), state(p)) for p in descendants(ME)]
    for p, c, st in left_procs:
        note("FAIL: left running: %d %s (state %s)" % (p, c, st))
    kill_descendants()
    res["leftover_procs"] = len(left_procs)
    time.sleep(0.1)
    janitor()

def report():
    acc = accepted()
    want, want_bounces = expected(acc)
    got, bounces, strays = maildirs()
    lost = sorted(want - set(got))
    lost_bounces = sorted(want_bounces - set(bounces))
    broken = sorted("%s:%s" % k for k, v in got.items() if not all(v))
    unknown = sorted("%s:%s" % (t, u) for t, u in got if t not in sent or u not in sent[t][0])
    unknown += sorted("bounce:" + t for t in bounces if t not in sent or NOBODY not in sent[t][0])
    dups = {"%s:%s" % k: len(v) for k, v in got.items() if len(v) > 1}
    res["sent"] = len(sent)
    res["accepted"] = len(acc)
    res["deliveries"] = len(want)
    res["multi"] = sum(1 for t in acc if len(sent[t][0]) > 1)
    res["bounces_wanted"] = len(want_bounces)
    res["lost_bounces"] = len(lost_bounces)
    res["bounce_copies"] = sum(bounces.values())
    res["accepted_smtp"] = sum(1 for t in acc if sent[t][1] == "smtp")
    res["accepted_inject"] = len(acc) - res["accepted_smtp"]
    res["lost"] = len(lost)
    res["broken"] = len(broken)
    res["unknown"] = len(unknown)
    res["strays"] = strays
    res["duplicates"] = sum(n - 1 for n in dups.values())
    res["duplicated_msgs"] = len(dups)
    res["delivered_not_accepted"] = len({t for t, u in got if t in sent and sent[t][2] != "accepted"})
    res["killed_injects_delivered"] = len({t for t, u in got if t in sent and sent[t][2] == "killed"})
    res["queue_left"] = queue_files()
    res["info_kept"] = len(os.listdir(Q + "/info")) - len(orphan_logs())
    res["info_orphans"] = len(orphan_logs())
    for k in ("stuck_helpers", "stuck_runs", "run_bad_exit", "run_died"):
        res.setdefault(k, 0)
    with open(os.environ["OUT"], "w") as f:
        for k in sorted(res):
            f.write("%s %s\n" % (k, res[k]))
        f.write("lost_tags %s\n" % " ".join("%s(%s,%s)" % (t, sent[t][1], u) for t, u in lost[:20]))
        f.write("lost_bounce_tags %s\n" % " ".join(lost_bounces[:20]))
        f.write("unknown_tags %s\n" % " ".join(unknown[:20]))
        f.write("broken_tags %s\n" % " ".join(broken[:20]))
        f.write("dup_tags %s\n" % " ".join("%s*%d" % (t, n) for t, n in sorted(dups.items())[:8]))

def abort(sig, _frame):
    raise SystemExit("killed by signal %d" % sig)

signal.signal(signal.SIGTERM, abort)
done = False
try:
    flow_and_kills()
    drain()
    stop_all()
    report()
    done = True
finally:
    if not done:   # interrupted: nothing of ours stays behind
        aborted.set()
        stop.set()
        kill_descendants()
