package dev.fleetpki.kms;

import java.security.Provider;
import java.security.PublicKey;
import java.security.Security;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.ContentVerifierProvider;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the JCA providers once: Amazon Corretto Crypto Provider first when it loads (fast
 * ECDSA and RSA from AWS-LC), then the JDK's own, then BouncyCastle for what neither has
 * (ML-DSA). Also sets the JDK's PKCS#12 work factors (key, certificate and MAC PBKDF2
 * iterations) to {@value #PKCS12_ITERATIONS} for the PKCS#12 files fleetpki writes (the server's
 * TLS key store, {@code .p12} CA keys), unless the JVM was started with its own; the JDK's default
 * of 10,000 is 60 times cheaper to guess against than fleetpki's PKCS#8 key files.
 */
public final class Crypto {
    private static final Logger LOG = LoggerFactory.getLogger(Crypto.class);
    private static final Provider BC;
    private static final String FAST;

    /** PBKDF2 iterations for PKCS#12 files, as for PKCS#8 key files (OWASP 2023 guidance for PBKDF2-HMAC-SHA256). */
    public static final int PKCS12_ITERATIONS = 600_000;

    static {
        for (String p : new String[] {"keystore.pkcs12.keyPbeIterationCount", "keystore.pkcs12.certPbeIterationCount",
            "keystore.pkcs12.macIterationCount"}) {
            if (System.getProperty(p) == null) {
                System.setProperty(p, Integer.toString(PKCS12_ITERATIONS));
            }
        }
        Provider bc = Security.getProvider(BouncyCastleProvider.PROVIDER_NAME);
        if (bc == null) {
            bc = new BouncyCastleProvider();
            Security.addProvider(bc);
        }
        BC = bc;
        String fast = null;
        if (!Boolean.getBoolean("fleetpki.noAccp")) {
            try {
                Class<?> c = Class.forName("com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider");
                c.getMethod("install").invoke(null);
                Provider accp = (Provider) c.getField("INSTANCE").get(null);
                c.getMethod("assertHealthy").invoke(accp);
                fast = accp.getName();
            } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
                LOG.debug("Amazon Corretto Crypto Provider not used: {}", e.toString());
            }
        }
        FAST = fast;
    }

    private Crypto() {}

    /** Ensures providers are registered; cheap after the first call. */
    public static void init() {
        // the static initializer does the work
    }

    public static Provider bc() {
        return BC;
    }

    /**
     * A signature verifier for a public key, from the fastest provider that takes it (JCA order:
     * Corretto, then the JDK), falling back to BouncyCastle for what they lack.
     */
    public static ContentVerifierProvider verifier(SubjectPublicKeyInfo key)
            throws OperatorCreationException {
        try {
            return new JcaContentVerifierProviderBuilder().build(key);
        } catch (OperatorCreationException | RuntimeException e) {
            return new JcaContentVerifierProviderBuilder().setProvider(BC).build(key);
        }
    }

    /** As {@link #verifier(org.bouncycastle.asn1.x509.SubjectPublicKeyInfo)}, for a key already decoded. */
    public static ContentVerifierProvider verifier(PublicKey key) {
        return new JcaVerifier(key);
    }

    /** Name of the fast provider in use, or "JDK" when the Corretto provider did not load. */
    public static String fastProviderName() {
        return FAST == null ? "JDK" : FAST;
    }
}
