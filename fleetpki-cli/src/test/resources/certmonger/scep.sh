#!/usr/bin/env bash
# certmonger against a running fleetpki over SCEP, inside a private mount namespace (unshare
# --mount) and D-Bus session (dbus-run-session), so nothing of the machine's own certmonger,
# trust store or /etc/hosts is touched:
#  - certmonger's scep-submit checks the server's TLS certificate against the system CA bundle
#    for PKIOperation (its -R file only for GetCACaps/GetCACert), so the fleet root is added to a
#    copy of that bundle, bind-mounted over it here;
#  - the server's name resolves to 127.0.0.1 through a bind-mounted copy of /etc/hosts.
# Environment: URL HOST ROOT ISSUING OUT DEV1 SECRET1 DEV2 SECRET2 (DEV2's secret is also presented
# altered, and for another device). Prints the outcome of each step as "STEP status" lines.
set -u
cat /etc/ssl/certs/ca-certificates.crt "$ROOT" > "$OUT/bundle.crt"
{ cat /etc/hosts; echo "127.0.0.1 $HOST"; } > "$OUT/hosts"
mount --bind "$OUT/bundle.crt" /etc/ssl/certs/ca-certificates.crt
mount --bind "$OUT/hosts" /etc/hosts
g() { getcert "$@" -s; }
status() { getcert list -s -f "$1" 2>/dev/null | sed -n 's/^\tstatus: //p'; }
g add-scep-ca -c fleetpki -u "$URL" -R "$ROOT" -N "$ROOT" -I "$ISSUING"
# certmonger fetches the CA's capabilities and certificates in the background: wait (bounded) until it has them
for i in $(seq 1 100); do
  getcert list-cas -s -c fleetpki 2>/dev/null | grep -q "SCEP CA certificate thumbprint" && break
  sleep 0.2
done
g request -c fleetpki -f "$OUT/cert.pem" -k "$OUT/key.pem" -N "CN=$DEV1" -L "$SECRET1" -w >/dev/null 2>&1
echo "enroll $(status "$OUT/cert.pem")"
openssl x509 -in "$OUT/cert.pem" -noout -serial > "$OUT/serial-1" 2>/dev/null
# a renewal brings a new key (profiles refuse the same key unless renewWithSameKey: true): rekey, a RenewalReq signed by the current certificate
g rekey -f "$OUT/cert.pem" -w >/dev/null 2>&1
echo "renew $(status "$OUT/cert.pem")"
openssl x509 -in "$OUT/cert.pem" -noout -serial > "$OUT/serial-2" 2>/dev/null
g request -c fleetpki -f "$OUT/reused.pem" -k "$OUT/reused.key" -N "CN=$DEV1" -L "$SECRET1" -w >/dev/null 2>&1
echo "reused $(status "$OUT/reused.pem")"
g request -c fleetpki -f "$OUT/wrong.pem" -k "$OUT/wrong.key" -N "CN=$DEV2" -L "${SECRET2%??}xx" -w >/dev/null 2>&1
echo "wrong $(status "$OUT/wrong.pem")"
g request -c fleetpki -f "$OUT/foreign.pem" -k "$OUT/foreign.key" -N "CN=${DEV2}-other" -L "$SECRET2" -w >/dev/null 2>&1
echo "foreign $(status "$OUT/foreign.pem")"
g request -c fleetpki -f "$OUT/two.pem" -k "$OUT/two.key" -N "CN=$DEV2" -L "$SECRET2" -w >/dev/null 2>&1
echo "enroll-2 $(status "$OUT/two.pem")"
getcert list -s | sed -n 's/^\tca-error: /ca-error: /p'
