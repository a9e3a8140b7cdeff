package dev.fleetpki.kms;

import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A signing key reachable through a JCA provider (software or SunPKCS11). */
record JcaSigningKey(KeyRef ref, PublicKey publicKey, KeyAlgorithm algorithm, PrivateKey privateKey,
                     Provider provider, String location) implements SigningKey {

    @Override
    public ContentSigner contentSigner() {
        try {
            JcaContentSignerBuilder b = new JcaContentSignerBuilder(algorithm.signatureAlgorithm());
            if (provider != null) {
                b.setProvider(provider);
            }
            return b.build(privateKey);
        } catch (OperatorCreationException e) {
            throw new KeyStoreFailure("key " + ref + " cannot sign with " + algorithm.signatureAlgorithm()
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public PrivateKey handle() {
        return privateKey;
    }

    @Override
    public String toString() {
        return "SigningKey[" + ref + ", " + algorithm.configName() + "]";
    }
}
