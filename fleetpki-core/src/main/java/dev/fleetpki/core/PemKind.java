package dev.fleetpki.core;

/** What a PEM block holds, in words for an error message (never a Java class name). */
public final class PemKind {
    private PemKind() {}

    /** {@code o}: what BouncyCastle's PEM reader returned (null: nothing it recognized). */
    public static String of(Object o) {
        if (o == null) {
            return "nothing a PEM reader recognizes";
        }
        if (o instanceof org.bouncycastle.cert.X509CertificateHolder) {
            return "a certificate";
        }
        if (o instanceof org.bouncycastle.pkcs.PKCS10CertificationRequest) {
            return "a certificate request";
        }
        if (o instanceof org.bouncycastle.asn1.x509.SubjectPublicKeyInfo) {
            return "a public key";
        }
        if (o instanceof org.bouncycastle.openssl.PEMKeyPair || o instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo
                || o instanceof org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo || o instanceof org.bouncycastle.openssl.PEMEncryptedKeyPair) {
            return "a private key (which stays on the device)";
        }
        if (o instanceof org.bouncycastle.cert.X509CRLHolder) {
            return "a CRL";
        }
        return "another kind of PEM block";
    }
}
