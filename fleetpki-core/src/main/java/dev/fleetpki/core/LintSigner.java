package dev.fleetpki.core;

import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.SigningKey;
import java.io.OutputStream;
import java.security.interfaces.RSAPublicKey;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;

/**
 * Stands in for the CA key while the to-be-signed certificate is linted: the same signature
 * algorithm identifier (so the TBS is byte-identical to the one the CA then signs) and a
 * placeholder signature of the longest length the algorithm produces (so the DER size budget is
 * checked against the worst case). It computes nothing and proves nothing; the CA's real
 * signature is made and verified afterwards.
 */
final class LintSigner implements ContentSigner {
    private final AlgorithmIdentifier algorithm;
    private final int signatureLength;

    LintSigner(SigningKey caKey) {
        this.algorithm = new DefaultSignatureAlgorithmIdentifierFinder().find(caKey.algorithm().signatureAlgorithm());
        this.signatureLength = maxSignatureLength(caKey);
    }

    private static int maxSignatureLength(SigningKey key) {
        KeyAlgorithm a = key.algorithm();
        return switch (a) {
            case EC_P256 -> 72; // DER SEQUENCE of two INTEGERs of up to 33 bytes
            case EC_P384 -> 104;
            case ED25519 -> 64;
            case RSA_2048, RSA_3072, RSA_4096 -> (((RSAPublicKey) key.publicKey()).getModulus().bitLength() + 7) / 8;
            case ML_DSA_65 -> 3309; // FIPS 204, table 2
        };
    }

    @Override
    public AlgorithmIdentifier getAlgorithmIdentifier() {
        return algorithm;
    }

    @Override
    public OutputStream getOutputStream() {
        return OutputStream.nullOutputStream();
    }

    @Override
    public byte[] getSignature() {
        return new byte[signatureLength];
    }
}
