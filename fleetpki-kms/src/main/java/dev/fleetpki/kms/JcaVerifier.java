package dev.fleetpki.kms;

import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.X509EncodedKeySpec;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.operator.ContentVerifier;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.DefaultAlgorithmNameFinder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.RuntimeOperatorException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;

/**
 * Verifies one signature with one {@link Signature} from the fastest provider that takes the
 * key. BouncyCastle's own JCA verifier also runs a second, "raw" verification for some keys
 * (to release PKCS#11 sessions), which doubles the cost of every ECDSA verify; this one does not.
 * Algorithms the JCA providers cannot name fall back to BouncyCastle's builder.
 */
final class JcaVerifier implements ContentVerifierProvider {
    private static final DefaultAlgorithmNameFinder NAMES = new DefaultAlgorithmNameFinder();
    /** The provider that took a (signature algorithm, key class) pair the first time, so later ones skip the provider search. */
    private static final Map<String, Provider> PROVIDERS = new ConcurrentHashMap<>();
    private final PublicKey key;

    /**
     * @param key decoded once by the first provider that takes its encoding (the Corretto provider
     *     when loaded), so a verifier that is kept (a CA's) does not convert the key on every use
     */
    JcaVerifier(PublicKey key) {
        this.key = nativeKey(key);
    }

    private static PublicKey nativeKey(PublicKey key) {
        try {
            byte[] spki = key.getEncoded();
            if (spki == null) {
                return key;
            }
            return KeyFactory.getInstance(key.getAlgorithm()).generatePublic(new X509EncodedKeySpec(spki));
        } catch (GeneralSecurityException | RuntimeException e) {
            return key;
        }
    }

    private Signature signature(String name) throws GeneralSecurityException {
        String cacheKey = name + "/" + key.getClass().getName();
        Provider p = PROVIDERS.get(cacheKey);
        if (p != null) {
            try {
                Signature sig = Signature.getInstance(name, p);
                sig.initVerify(key);
                return sig;
            } catch (GeneralSecurityException | RuntimeException e) {
                PROVIDERS.remove(cacheKey);
            }
        }
        Signature sig = Signature.getInstance(name);
        sig.initVerify(key);
        PROVIDERS.put(cacheKey, sig.getProvider());
        return sig;
    }

    @Override
    public boolean hasAssociatedCertificate() {
        return false;
    }

    @Override
    public X509CertificateHolder getAssociatedCertificate() {
        return null;
    }

    @Override
    public ContentVerifier get(AlgorithmIdentifier algorithm) throws OperatorCreationException {
        Signature sig;
        try {
            sig = signature(NAMES.getAlgorithmName(algorithm));
        } catch (GeneralSecurityException | RuntimeException e) {
            return new JcaContentVerifierProviderBuilder().setProvider(Crypto.bc()).build(key).get(algorithm);
        }
        Signature s = sig;
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                try {
                    s.update(b, off, len);
                } catch (SignatureException e) {
                    throw new RuntimeOperatorException("signature update failed", e);
                }
            }
        };
        return new ContentVerifier() {
            @Override
            public AlgorithmIdentifier getAlgorithmIdentifier() {
                return algorithm;
            }

            @Override
            public OutputStream getOutputStream() {
                return out;
            }

            @Override
            public boolean verify(byte[] expected) {
                try {
                    return s.verify(expected);
                } catch (SignatureException e) {
                    return false; // a malformed signature value does not verify
                }
            }
        };
    }
}
