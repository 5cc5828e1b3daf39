#!/usr/bin/env bash
# certs.sh -- a test PKI for TLS between splitee devices and a cloud
# (docs/LIVE.md, "TLS and enrolment"), made with the openssl command:
#   tools/certs.sh OUTDIR [DEVICES]
# OUTDIR gets (PEM, EC P-256 keys, SHA-256 signatures):
#   ca.pem ca.key                   the enrolment CA (10 years)
#   cloud.pem cloud.key             the cloud, signed by ca, SAN IP:127.0.0.1,
#                                   IP:::1, DNS:localhost
#   device-N.pem device-N.key       N = 1..DEVICES (default 2), signed by ca
#                                   (clientAuth), CN=device-N
# and, for tests, what must be refused:
#   other-ca.pem other-ca.key       a second CA
#   other-device.pem .key           a device signed by other-ca
#   other-cloud.pem .key            a cloud signed by other-ca (same SANs)
#   wrong-name-cloud.pem .key       a cloud signed by ca for DNS:cloud.invalid
#                                   and IP:192.0.2.1 only
#   expired-device.pem .key         a device signed by ca, valid 2020-01-01
#                                   to 2020-01-02
# Keys are written 0600. Existing files in OUTDIR are overwritten. For a
# real deployment keep ca.key offline and sign each device's own request
# (its key never leaves it): see docs/LIVE.md.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: tools/certs.sh OUTDIR [DEVICES]" >&2; exit 2; }
out=$1
ndev=${2:-2}
[[ "$ndev" =~ ^[0-9]+$ && "$ndev" -ge 1 && "$ndev" -le 1000 ]] ||
    { echo "certs.sh: DEVICES: expected 1..1000, got '$ndev'" >&2; exit 2; }
command -v openssl >/dev/null || { echo "certs.sh: the openssl command is missing (tools/setup.sh)" >&2; exit 1; }
mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

key() {   # key NAME
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/$1.key" 2>/dev/null
}

ca() {    # ca NAME CN
    key "$1"
    openssl req -x509 -new -key "$out/$1.key" -sha256 -days 3650 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$out/$1.pem" 2>/dev/null
}

# leaf NAME CA CN EXT: a certificate for NAME signed by CA, extensions EXT
leaf() {
    key "$1"
    openssl req -new -key "$out/$1.key" -subj "/CN=$3" -out "$tmp/$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$tmp/$1.ext"
    openssl x509 -req -in "$tmp/$1.csr" -CA "$out/$2.pem" -CAkey "$out/$2.key" -set_serial "0x$(openssl rand -hex 8)" \
        -sha256 -days 825 -extfile "$tmp/$1.ext" -out "$out/$1.pem" 2>/dev/null
}

server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

ca ca "splitee test CA"
ca other-ca "splitee other CA"
leaf cloud ca "splitee cloud" "$server_ext"
for ((i = 1; i <= ndev; i++)); do
    leaf "device-$i" ca "device-$i" "$client_ext"
done
leaf other-device other-ca "other-device" "$client_ext"
leaf other-cloud other-ca "splitee cloud" "$server_ext"
leaf wrong-name-cloud ca "splitee cloud" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:cloud.invalid,IP:192.0.2.1"

# The expired device: `openssl ca` sets both validity dates (x509 -req
# cannot put them in the past).
key expired-device
openssl req -new -key "$out/expired-device.key" -subj "/CN=expired-device" -out "$tmp/expired.csr" 2>/dev/null
mkdir -p "$tmp/ca/new"
: > "$tmp/ca/index.txt"
printf '%s\n' "$client_ext" > "$tmp/expired.ext"
cat > "$tmp/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $tmp/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
EOF
openssl rand -hex 8 > "$tmp/ca/serial"
openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/ca.pem" -keyfile "$out/ca.key" \
    -in "$tmp/expired.csr" -out "$out/expired-device.pem" -extfile "$tmp/expired.ext" \
    -startdate 20200101000000Z -enddate 20200102000000Z -notext 2>/dev/null

chmod 644 "$out"/*.pem
echo "certs.sh: wrote the CA, the cloud and $ndev device certificate(s) (and the test refusals) to $out" >&2
