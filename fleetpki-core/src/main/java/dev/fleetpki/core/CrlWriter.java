package dev.fleetpki.core;

import java.io.IOException;
import java.io.OutputStream;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.x509.DistributionPointName;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.IssuingDistributionPoint;
import org.bouncycastle.operator.ContentSigner;

/**
 * Writes an RFC 5280 v2 CRL as DER, one entry at a time, straight into one growing byte buffer:
 * a CRL of a million entries costs about 40 bytes of heap per entry instead of a tree of ASN.1
 * objects per entry. Entries carry a reason code (left out for "unspecified", as RFC 5280 5.3.1
 * recommends) and an invalidity date when known; the CRL carries the authority key id, the CRL
 * number, an issuing distribution point for a partition, and ExpiredCertsOnCRL when expired
 * certificates are kept.
 */
public final class CrlWriter {
    private static final byte[] REASON_OID = {0x06, 0x03, 0x55, 0x1d, 0x15};
    private static final byte[] INVALIDITY_OID = {0x06, 0x03, 0x55, 0x1d, 0x18};

    private final X509Certificate issuer;
    private final Instant thisUpdate;
    private final Instant nextUpdate;
    private final long number;
    private final String distributionPoint;
    private final Instant expiredCertsOnCrl;
    private byte[] buf = new byte[1 << 16];
    private int len;
    private long entries;

    /**
     * @param distributionPoint this CRL's URL for the issuing distribution point extension (a partition), or null
     * @param expiredCertsOnCrl when expired certificates are kept: the ExpiredCertsOnCRL date; null otherwise
     */
    public CrlWriter(X509Certificate issuer, Instant thisUpdate, Instant nextUpdate, long number, String distributionPoint, Instant expiredCertsOnCrl) {
        this.issuer = issuer;
        this.thisUpdate = thisUpdate;
        this.nextUpdate = nextUpdate;
        this.number = number;
        this.distributionPoint = distributionPoint;
        this.expiredCertsOnCrl = expiredCertsOnCrl;
    }

    public long entries() {
        return entries;
    }

    /**
     * Adds one revoked certificate.
     *
     * @param serialHex the serial in hex, as the store keeps it
     * @param invalidSinceMillis the invalidity date, or 0 when unknown
     */
    public void add(String serialHex, long revokedAtMillis, RevocationReason reason, long invalidSinceMillis) {
        byte[] serial = serialBytes(serialHex);
        int serialTlv = 2 + serial.length;
        int time = timeLength(revokedAtMillis);
        int ext = 0;
        if (reason != null && reason != RevocationReason.UNSPECIFIED) {
            ext += 12;
        }
        if (invalidSinceMillis != 0) {
            ext += 26;
        }
        int body = serialTlv + time + (ext == 0 ? 0 : 2 + ext);
        ensure(body + 2);
        buf[len++] = 0x30;
        buf[len++] = (byte) body; // an entry is always shorter than 128 bytes
        buf[len++] = 0x02;
        buf[len++] = (byte) serial.length;
        System.arraycopy(serial, 0, buf, len, serial.length);
        len += serial.length;
        writeTime(revokedAtMillis);
        if (ext > 0) {
            buf[len++] = 0x30;
            buf[len++] = (byte) ext;
            if (reason != null && reason != RevocationReason.UNSPECIFIED) {
                // SEQUENCE { OID reasonCode, OCTET STRING { ENUMERATED reason } }
                put(0x30, 0x0a);
                System.arraycopy(REASON_OID, 0, buf, len, REASON_OID.length);
                len += REASON_OID.length;
                put(0x04, 0x03, 0x0a, 0x01, reason.code());
            }
            if (invalidSinceMillis != 0) {
                // SEQUENCE { OID invalidityDate, OCTET STRING { GeneralizedTime } }
                put(0x30, 0x18);
                System.arraycopy(INVALIDITY_OID, 0, buf, len, INVALIDITY_OID.length);
                len += INVALIDITY_OID.length;
                put(0x04, 0x11);
                writeGeneralizedTime(invalidSinceMillis);
            }
        }
        entries++;
    }

    /** Signs the CRL and returns its DER. */
    public byte[] sign(ContentSigner signer) {
        try {
            byte[] algId = signer.getAlgorithmIdentifier().getEncoded("DER");
            byte[] issuerName = issuer.getSubjectX500Principal().getEncoded();
            byte[] version = {0x02, 0x01, 0x01};
            byte[] times = concat(Der.time(thisUpdate.toEpochMilli()), Der.time(nextUpdate.toEpochMilli()));
            byte[] extensions = Der.tlv(0xa0, Der.tlv(Der.SEQUENCE, crlExtensions()));
            int revokedHeader = len == 0 ? 0 : headerLength(len);
            int tbsBody = version.length + algId.length + issuerName.length + times.length + revokedHeader + len + extensions.length;
            byte[] tbs = new byte[headerLength(tbsBody) + tbsBody];
            int p = writeHeader(tbs, 0, Der.SEQUENCE, tbsBody);
            p = copy(version, tbs, p);
            p = copy(algId, tbs, p);
            p = copy(issuerName, tbs, p);
            p = copy(times, tbs, p);
            if (len > 0) {
                p = writeHeader(tbs, p, Der.SEQUENCE, len);
                System.arraycopy(buf, 0, tbs, p, len);
                p += len;
            }
            copy(extensions, tbs, p);
            buf = null; // the entries now live in tbs only
            try (OutputStream out = signer.getOutputStream()) {
                out.write(tbs);
            }
            byte[] signature = new DERBitString(signer.getSignature()).getEncoded("DER");
            int body = tbs.length + algId.length + signature.length;
            byte[] crl = new byte[headerLength(body) + body];
            p = writeHeader(crl, 0, Der.SEQUENCE, body);
            p = copy(tbs, crl, p);
            p = copy(algId, crl, p);
            copy(signature, crl, p);
            return crl;
        } catch (IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot sign the CRL of " + issuer.getSubjectX500Principal() + ": " + e.getMessage(), e);
        }
    }

