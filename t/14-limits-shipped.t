#!/bin/sh
# Per-client limits ship with every documented service chain: each tcpsrv command line of
# the README, the man pages and the comments of rules/*.txt that listens on every address
# (host 0) has -C and -M 64. And they work: the README's SMTP chain, with the shipped
# rules, flooded with 200 connections from one address, still greets a second client (with
# "-c 40" alone, the flood takes every slot and the second client gets no banner).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tcpsrv-lib.sh"
cd "$TOP" || exit 1

# every chain, continuation lines joined ("\" in shell, "\e" in mdoc), one per line: FILE: LINE
chains() {
  for f in README.md doc/*.[1-8] rules/*.txt; do
    sed -e ':a' -e '/\\e\{0,1\}$/{N;s/\\e\{0,1\}\n */ /;ba' -e '}' "$f" |
      grep -E 'tcpsrv( +-[^ ]+( +[^ -][^ ]*)?)* +0 +[0-9]+' | sed "s|^|$f: |"
  done
}
chains > "$T/chains"
n=$(wc -l < "$T/chains")
set -- rules/*.txt
plan $((n + 3 + $#))
ok "the documentation shows service chains ($n)" test "$n" -ge 6
while IFS= read -r c; do
  case $c in
    *" -C "*" -M 64 "*|*" -M 64 "*" -C "*) _pass "per-client limits: ${c%%: *}: $(printf %s "${c#*: }" | sed 's/^ *//' | cut -c1-60)" ;;
    *) _fail "per-client limits (-C and -M 64) missing: $c" ;;
  esac
done < "$T/chains"
for r in rules/*.txt; do
  like "$(grep -m1 'tcpsrv -x' "$r")" 'tcpsrv -x .* -C [0-9]+ -M 64' "$r names the limits of its service"
done

# the README's SMTP chain, its prog replaced by one that greets and holds the connection
readme=$(grep -m1 '^README.md: .*tcpsrv -x rules/smtp.cdb' "$T/chains" | sed 's/^README.md: *//')
opts=$(printf %s "$readme" | sed -n 's/.*tcpsrv \(.*\) 0 25 .*/\1/p' | sed 's|rules/smtp.cdb|'"$T"'/smtp.cdb|')
like "$opts" '-c 40' "the README's SMTP chain: $opts"
"$B/tcprules" "$T/smtp.cdb" "$T/smtp.tmp" < rules/smtp.txt || exit 1
# prog greets and holds the connection until the client leaves
printf '#!/bin/sh\necho "220 hello $TCPREMOTEIP"\nexec cat > /dev/null\n' > "$T/greet"
chmod +x "$T/greet"
# shellcheck disable=SC2086
srv $opts 127.0.0.1 0 "$T/greet" || exit 1
python3 - "$PORT" > "$T/flood" <<'EOF'
import socket, sys, time
port = int(sys.argv[1]); held = []
for _ in range(200):   # at once, without waiting: the kernel queues what is not accepted
    s = socket.socket(); s.bind(("127.0.0.2", 0)); s.setblocking(False)
    s.connect_ex(("127.0.0.1", port)); held.append(s)
time.sleep(1)          # let the server take what it accepts of them
c = socket.socket(); c.bind(("127.0.0.3", 0)); c.settimeout(5)
try:
    c.connect(("127.0.0.1", port)); print(c.makefile("rb").readline().decode().strip() or "nothing")
except OSError as e:
    print("no banner: %s" % e)
EOF
is "$(cat "$T/flood")" "220 hello 127.0.0.3" "200 connections from one address: another client still gets its banner"
stop_pid "$SPID"
