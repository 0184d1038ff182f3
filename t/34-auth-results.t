#!/bin/sh
# auth-results against dnsmasq on loopback (SPF, DKIM key and DMARC records): SPF pass, fail,
# softfail, neutral, none, permerror for MAIL FROM and HELO; DKIM signatures made by
# dkim-sign and by python's dkim module verified, a changed body fails; DMARC pass through
# SPF alignment and through DKIM alignment, fail with p=none tagged, p=reject tagged by
# default and refused when control/dmarcpolicy says reject, except for control/dmarcexceptions;
# forged Authentication-Results: fields removed; a DNS server that does not answer gives
# temperror and never a refusal; bad settings.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dkim-lib.sh"
"$PY" -c 'import dkim' 2>/dev/null || skip_all "python3-dkim not installed"
command -v dnsmasq >/dev/null || skip_all "dnsmasq not installed"
plan 51

S=$T/sl
mkdir -p "$S/control"
echo mx.rx.test > "$S/control/me"
# a public suffix list in which test is a suffix, as com is in the real one
printf '// test list\ntest\n' > "$T/psl.dat"
echo "$T/psl.dat" > "$S/control/publicsuffix"
export SLUICEDIR=$S
"$B/dkim-sign" -g pass.test r1 > "$T/r1.txt"
"$B/dkim-sign" -g -t ed25519 pass.test e1 > "$T/e1.txt"
$DT edkey "$S/control/dkim/pass.test/e1.ed25519" > "$T/e1.ed25519raw"
{
  $DT dnsmasq "$T/r1.txt" "$T/e1.txt"
  cat <<'EOF2'
txt-record=pass.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=mx.pass.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=fail.test,"v=spf1 -all"
txt-record=soft.test,"v=spf1 ~all"
txt-record=neutral.test,"v=spf1 ?all"
txt-record=perm.test,"v=spf1 ip4:192.0.2.1 bogus:x -all"
txt-record=sub.pass.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=spfok.test,"v=spf1 ip4:192.0.2.1 -all"
txt-record=_dmarc.pass.test,"v=DMARC1; p=reject"
txt-record=_dmarc.nonep.test,"v=DMARC1; p=none"
txt-record=nonep.test,"v=spf1 -all"
log-queries
EOF2
  echo "log-facility=$T/dnsq.log"
} > "$T/dns.conf"
dns_start "$T/dns.conf"
export TCPREMOTEIP=192.0.2.1 SMTPHELO=mx.pass.test
msg() { printf 'From: %s\nTo: bob@rx.test\nSubject: test\n\nhello\n' "$1"; }
ar() { sed -n '/^Authentication-Results:/,/^[^ \t]/p' "$T/$1.msg" | sed '$d' | tr -d '\n' | tr '\t' ' '; }

