package dev.fleetpki.core;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** SHA-256 in lowercase hex: certificate fingerprints, CSR hashes, stored secret hashes. */
public final class Fingerprints {
    private Fingerprints() {}

    public static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A certificate thumbprint as the IoT clouds show it: the SHA-1 or SHA-256 of the DER in
     * upper-case hex without separators (Azure; AWS IoT's certificate id is the SHA-256 in lower case).
     */
    public static String thumbprint(String algorithm, byte[] der) {
        try {
            return HexFormat.of().withUpperCase().formatHex(MessageDigest.getInstance(algorithm).digest(der));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SHA-256 of the certificate's DER. */
    public static String of(X509Certificate c) {
        try {
            return sha256(c.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the certificate cannot be encoded: " + e.getMessage());
        }
    }
}