    private byte[] crlExtensions() throws IOException {
        byte[] out = extension("2.5.29.35", false, CertificateTemplate.authorityKeyId(issuer).getEncoded("DER"));
        out = concat(out, extension("2.5.29.20", false, new ASN1Integer(number).getEncoded("DER")));
        if (distributionPoint != null) {
            // RFC 5280 5.2.5: critical; names the partition, which a certificate's CRL distribution point must match.
            var idp = new IssuingDistributionPoint(new DistributionPointName(new GeneralNames(
                    new GeneralName(GeneralName.uniformResourceIdentifier, distributionPoint))), false, false, null, false, false);
            out = concat(out, extension("2.5.29.28", true, idp.getEncoded("DER")));
        }
        if (expiredCertsOnCrl != null) {
            out = concat(out, extension("2.5.29.60", false, Der.generalizedTime(expiredCertsOnCrl.toEpochMilli())));
        }
        return out;
    }


    private static byte[] extension(String oid, boolean critical, byte[] value) throws IOException {
        byte[] id = new ASN1ObjectIdentifier(oid).getEncoded("DER");
        byte[] octets = Der.tlv(0x04, value);
        return critical ? Der.tlv(Der.SEQUENCE, id, new byte[] {0x01, 0x01, (byte) 0xff}, octets) : Der.tlv(Der.SEQUENCE, id, octets);
    }

    // ---- encoding helpers ----

    /** DER INTEGER contents of a positive serial given in hex (no sign, leading zeros allowed). */
    static byte[] serialBytes(String hex) {
        int start = 0;
        while (start < hex.length() - 1 && hex.charAt(start) == '0') {
            start++;
        }
        int digits = hex.length() - start;
        int n = (digits + 1) / 2;
        byte[] raw = new byte[n];
        for (int i = hex.length() - 1, b = n - 1; i >= start; i -= 2, b--) {
            int lo = Character.digit(hex.charAt(i), 16);
            int hi = i - 1 >= start ? Character.digit(hex.charAt(i - 1), 16) : 0;
            if (lo < 0 || hi < 0) {
                throw new PkiException(ErrorKind.INTERNAL, "stored serial '" + hex + "' is not hex");
            }
            raw[b] = (byte) (hi << 4 | lo);
        }
        if ((raw[0] & 0x80) != 0) {
            byte[] padded = new byte[n + 1];
            System.arraycopy(raw, 0, padded, 1, n);
            return padded;
        }
        return raw;
    }

    private static int timeLength(long millis) {
        return Der.utc(millis) ? 15 : 17;
    }

    private void writeTime(long millis) {
        if (Der.utc(millis)) {
            buf[len++] = 0x17;
            buf[len++] = 13;
            len = Der.timeDigits(buf, len, millis, false);
        } else {
            writeGeneralizedTime(millis);
        }
    }

    private void writeGeneralizedTime(long millis) {
        buf[len++] = 0x18;
        buf[len++] = 15;
        len = Der.timeDigits(buf, len, millis, true);
    }

    private void put(int... bytes) {
        for (int b : bytes) {
            buf[len++] = (byte) b;
        }
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            long want = Math.max((long) buf.length * 2, (long) len + more);
            if (want > Integer.MAX_VALUE - 64) {
                throw new PkiException(ErrorKind.POLICY_VIOLATION, "a CRL this large (" + entries + " entries) cannot be written; "
                        + "partition it (revocation.crl.shards in fleetpki.yaml)");
            }
            buf = Arrays.copyOf(buf, (int) want);
        }
    }

    private static int headerLength(int length) {
        return length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6;
    }

    private static int writeHeader(byte[] out, int p, int tag, int length) {
        out[p++] = (byte) tag;
        if (length < 0x80) {
            out[p++] = (byte) length;
            return p;
        }
        int bytes = headerLength(length) - 2;
        out[p++] = (byte) (0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--) {
            out[p++] = (byte) (length >>> (8 * i));
        }
        return p;
    }

    private static int copy(byte[] src, byte[] dst, int p) {
        System.arraycopy(src, 0, dst, p, src.length);
        return p + src.length;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