# --- SPF ----------------------------------------------------------------------------------------
for c in pass:pass fail:fail soft:softfail neutral:neutral none:none perm:permerror; do
  d=${c%%:*} want=${c#*:}
  env_of "joe@$d.test" bob@rx.test > "$T/env"
  msg "joe@$d.test" > "$T/m"
  filt auth-results "$T/m" $d
  like "$(ar $d)" "spf=$want smtp\.mailfrom=joe@$d\.test" "SPF $want for MAIL FROM (a $d record)"
done
is "$RC" 0 "handed on (exit 0)"
is "$(grep -c '^Authentication-Results:' "$T/perm.msg")" 1 "one Authentication-Results: field"
like "$(head -1 "$T/perm.msg")" '^Authentication-Results: mx\.rx\.test;' "first, naming this host (control/me)"
ok "then the message unchanged" sh -c "sed '1,/^[^ \t]/{/^From:/!d}' '$T/perm.msg' | cmp - '$T/m'"
ok "the envelope unchanged" cmp "$T/perm.env" "$T/env"
like "$(ar pass)" 'spf=pass smtp\.helo=mx\.pass\.test' "SPF pass for the HELO name (SMTPHELO from smtpd)"
env_of "joe@pass.test" bob@rx.test > "$T/env"
filt auth-results "$T/m" h1 SMTPHELO=mx.fail.test
like "$(ar h1)" 'spf=none smtp\.helo=mx\.fail\.test' "SPF none for a HELO name without a record"
filt auth-results "$T/m" h2 TCPREMOTEIP=192.0.2.9
like "$(ar h2)" 'spf=fail smtp\.mailfrom=joe@pass\.test' "another client address: fail"
env_of "" bob@rx.test > "$T/env"
filt auth-results "$T/m" h3
like "$(ar h3)" 'spf=pass smtp\.helo=mx\.pass\.test' "the null sender: the HELO name is checked"
unlike "$(ar h3)" 'smtp\.mailfrom' "and no smtp.mailfrom"

# --- DKIM ---------------------------------------------------------------------------------------
env_of "bounces@other.test" bob@rx.test > "$T/env"
msg "Joe <joe@pass.test>" > "$T/m"
CAP=$T/signed NEXTQUEUE=$T/cap "$B/dkim-sign" < "$T/m" 1< "$T/env"
filt auth-results "$T/signed.msg" d1
like "$(ar d1)" 'dkim=pass header\.d=pass\.test header\.s=r1 header\.a=rsa-sha256 header\.b=' "dkim-sign's RSA signature verifies"
like "$(ar d1)" 'dkim=pass header\.d=pass\.test header\.s=e1 header\.a=ed25519-sha256' "and its Ed25519 signature"
like "$(ar d1)" 'dmarc=pass \(p=reject\) header\.from=pass\.test' "DMARC pass through DKIM alignment (SPF: another domain)"
sed 's/^hello$/hello!/' "$T/signed.msg" > "$T/bad.msg"
filt auth-results "$T/bad.msg" d2
like "$(ar d2)" 'dkim=fail header\.d=pass\.test header\.s=r1' "a changed body: dkim=fail (RSA)"
like "$(ar d2)" 'dkim=fail header\.d=pass\.test header\.s=e1' "a changed body: dkim=fail (Ed25519)"
like "$(ar d2)" 'dmarc=fail \(p=reject\)' "and DMARC fails"
is "$RC" 0 "tagged, not refused, by default"
$DT sign pass.test r1 "$S/control/dkim/pass.test/r1.rsa" < "$T/m" > "$T/py1.msg"
filt auth-results "$T/py1.msg" p1
like "$(ar p1)" 'dkim=pass header\.d=pass\.test header\.s=r1 header\.a=rsa-sha256' "a message signed by python's dkim (RSA) verifies"
$DT sign pass.test e1 "$T/e1.ed25519raw" < "$T/m" > "$T/py2.msg"
filt auth-results "$T/py2.msg" p2
like "$(ar p2)" 'dkim=pass header\.d=pass\.test header\.s=e1 header\.a=ed25519-sha256' "a message signed by python's dkim (Ed25519) verifies"
$DT sign pass.test nokey "$S/control/dkim/pass.test/r1.rsa" < "$T/m" > "$T/py3.msg"
filt auth-results "$T/py3.msg" p3
like "$(ar p3)" 'dkim=permerror header\.d=pass\.test header\.s=nokey' "a selector without a key: permerror"
filt auth-results "$T/m" p4
like "$(ar p4)" 'dkim=none' "no signature: dkim=none"

# --- DMARC --------------------------------------------------------------------------------------
env_of "joe@pass.test" bob@rx.test > "$T/env"
filt auth-results "$T/m" m1
like "$(ar m1)" 'spf=pass smtp\.mailfrom=joe@pass\.test.*dkim=none.*dmarc=pass' "DMARC pass through SPF alignment"
msg "Joe <joe@sub.pass.test>" > "$T/m2"; env_of "joe@sub.pass.test" bob@rx.test > "$T/env"
filt auth-results "$T/m2" m2
like "$(ar m2)" 'dmarc=pass \(p=reject\) header\.from=sub\.pass\.test' "a subdomain: the organizational domain's record, relaxed alignment"
env_of "joe@sub.pass.test" bob@rx.test > "$T/env"
filt auth-results "$T/m" m2b
like "$(ar m2b)" 'spf=pass smtp\.mailfrom=joe@sub\.pass\.test.*dmarc=pass \(p=reject\) header\.from=pass\.test' "relaxed alignment: SPF passes for a subdomain of the author domain"
env_of "joe@spfok.test" bob@rx.test > "$T/env"
filt auth-results "$T/m" m2c
like "$(ar m2c)" 'spf=pass smtp\.mailfrom=joe@spfok\.test.*dmarc=fail \(p=reject\) header\.from=pass\.test' "an SPF pass for an unrelated domain is not aligned: dmarc=fail"
msg "Joe <joe@nonep.test>" > "$T/m3"; env_of "joe@nonep.test" bob@rx.test > "$T/env"
echo reject > "$S/control/dmarcpolicy"
filt auth-results "$T/m3" m3
like "$(ar m3)" 'spf=fail.*dmarc=fail \(p=none\) header\.from=nonep\.test' "DMARC fail with p=none"
is "$RC" 0 "p=none: tagged, even with control/dmarcpolicy reject"
env_of "bounces@other.test" bob@rx.test > "$T/env"
filt auth-results "$T/bad.msg" m4
is "$RC" 31 "p=reject and a failure, control/dmarcpolicy reject: refused (31, permanent)"
ok "nothing handed on" test ! -e "$T/m4.msg"
like "$(cat "$T/err")" 'refused: pass\.test publishes p=reject' "saying why"
filt auth-results "$T/signed.msg" m5
is "$RC" 0 "the same policy lets a passing message through"
echo '.other.test' > "$S/control/dmarcexceptions"; echo 'pass.test' >> "$S/control/dmarcexceptions"
filt auth-results "$T/bad.msg" m6
is "$RC" 0 "a domain in control/dmarcexceptions: tagged, not refused"

# --- forged fields, DNS failures, settings -----------------------------------------------------
{ printf 'Authentication-Results: mx.rx.test; spf=pass smtp.mailfrom=x@y\n\tdkim=pass\nAuthentication-Results: other.example; dkim=pass\n'; cat "$T/m"; } > "$T/forged"
env_of "joe@pass.test" bob@rx.test > "$T/env"
filt auth-results "$T/forged" f1
is "$(grep -c '^Authentication-Results: mx\.rx\.test' "$T/f1.msg")" 1 "a forged field naming this host is removed (one left: ours)"
unlike "$(cat "$T/f1.msg")" 'smtp\.mailfrom=x@y' "its continuation line too"
like "$(cat "$T/f1.msg")" '^Authentication-Results: other\.example; dkim=pass' "another host's field stays"
# every library asked the server of DNSCACHEIP (libspf2, libopendkim: through the resolver
# state auth-results points there; DMARC: sluice's resolver), never the machine's resolver
dnsq=$(cat "$T/dnsq.log" 2>/dev/null)
like "$dnsq" 'query\[TXT\] pass\.test from 127\.0\.0\.1' "dnsmasq was asked for the SPF record (libspf2)"
like "$dnsq" 'query\[TXT\] r1\._domainkey\.pass\.test from 127\.0\.0\.1' "for the DKIM key (libopendkim)"
like "$dnsq" 'query\[TXT\] _dmarc\.pass\.test from 127\.0\.0\.1' "for the DMARC record"
filt auth-results "$T/bad.msg" t0 DNSCACHEIP='[::1]:1'
like "$(ar t0)" 'spf=temperror.*dkim=temperror.*dmarc=temperror' "an IPv6 DNSCACHEIP: temperror everywhere, no fallback to /etc/resolv.conf"
silent_dns
filt auth-results "$T/bad.msg" t1 DNSCACHEIP=$SILENT
like "$(ar t1)" 'spf=temperror smtp\.mailfrom=joe@pass\.test' "a DNS server that does not answer: spf=temperror"
like "$(ar t1)" 'dkim=temperror header\.d=pass\.test' "dkim=temperror"
like "$(ar t1)" 'dmarc=temperror' "dmarc=temperror"
is "$RC" 0 "and no refusal, even with control/dmarcpolicy reject"
echo maybe > "$S/control/dmarcpolicy"
filt auth-results "$T/m" s1
is "$RC" 55 "a bad control/dmarcpolicy: 55 (temporary)"
rm "$S/control/dmarcpolicy" "$S/control/me"
filt auth-results "$T/m" s2
is "$RC" 55 "no control/me: 55"
