# t/tls-lib.sh: sourced by the TLS tests (t/73, t/74, t/89) after t/lib.sh.
#   tls_certs           a test CA and certificates under $C=$T/certs, made with openssl req:
#                       ca.pem (the CA); NAME.pem/NAME.key for mx.example.org (the default),
#                       other.example.org, and expired (mx.example.org, expired); self.pem
#                       (self-signed mx.example.org). CERTFILE and KEYFILE exported for mx.
#   tls_cert NAME CN [DAYS]   one more certificate signed by the CA (subjectAltName DNS:CN)
#   tls_serial FILE     a certificate's serial number
#   peer_serial PORT [SERVERNAME]   the serial of the certificate a TLS server on PORT shows
tls_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/$1.key" \
    -out "$C/$1.csr" -subj "/CN=$2" >/dev/null 2>&1 &&
  printf 'subjectAltName=DNS:%s\n' "$2" > "$C/$1.ext" &&
  openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
    -days "${3:-2}" -extfile "$C/$1.ext" -out "$C/$1.pem" >/dev/null 2>&1
}

tls_certs() {
  C=$T/certs
  mkdir -p "$C"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/ca.key" \
    -out "$C/ca.pem" -days 2 -subj "/CN=sluice test CA" >/dev/null 2>&1 || return 1
  tls_cert expired mx.example.org 0 || return 1   # not after = not before: expired a second later
  tls_cert mx mx.example.org || return 1
  tls_cert other other.example.org || return 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$C/self.key" \
    -out "$C/self.pem" -days 2 -subj /CN=mx.example.org -addext subjectAltName=DNS:mx.example.org >/dev/null 2>&1 || return 1
  CERTFILE=$C/mx.pem; KEYFILE=$C/mx.key; export CERTFILE KEYFILE
}

tls_serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }

peer_serial() {
  openssl s_client -connect "127.0.0.1:$1" ${2:+-servername "$2"} </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}

#   srv_start NAME [VAR=value...] CMD...   tcpsrv on a loopback port running CMD (with the
#                       variables set): $PORT; the logs in $T/NAME.log; tcpsrv's pid in $SRVPID
_srv_n=0
srv_start() {
  _name=$1; shift
  _n=$((_srv_n+1)); _srv_n=$_n
  start_bg env "$@" > "$T/srvport.$_n" 2> "$T/$_name.log"
  SRVPID=$BGPID
  wait_for 5 test -s "$T/srvport.$_n" || { diag "tcpsrv did not start"; return 1; }
  PORT=$(head -1 "$T/srvport.$_n")
}
TCPSRV() { echo "$B/tcpsrv -1 -H -R -P 127.0.0.1 0"; }
