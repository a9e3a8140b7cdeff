package dev.fleetpki.kms;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
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
    public byte[] signDigest(byte[] digest) {
        if (algorithm != KeyAlgorithm.EC_P256 && algorithm != KeyAlgorithm.EC_P384) {
            return SigningKey.super.signDigest(digest);
        }
        try {
            // NONEwithECDSA: ECDSA over the given hash (SunEC in software, CKM_ECDSA in a PKCS#11 token), DER-encoded
            Signature s = provider != null ? Signature.getInstance("NONEwithECDSA", provider) : Signature.getInstance("NONEwithECDSA");
            s.initSign(privateKey);
            s.update(digest);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new KeyStoreFailure("key " + ref + " cannot sign a digest: " + e.getMessage(), e);
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
