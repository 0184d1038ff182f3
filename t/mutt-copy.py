# mutt-copy.py BOX OUT [MUTT-OPTION...]: mutt opens the mailbox BOX on a pseudo-terminal of
# its own (nothing is typed but what -e push gives), tags every message, copies them all to
# the mbox OUT and quits; killed after 30 s. Run with HOME set to a scratch directory. The
# folder is set, or mutt would first ask whether to create ~/Mail.
import os, pty, select, sys, time
box, out, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "vt100"
    os.execvp("mutt", ["mutt", "-n", "-F", "/dev/null"] + extra + ["-f", box,
        "-e", "set folder=" + os.path.dirname(box) + " mbox_type=mbox confirmcreate=no confirmappend=no delete=no quit=yes move=no auto_tag=yes",
        "-e", 'push "T~A<enter>C%s<enter>q"' % out])
end = time.time() + 30
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            if not os.read(fd, 65536): break
        except OSError:
            break
    elif os.waitpid(pid, os.WNOHANG)[0]:
        sys.exit(0)
try:
    os.kill(pid, 9)
except OSError:
    pass
os.waitpid(pid, 0)
