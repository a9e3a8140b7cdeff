#!/usr/bin/python3
"""Parses and checks fleetpki's certificates, CRLs and OCSP answers with pyca/cryptography
(Debian python3-cryptography), independently of fleetpki, OpenSSL's command line and Go.
Used by ConformanceTest.

  pyca_check.py chain ROOT.pem CHAIN.pem    leaf first; every signature up to ROOT, CA flags, dates
  pyca_check.py crl ISSUER.pem CRL.pem      the CRL parses and its signature is the issuer's
  pyca_check.py ocsp ISSUER.pem RESP.der    the response parses, is signed by the issuer or a signer it certified; prints the status

Prints "OK ..." and exits 0, or "FAIL: reason" and exits 1.
"""
import datetime
import sys

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def load(path):
    data = open(path, "rb").read()
    try:
        return x509.load_pem_x509_certificates(data)
    except AttributeError:  # cryptography < 39: one at a time
        out, marker = [], b"-----END CERTIFICATE-----"
        for part in data.split(marker)[:-1]:
            out.append(x509.load_pem_x509_certificate(part + marker + b"\n"))
        return out


def check_signature(pub, signature, tbs, hash_alg):
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(signature, tbs, ec.ECDSA(hash_alg))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(signature, tbs, padding.PKCS1v15(), hash_alg)
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(signature, tbs)
    else:
        fail("unsupported key type " + type(pub).__name__)


def is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def chain(root_path, chain_path):
    certs = load(chain_path) + load(root_path)
    now = datetime.datetime.utcnow()
    for i, cert in enumerate(certs):
        if not (cert.not_valid_before <= now <= cert.not_valid_after):
            fail("certificate %d is outside its validity" % i)
        issuer = certs[i + 1] if i + 1 < len(certs) else cert
        if cert.issuer != issuer.subject:
            fail("certificate %d names issuer %s, not %s" % (i, cert.issuer.rfc4514_string(), issuer.subject.rfc4514_string()))
        if i > 0 and not is_ca(cert):
            fail("certificate %d signs but is not a CA" % i)
        try:
            check_signature(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)
        except Exception as e:
            fail("signature of certificate %d: %r" % (i, e))
    print("OK " + certs[0].subject.rfc4514_string())


def crl(issuer_path, crl_path):
    data = open(crl_path, "rb").read()
    c = x509.load_pem_x509_crl(data) if data.startswith(b"-----") else x509.load_der_x509_crl(data)
    issuer = load(issuer_path)[0]
    if c.issuer != issuer.subject:
        fail("CRL issuer " + c.issuer.rfc4514_string())
    try:  # by hand: is_signature_valid of older releases knows no Ed25519
        check_signature(issuer.public_key(), c.signature, c.tbs_certlist_bytes, c.signature_hash_algorithm)
    except Exception as e:
        fail("CRL signature: %r" % (e,))
    number = c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    print("OK CRL number %d, %d entries" % (number, len(list(c))))


def ocsp_response(issuer_path, resp_path):
    r = ocsp.load_der_ocsp_response(open(resp_path, "rb").read())
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        fail("response status " + r.response_status.name)
    issuer = load(issuer_path)[0]
    signer = issuer
    if r.certificates:
        signer = r.certificates[0]
        check_signature(issuer.public_key(), signer.signature, signer.tbs_certificate_bytes, signer.signature_hash_algorithm)
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            fail("the responder certificate is not for OCSP signing")
    try:
        check_signature(signer.public_key(), r.signature, r.tbs_response_bytes, r.signature_hash_algorithm)
    except Exception as e:
        fail("response signature: %r" % (e,))
    print("OK " + r.certificate_status.name)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        fail(__doc__)
    {"chain": chain, "crl": crl, "ocsp": ocsp_response}.get(sys.argv[1], lambda *a: fail("unknown command"))(sys.argv[2], sys.argv[3])
