#!/usr/bin/env python3
"""dkimtool.py: python's dkim module (Debian python3-dkim) for the DKIM tests.
  dnsmasq RECORD...             dkim-sign -g outputs (files) as dnsmasq txt-record= lines
  verify MSG RECORD...          verify every DKIM-Signature of MSG, keys from the record files
                                (no DNS); one line per signature, "pass" or "fail"
  sign DOMAIN SELECTOR KEYFILE  sign stdin (relaxed/relaxed, From To Subject) with the PEM
                                RSA key, or with a raw base64 Ed25519 seed when KEYFILE ends in
                                .ed25519raw; the signed message on stdout
  edkey PEM                     the raw base64 seed of an Ed25519 PEM key (for sign)
"""
import base64, re, sys
import dkim


def record(path):
    t = open(path).read()
    return t.split()[0].rstrip(".").lower(), "".join(re.findall(r'"([^"]*)"', t)), re.findall(r'"([^"]*)"', t)


cmd = sys.argv[1]
if cmd == "dnsmasq":
    for p in sys.argv[2:]:
        name, _, parts = record(p)
        print("txt-record=%s,%s" % (name, ",".join('"%s"' % x for x in parts)))
elif cmd == "verify":
    recs = {}
    for p in sys.argv[3:]:
        name, val, _ = record(p)
        recs[name] = val.encode()
    msg = open(sys.argv[2], "rb").read()
    d = dkim.DKIM(msg)
    n = len(re.findall(rb"(?im)^DKIM-Signature:", msg.split(b"\n\n", 1)[0]))
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=lambda name, timeout=5: recs.get(name.decode().rstrip(".").lower()))
        except dkim.ValidationError:
            ok = False
        print("pass" if ok else "fail")
elif cmd == "sign":
    domain, selector, keyfile = sys.argv[2:5]
    key = open(keyfile, "rb").read().strip()
    msg = sys.stdin.buffer.read()
    alg = b"ed25519-sha256" if keyfile.endswith(".ed25519raw") else b"rsa-sha256"
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key, canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject"], signature_algorithm=alg)
    sys.stdout.buffer.write(sig.replace(b"\r\n", b"\n") + msg)
elif cmd == "edkey":
    # PKCS#8 of an Ed25519 key: 16 bytes of structure, then the 32-byte seed
    der = base64.b64decode("".join(l for l in open(sys.argv[2]) if not l.startswith("-----")))
    print(base64.b64encode(der[-32:]).decode())
