#!/bin/sh
# The rules shipped in rules/ compile (make did it) and say what their comments promise.
. "$(dirname "$0")/lib.sh"
plan 5
cd "$TOP" || exit 1
ok "rules/smtp.txt compiles" sh -c "'$B/tcprules' '$T/s.cdb' '$T/s.tmp' < rules/smtp.txt"
ok "rules/pop3.txt compiles" sh -c "'$B/tcprules' '$T/p.cdb' '$T/p.tmp' < rules/pop3.txt"
is "$(TCPREMOTEIP=127.0.0.1 "$B/tcprules-check" "$T/s.cdb")" "rule 127.:
set environment variable RELAYCLIENT=
set environment variable RBLSMTPD=
allow connection" "smtp: this host (IPv4) relays and skips the DNSBL gate"
like "$(TCPREMOTEIP=::1 "$B/tcprules-check" "$T/s.cdb")" "RELAYCLIENT=" "smtp: this host (IPv6) relays"
is "$(TCPREMOTEIP=203.0.113.9 "$B/tcprules-check" "$T/s.cdb")" "rule :
allow connection" "smtp: anyone else is allowed in without relaying"
