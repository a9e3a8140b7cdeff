#!/usr/bin/python3
"""Checks an MCUboot signed image the way MCUboot's bootutil does, written from MCUboot's documented
layout (docs.mcuboot.com/design, "Image format") with pyca/cryptography, independently of
fleetpki's signer. Used by McubootImageTest.

  mcuboot_verify.py IMAGE.signed.bin PUBLIC_KEY.pem

Prints "OK version V, image N bytes[, security counter C]" and exits 0, or "FAIL: reason" and exits 1.
"""
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def tlvs(data, start, magic):
    if start + 4 > len(data):
        fail("no TLV area at %d" % start)
    m, total = struct.unpack_from("<HH", data, start)
    if m != magic:
        fail("TLV info magic 0x%04x at %d, expected 0x%04x" % (m, start, magic))
    end = start + total
    if end > len(data):
        fail("TLV area of %d bytes runs past the end of the image" % total)
    out, p = {}, start + 4
    while p < end:
        if p + 4 > end:
            fail("a TLV header is cut off")
        t, n = struct.unpack_from("<HH", data, p)
        if p + 4 + n > end:
            fail("TLV 0x%02x of %d bytes runs past its area" % (t, n))
        out[t] = data[p + 4:p + 4 + n]
        p += 4 + n
    return out, end


def main(image_path, key_path):
    data = open(image_path, "rb").read()
    if len(data) < 32:
        fail("shorter than a header")
    magic, load, hdr_size, prot_size, img_size, flags, major, minor, rev, build = struct.unpack_from("<IIHHIIBBHI", data, 0)
    if magic != 0x96F3B83D:
        fail("bad magic 0x%08x" % magic)
    body_end = hdr_size + img_size + prot_size
    counter = None
    if prot_size:
        prot, _ = tlvs(data, hdr_size + img_size, 0x6908)
        if 0x50 in prot:
            counter = struct.unpack("<I", prot[0x50])[0]
    found, end = tlvs(data, body_end, 0x6907)
    if end != len(data):
        fail("%d bytes after the TLV area" % (len(data) - end))
    digest = hashlib.sha256(data[:body_end]).digest()
    if found.get(0x10) != digest:
        fail("the SHA-256 TLV does not match the image (tampered or truncated)")
    pub = serialization.load_pem_public_key(open(key_path, "rb").read())
    spki = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if found.get(0x01) != hashlib.sha256(spki).digest():
        fail("the key-hash TLV names another key")
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            if 0x22 not in found:
                fail("no ECDSA signature TLV")
            pub.verify(found[0x22], digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        elif isinstance(pub, ed25519.Ed25519PublicKey):
            if 0x24 not in found:
                fail("no Ed25519 signature TLV")
            pub.verify(found[0x24], digest)
        else:
            fail("unsupported key")
    except InvalidSignature:
        fail("the signature does not verify")
    print("OK version %d.%d.%d+%d, image %d bytes%s" % (major, minor, rev, build, img_size,
                                                        "" if counter is None else ", security counter %d" % counter))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail(__doc__)
    main(sys.argv[1], sys.argv[2])
