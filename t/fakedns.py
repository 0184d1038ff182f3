#!/usr/bin/env python3
"""fakedns.py PORT [UPSTREAMPORT [ADDR]]: a DNS server on ADDR (default 127.0.0.1), UDP and
TCP, that misbehaves on purpose, and forwards every other question to 127.0.0.1:UPSTREAMPORT
(a real server the test started, rbldnsd), as a resolver would.

A test double: no real server sends broken packets on demand. The label before the last
one of the question picks the behaviour ("2.0.0.127.loop.test" -> loop):
  ok        A 127.0.0.2 and TXT "fake listed", as a DNS block list answers
  wrongid   first a reply with another ID, then garbage, then the right answer
  garbage   random bytes only (never a valid reply)
  trunc     the right header and question, then an answer cut in the middle
  loop      an answer whose owner name is a compression pointer to itself
  qloop     a question that is a compression loop
  wrongq    an answer to another question
  servfail  SERVFAIL;  nx  NXDOMAIN;  refused  REFUSED
  silent    nothing at all
  retry     ignores the first transmission of each query, answers the second
  tc        UDP: TC set, no answers; TCP: the full answer
  othersrc  the right answer, from another port
  oversize  the right answer padded to 3000 bytes with extra TXT records (no TC)
Anything else: forwarded upstream, or NXDOMAIN without one. Writes "ready" on stdout once
listening.
"""
import os, socket, struct, sys, threading

port = int(sys.argv[1])
upstream = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "0" else 0
addr = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"


def parse_question(pkt):
    (qid,) = struct.unpack(">H", pkt[:2])
    labels, i = [], 12
    while pkt[i]:
        n = pkt[i]
        labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    qtype, qclass = struct.unpack(">HH", pkt[i + 1:i + 5])
    return qid, labels, qtype, pkt[12:i + 5]


def header(qid, flags, qd, an):
    return struct.pack(">HHHHHH", qid, flags, qd, an, 0, 0)


def rr(rtype, rdata):
    return b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, 60, len(rdata)) + rdata


def good(qid, question, qtype, extra=0):
    if qtype == 1:
        answers = [rr(1, bytes([127, 0, 0, 2]))]
    elif qtype == 16:
        answers = [rr(16, b"\x0bfake listed")]
        answers += [rr(16, b"\xff" + b"x" * 255) for _ in range(extra)]
    else:
        answers = []
    return header(qid, 0x8580, 1, len(answers)) + question + b"".join(answers)


seen = set()


def replies(pkt, tcp):
    """The datagrams to send back, as (bytes, from_other_socket)."""
    qid, labels, qtype, question = parse_question(pkt)
    mode = labels[-2] if len(labels) >= 2 else ""
    if mode == "ok":
        return [(good(qid, question, qtype), False)]
    if mode == "wrongid":
        return [(good(qid ^ 0x5555, question, qtype), False), (os.urandom(40), False),
                (good(qid, question, qtype), False)]
    if mode == "garbage":
        return [(os.urandom(n), False) for n in (1, 11, 12, 60, 300)]
    if mode == "trunc":
        return [(good(qid, question, qtype)[:-3], False)]
    if mode == "loop":
        p = header(qid, 0x8580, 1, 1) + question
        off = len(p)
        return [(p + struct.pack(">H", 0xC000 | off) + struct.pack(">HHIH", qtype, 1, 60, 4) + b"\x7f\0\0\2", False)]
    if mode == "qloop":
        return [(header(qid, 0x8580, 1, 0) + b"\xc0\x0c" + question[-4:], False)]
    if mode == "wrongq":
        other = b"\x05other\x04test\x00" + question[-4:]
        return [(header(qid, 0x8580, 1, 0) + other, False)]
    if mode == "servfail":
        return [(header(qid, 0x8182, 1, 0) + question, False)]
    if mode == "refused":
        return [(header(qid, 0x8185, 1, 0) + question, False)]
    if mode == "silent":
        return []
    if mode == "retry":
        key = (qid, bytes(question))
        if key not in seen:
            seen.add(key)
            return []
        return [(good(qid, question, qtype), False)]
    if mode == "tc":
        if tcp:
            return [(good(qid, question, qtype), False)]
        return [(header(qid, 0x8780, 1, 0) + question, False)]
    if mode == "othersrc":
        return [(good(qid, question, qtype), True)]
    if mode == "oversize":
        return [(good(qid, question, qtype, extra=11), False)]
    if upstream:
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        f.settimeout(2)
        try:
            f.sendto(pkt, ("127.0.0.1", upstream))
            return [(f.recv(65535), False)]
        except OSError:
            return []
        finally:
            f.close()
    return [(header(qid, 0x8583, 1, 0) + question, False)]


udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((addr, port))
other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
other.bind((addr, 0))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((addr, port))
tcp.listen(16)


def serve_tcp():
    while True:
        c, _ = tcp.accept()
        try:
            c.settimeout(5)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            for out, _ in replies(data[2:], True):
                c.sendall(struct.pack(">H", len(out)) + out)
        except Exception:
            pass
        finally:
            c.close()


threading.Thread(target=serve_tcp, daemon=True).start()
print("ready", flush=True)
while True:
    pkt, peer = udp.recvfrom(65535)
    try:
        for out, from_other in replies(pkt, False):
            (other if from_other else udp).sendto(out, peer)
    except Exception:
        pass
