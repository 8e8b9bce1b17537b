#!/bin/sh
# gen_testdata.sh OUTDIR
#
# Make, with the openssl CLI, a certificate set shaped like PostgreSQL's own
# SSL test files (src/test/ssl/ssl/; a copy lives in
# ../shared/testdata/postgresql-ssl beside the repository), under the same
# file names, so every suite can run from a bare clone:
#
#   root_ca           self-signed root; signs the server and client CAs
#   server_ca         signs server-cn-only (no SAN), server-cn-and-alt-names
#                     (SANs), server-revoked (revoked by server.crl)
#   client_ca         signs client (CN ssltestuser), client-revoked and
#                     client-revoked-utf8 (CN "Οδυσσέας"; both revoked by
#                     client.crl), client-dn, client_ext, client-long
#   bundles           root+server_ca.crt, root+client_ca.crt,
#                     server-cn-only+server_ca.crt, client+client_ca.crt,
#                     both-cas-1.crt, both-cas-2.crt
#   CRLs              root.crl, server.crl, client.crl, root+server.crl,
#                     root+client.crl; hashed CRL directories client-crldir,
#                     server-crldir, root+client-crldir, root+server-crldir
#   protected keys    server-password.key (legacy PEM AES-256, passphrase
#                     "secret1"), client-encrypted-pem.key (passphrase
#                     "dUmmyP^#+"), client-der.key, client-encrypted-der.key
#   server-ss         self-signed server certificate
#
# Serial numbers, subjects and validity periods are upstream's (tests
# compare them); all keys are fresh RSA 2048 keys like upstream's. Keys get mode 0600. The result is
# complete only when OUTDIR/.complete exists: an interrupted run is redone.
# Idempotent: does nothing when OUTDIR/.complete names this script's version.
set -eu
out=$1
version=4
if [ -f "$out/.complete" ] && [ "$(cat "$out/.complete")" = "$version" ]; then
  exit 0
fi
command -v openssl >/dev/null || { echo "gen_testdata.sh: the openssl CLI is needed" >&2; exit 1; }
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cd "$out.tmp"
umask 022

days=9000
key() { # name
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null
  chmod 600 "$1.key"
}
# Extensions: ca, leaf (no SAN), or a SAN list.
ext() { # kind [san]
  case $1 in
    ca) printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' ;;
    leaf) printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' ;;
    san) printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nsubjectAltName=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$2" ;;
  esac > ext.cnf
}
# Upstream's validity periods, to the second (tests compare them).
SERVER_DATES="-startdate 20230713143523Z -enddate 20501128143523Z"
CLIENT_DATES="-startdate 20230629010101Z -enddate 20500101010101Z"
# issue NAME SUBJECT ISSUER SERIAL(hex) DATES EXTKIND [SAN]
issue() {
  key "$1"
  ext "$6" "${7:-}"
  openssl req -new -utf8 -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  mkdir -p ca-db
  : > ca-db/index.txt
  echo "$4" > ca-db/serial
  printf '[ca]\ndefault_ca=c\n[c]\ndatabase=ca-db/index.txt\nserial=ca-db/serial\nnew_certs_dir=ca-db\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=optional\n' > ca-db/ca.cnf
  # shellcheck disable=SC2086
  openssl ca -batch -notext -utf8 -preserveDN -config ca-db/ca.cnf -cert "$3.crt" -keyfile "$3.key" \
    $5 -extfile ext.cnf -in "$1.csr" -out "$1.crt" 2>ca-db/log || { cat ca-db/log >&2; exit 1; }
  rm -rf "$1.csr" ca-db
}

# The root: self-signed CA.
key root_ca
openssl req -new -x509 -key root_ca.key -subj "/CN=Test root CA for PostgreSQL SSL regression test suite" \
  -days $days -sha256 -set_serial 0x17E7BC942034BC3D \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out root_ca.crt 2>/dev/null

issue server_ca "/CN=Test CA for PostgreSQL SSL regression test server certs" root_ca 2023071316352300 "$SERVER_DATES" ca
issue client_ca "/CN=Test CA for PostgreSQL SSL regression test client certs" root_ca 2023071316352301 "$SERVER_DATES" ca

issue server-cn-only "/OU=PostgreSQL test suite/CN=common-name.pg-ssltest.test" server_ca 2023071316352302 "$SERVER_DATES" leaf
issue server-cn-and-alt-names "/OU=PostgreSQL test suite/CN=common-name.pg-ssltest.test" server_ca 2023071316352300 "$SERVER_DATES" san \
  "DNS:dns1.alt-name.pg-ssltest.test,DNS:dns2.alt-name.pg-ssltest.test"
