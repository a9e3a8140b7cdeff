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

    /** SHA-256 of the certificate's DER. */
    public static String of(X509Certificate c) {
        try {
            return sha256(c.getEncoded());
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the certificate cannot be encoded: " + e.getMessage());
        }
    }
}
