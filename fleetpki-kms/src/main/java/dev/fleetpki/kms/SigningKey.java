package dev.fleetpki.kms;

import java.security.PrivateKey;
import java.security.Provider;
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

    /**
     * An ECDSA signature (DER, as {@code SHA256withECDSA} makes) of a digest computed elsewhere, so
     * that a large message is hashed once, in this process, and never streamed through a token:
     * what signing a 64 MB firmware image needs. ECDSA keys only.
     */
    default byte[] signDigest(byte[] digest) {
        throw new KeyStoreFailure("key " + ref() + " (" + algorithm().configName() + ") cannot sign a digest; only ECDSA keys can");
    }

    /** Where the key lives, for people: "encrypted PKCS#8 file ...", "PKCS#11 token 'fleet' ...". */
    String location();

    /**
     * The key as a TLS stack takes it for client authentication: for a PKCS#11 key a handle to the
     * token object (its bytes cannot be read through it), for a file key the decrypted key in this
     * process. Used by the device SDK's mutual TLS; the CA never needs it.
     */
    PrivateKey handle();

    /** The JCA provider that can use {@link #handle()} (SunPKCS11 for a token key), or null for any. */
    Provider provider();
}
