package dev.fleetpki.kms;

import java.security.PublicKey;
import org.bouncycastle.operator.ContentSigner;

/**
 * A handle to a private key that stays in its store. It hands out signers, never key bytes; the
 * same seam signs certificates, CRLs, OCSP responses, CMS and CMP messages.
 */
public interface SigningKey {
    KeyRef ref();

    PublicKey publicKey();

    KeyAlgorithm algorithm();

    /** A fresh single-use signer producing {@link KeyAlgorithm#signatureAlgorithm()} signatures. */
    ContentSigner contentSigner();

    /** Where the key lives, for people: "encrypted PKCS#8 file ...", "PKCS#11 token 'fleet' ...". */
    String location();
}
