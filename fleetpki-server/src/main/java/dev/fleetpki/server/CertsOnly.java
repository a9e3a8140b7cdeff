package dev.fleetpki.server;

import static dev.fleetpki.core.Der.SEQUENCE;
import static dev.fleetpki.core.Der.tlv;

import java.util.ArrayList;
import java.util.List;

/**
 * A CMS certs-only message (RFC 5652 SignedData with no content and no signers; RFC 7030 4.1.3)
 * written straight from the certificates' DER: every EST answer is one, so it is built without
 * decoding the certificates or going through a general CMS generator. DER throughout (definite
 * lengths, the certificate SET OF in DER order) for small parsers.
 */
final class CertsOnly {
    /** id-signedData 1.2.840.113549.1.7.2 and id-data 1.2.840.113549.1.7.1, DER-encoded OIDs. */
    private static final byte[] SIGNED_DATA = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x07, 0x02};
    private static final byte[] DATA = {0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7, 0x0d, 0x01, 0x07, 0x01};

    private CertsOnly() {}

    static byte[] der(List<byte[]> certificates) {
        List<byte[]> sorted = new ArrayList<>(certificates);
        sorted.sort(CertsOnly::derSetOrder);
        byte[] certs = tlv(0xa0, sorted.toArray(byte[][]::new)); // [0] IMPLICIT SET OF Certificate
        byte[] signedData = tlv(SEQUENCE,
                new byte[] {0x02, 0x01, 0x01}, // version 1
                new byte[] {0x31, 0x00}, // digestAlgorithms: none
                tlv(SEQUENCE, DATA), // encapContentInfo: id-data, no content
                certs,
                new byte[] {0x31, 0x00}); // signerInfos: none
        return tlv(SEQUENCE, SIGNED_DATA, tlv(0xa0, signedData));
    }

    /** X.690 11.6: SET OF elements in ascending order of their encodings, the shorter padded with zeros. */
    static int derSetOrder(byte[] a, byte[] b) {
        for (int i = 0; i < Math.max(a.length, b.length); i++) {
            int x = i < a.length ? a[i] & 0xff : 0;
            int y = i < b.length ? b[i] & 0xff : 0;
            if (x != y) {
                return x - y;
            }
        }
        return Integer.compare(a.length, b.length);
    }
}