issue server-revoked "/OU=PostgreSQL test suite/CN=common-name.pg-ssltest.test" server_ca 202307131635230B "$SERVER_DATES" leaf

issue client "/CN=ssltestuser" client_ca 2023071316352400 "$CLIENT_DATES" leaf
issue client-revoked "/CN=ssltestuser" client_ca 2023071316352402 "$CLIENT_DATES" leaf
issue client-revoked-utf8 "/CN=Οδυσσέας" client_ca 2023071316352405 "$CLIENT_DATES" leaf
issue client-dn "/O=PGDG/OU=Engineering/OU=Testing/CN=ssltestuser-dn" client_ca 2023071316352401 "$CLIENT_DATES" leaf
issue client_ext "/CN=ssltestuser" client_ca 2023071316352403 "$CLIENT_DATES" leaf
issue client-long "/O=PostgreSQL Global Development Group/OU=Some Organizational Unit/CN=ssl-123456789012345678901234567890123456789012345678901234567890" \
  client_ca 2023071316352404 "$CLIENT_DATES" leaf

# A self-signed server certificate (no CA).
key server-ss
openssl req -new -x509 -key server-ss.key -subj "/CN=common-name.pg-ssltest.test/OU=PostgreSQL test suite" \
  -days $days -sha256 -out server-ss.crt 2>/dev/null

# Bundles, in upstream's order.
cat root_ca.crt server_ca.crt > root+server_ca.crt
cat root_ca.crt client_ca.crt > root+client_ca.crt
cat server-cn-only.crt server_ca.crt > server-cn-only+server_ca.crt
cat client.crt client_ca.crt > client+client_ca.crt
cat root_ca.crt client_ca.crt server_ca.crt > both-cas-1.crt
cat root_ca.crt server_ca.crt client_ca.crt > both-cas-2.crt

# CRLs through `openssl ca -gencrl` with an index of revoked serials.
crl() { # ca-name out [serial subject]...
  ca=$1 crlout=$2
  shift 2
  mkdir -p "ca-$ca"
  : > "ca-$ca/index.txt"
  while [ $# -ge 2 ]; do
    printf 'R\t491231235959Z\t230713163524Z\t%s\tunknown\t%s\n' "$1" "$2" >> "ca-$ca/index.txt"
    shift 2
  done
  echo 01 > "ca-$ca/crlnumber"
  printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\ncrlnumber=%s/crlnumber\ndefault_md=sha256\ndefault_crl_days=%s\n' \
    "ca-$ca" "ca-$ca" $days > "ca-$ca/ca.cnf"
  openssl ca -config "ca-$ca/ca.cnf" -gencrl -keyfile "$ca.key" -cert "$ca.crt" -out "$crlout" 2>/dev/null
  rm -rf "ca-$ca"
}
crl root_ca root.crl
crl server_ca server.crl 202307131635230B "/OU=PostgreSQL test suite/CN=common-name.pg-ssltest.test"
crl client_ca client.crl 2023071316352402 "/CN=ssltestuser" 2023071316352405 "/CN=Οδυσσέας"
cat root.crl server.crl > root+server.crl
cat root.crl client.crl > root+client.crl
crldir() { # dir crl...
  d=$1
  shift
  mkdir -p "$d"
  for c in "$@"; do
    cp "$c" "$d/$(openssl crl -in "$c" -noout -hash).r0"
  done
}
crldir client-crldir client.crl
crldir server-crldir server.crl
crldir root+client-crldir root.crl client.crl
crldir root+server-crldir root.crl server.crl

# Protected and DER keys.
openssl rsa -in server-cn-only.key -aes256 -traditional -passout pass:secret1 -out server-password.key 2>/dev/null
openssl pkey -in client.key -aes256 -passout 'pass:dUmmyP^#+' -out client-encrypted-pem.key 2>/dev/null
openssl rsa -in client.key -outform DER -traditional -out client-der.key 2>/dev/null
openssl pkcs8 -topk8 -in client.key -outform DER -v2 aes-256-cbc -passout 'pass:dUmmyP^#+' \
  -out client-encrypted-der.key 2>/dev/null
chmod 600 ./*.key

rm -f ext.cnf ./*.srl
cat > README.md <<'EOF'
Generated by tests/data/gen_testdata.sh: a certificate set shaped like
PostgreSQL's src/test/ssl/ssl/ (same file names and roles, fresh keys).
Passphrases: server-password.key "secret1"; client-encrypted-*.key "dUmmyP^#+".
EOF
echo $version > .complete
cd ..
rm -rf "$out"
mv "$out.tmp" "$out"
