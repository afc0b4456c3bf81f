#!/bin/sh
# Makes the TLS test material: a CA (ca.pem) that no system trusts, and a certificate for
# localhost / 127.0.0.1 signed by it (server.pem, server.key), both valid for 100 years.
# The tests use them to check a real TLS handshake against a corporate-style private CA.
#   cd flagcore-sync/tests/data/tls && sh gen.sh
set -eu
openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=flagcore test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 36500 \
  -extfile server.ext -out server.pem
# The CA's key is not needed afterwards; PKCS#8 for the server key (rustls reads it).
rm -f ca.key ca.srl server.csr server.ext
openssl pkcs8 -topk8 -nocrypt -in server.key -out server.key.pk8 && mv server.key.pk8 server.key
