#!/bin/sh
# log-report -H: one self-contained HTML page (no script, nothing fetched, inline SVG charts)
# that a browser shows with its charts: opened in Debian's headless Chromium, in a network
# namespace of its own (it can reach nothing), its screenshot decoded and the pixels of each
# chart's colours counted.
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || skip_all "chromium is not installed"
[ "$(id -u)" = 0 ] || skip_all "needs root: chromium runs in a network namespace of its own (unshare -n)"
plan 16
LR=$B/log-report
export TZ=UTC
"$PY" "$TOP/t/logreport-gen.py" --msgs 1500 --seed 5 "$T/g" > "$T/exp.json"
is_rc 0 "log-report -H" "$LR" -H "$T"/g/*
cp "$T/out" "$T/page.html"

# ---- the page itself ------------------------------------------------------------------------------
"$PY" - "$T/page.html" > "$T/facts" <<'EOF'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = {}; self.refs = []; self.stack = []; self.bad = []; self.titles = []; self.intitle = False
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for k, v in attrs:
            if k in ("src", "href") or (k == "xmlns" and v != "http://www.w3.org/2000/svg") or (v and "url(" in v):
                self.refs.append((tag, k, v))
        if tag not in ("meta", "rect", "line", "br", "img", "input", "link"): self.stack.append(tag)
        self.intitle = tag == "figcaption"
    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
    def handle_endtag(self, tag):
        if tag in ("rect", "line"): return
        if not self.stack or self.stack[-1] != tag: self.bad.append(tag)
        else: self.stack.pop()
    def handle_data(self, d):
        if self.intitle: self.titles.append(d); self.intitle = False
p = P(); p.feed(open(sys.argv[1]).read()); p.close()
print("svg", p.tags.get("svg", 0))
print("script", p.tags.get("script", 0) + p.tags.get("iframe", 0) + p.tags.get("object", 0))
print("refs", len(p.refs))
print("nesting", "ok" if not p.bad and not p.stack else "bad %s %s" % (p.bad[:5], p.stack[:5]))
print("charts", "|".join(p.titles))
EOF
is "$(sed -n 's/^svg //p' "$T/facts")" 5 "five SVG charts in the page"
is "$(sed -n 's/^script //p' "$T/facts")" 0 "no script, iframe or object"
is "$(sed -n 's/^refs //p' "$T/facts")" 0 "nothing to fetch: no src, href or url()"
is "$(sed -n 's/^nesting //p' "$T/facts")" ok "every element closed in order"
is "$(sed -n 's/^charts //p' "$T/facts")" "Traffic per hour|Accepted against rejected|Deliveries|Delivery delays (arrival to delivery)|Queue size" "the charts: traffic, accepted against rejected, deliveries, delays, queue"
acc=$("$PY" -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["accepted"].values()))' "$T/exp.json")
like "$(cat "$T/page.html")" "<title>[0-9][0-9]:00: [0-9]+ messages accepted</title>" "each bar says what it counts"
is "$(grep -o '<title>[0-9][0-9]:00: [0-9]* messages accepted</title>' "$T/page.html" | sed 's/.*: \([0-9]*\) messages.*/\1/' | awk '{ s += $1 } END { print s }')" "$acc" "the bars of accepted messages add up to the messages accepted"

# ---- in Chromium ---------------------------------------------------------------------------------
mkdir "$T/chr"
DBUS_SESSION_BUS_ADDRESS=disabled: unshare -n chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --disable-background-networking --disable-component-update --no-first-run --user-data-dir="$T/chr" \
  --window-size=1000,2000 --screenshot="$T/shot.png" "file://$T/page.html" > "$T/chr.log" 2>&1
ok "Chromium wrote a screenshot" test -s "$T/shot.png"
# the PNG decoded by hand (zlib and the five filters): pixels per colour
"$PY" - "$T/shot.png" > "$T/colors" <<'EOF'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(d):
    n, t = struct.unpack(">I4s", d[pos:pos + 8]); c = d[pos + 8:pos + 8 + n]; pos += 12 + n
    if t == b"IHDR": w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", c); assert depth == 8 and inter == 0
    elif t == b"IDAT": idat += c
bpp = {2: 3, 6: 4}[ctype]
raw = zlib.decompress(idat); stride = w * bpp; prev = bytearray(stride); out = {}; i = 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; cc = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - cc; pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
    prev = line
    for x in range(0, stride, bpp):
        k = bytes(line[x:x + 3]); out[k] = out.get(k, 0) + 1
for name, hexc in (("connections", "1565c0"), ("accepted", "2e7d32"), ("rejected", "c62828"), ("deferred", "f9a825"), ("delays", "6a1b9a"), ("queue", "455a64")):
    print(name, out.get(bytes.fromhex(hexc), 0))
print("white", out.get(b"\xff\xff\xff", 0) * 100 // (w * h))
EOF
px() { sed -n "s/^$1 //p" "$T/colors"; }
ok "the traffic chart's bars are drawn ($(px connections) pixels of its blue)" test "$(px connections)" -gt 5000
ok "the accepted messages' bars ($(px accepted) green pixels)" test "$(px accepted)" -gt 5000
ok "the rejections' bars ($(px rejected) red pixels)" test "$(px rejected)" -gt 200
ok "the deferred deliveries ($(px deferred) yellow pixels)" test "$(px deferred)" -gt 100
ok "the delays' histogram ($(px delays) purple pixels)" test "$(px delays)" -gt 3000
ok "the queue's size ($(px queue) grey pixels)" test "$(px queue)" -gt 3000
ok "and the page is mostly white, not an error page ($(px white)%)" test "$(px white)" -gt 50
