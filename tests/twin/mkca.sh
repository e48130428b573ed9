#!/bin/sh
# mkca.sh DIR: makes a throwaway test CA and one server certificate for the twin.
# Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem (leaf then CA), DIR/server.key.
# The server certificate names every Azure host the twin imitates (public, China and
# US Government clouds) plus localhost and 127.0.0.1, so clients keep real host names
# and real TLS verification. Valid for 30 days; never install the CA system-wide.
set -eu

if [ $# -ne 1 ]; then
        echo "usage: mkca.sh DIR" >&2
        exit 2
fi
dir=$1
mkdir -p "$dir"
umask 077
command -v openssl >/dev/null 2>&1 || {
        echo "mkca.sh: openssl not found" >&2
        exit 1
}

cat >"$dir/server.ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @names

[names]
DNS.1 = management.azure.com
DNS.2 = management.chinacloudapi.cn
DNS.3 = management.usgovcloudapi.net
DNS.4 = login.microsoftonline.com
DNS.5 = login.chinacloudapi.cn
DNS.6 = login.microsoftonline.us
DNS.7 = login.windows.net
DNS.8 = *.vault.azure.net
DNS.9 = *.vault.azure.cn
DNS.10 = *.vault.usgovcloudapi.net
DNS.11 = *.managedhsm.azure.net
DNS.12 = *.managedhsm.azure.cn
DNS.13 = *.managedhsm.usgovcloudapi.net
DNS.14 = localhost
IP.1 = 127.0.0.1
EXT

cat >"$dir/ca.ext" <<'EXT'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT

openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
openssl req -new -key "$dir/ca.key" -subj "/O=cmkd twin test CA/CN=cmkd twin test CA $$" \
        -out "$dir/ca.csr" 2>/dev/null
openssl x509 -req -in "$dir/ca.csr" -signkey "$dir/ca.key" -days 30 -sha256 \
        -extfile "$dir/ca.ext" -out "$dir/ca.pem" 2>/dev/null

openssl ecparam -name prime256v1 -genkey -noout -out "$dir/server.key" 2>/dev/null
openssl req -new -key "$dir/server.key" -subj "/O=cmkd twin/CN=management.azure.com" \
        -out "$dir/server.csr" 2>/dev/null
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 30 -sha256 \
        -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
cat "$dir/server.crt" "$dir/ca.pem" >"$dir/server.pem"
rm -f "$dir/ca.csr" "$dir/server.csr" "$dir/server.ext" "$dir/ca.ext" "$dir/server.crt"
chmod 644 "$dir/ca.pem" "$dir/server.pem"
openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null
