package dev.fleetpki.kms;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.cert.Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import sun.security.pkcs11.wrapper.CK_C_INITIALIZE_ARGS;
import sun.security.pkcs11.wrapper.CK_TOKEN_INFO;
import sun.security.pkcs11.wrapper.PKCS11;
import sun.security.pkcs11.wrapper.PKCS11Exception;

/**
 * Keys in a PKCS#11 token through the JDK's SunPKCS11 provider, named by RFC 7512 URIs.
 *
 * <p>SunPKCS11's configuration has no token-label keyword, so {@code token=LABEL} is resolved to a
 * slot id here. Keys are generated sensitive and non-extractable (the provider configuration's
 * {@code attributes(generate, CKO_PRIVATE_KEY, *)} block) and stored as token objects through the
 * PKCS11 KeyStore, so they persist and never leave the token.
 */
final class Pkcs11Keys {
    private static final long CKF_OS_LOCKING_OK = 0x2L;
    private final Path home;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();

    Pkcs11Keys(Path home) {
        this.home = home;
    }

    private record Session(Provider provider, KeyStore keyStore, String token) {}

    SigningKey create(KeyRef ref, KeyAlgorithm alg) {
        String object = object(ref);
        Session s = session(ref);
        try {
            if (s.keyStore().containsAlias(object)) {
                throw new KeyStoreFailure("token '" + s.token() + "' already holds a key labelled '" + object
                        + "'; fleetpki never overwrites a key. Choose another object= label");
            }
            KeyPairGenerator g;
            if (alg.isEc()) {
                g = KeyPairGenerator.getInstance("EC", s.provider());
                g.initialize(new ECGenParameterSpec(alg == KeyAlgorithm.EC_P256 ? "secp256r1" : "secp384r1"));
            } else if (alg.isRsa()) {
                g = KeyPairGenerator.getInstance("RSA", s.provider());
                g.initialize(new RSAKeyGenParameterSpec(alg.rsaBits(), RSAKeyGenParameterSpec.F4));
            } else {
                throw new KeyStoreFailure("key algorithm " + alg.configName() + " is not available on PKCS#11 tokens "
                        + "through SunPKCS11; use ecdsa-p256, ecdsa-p384 or rsa-2048/3072/4096 for " + ref);
            }
            KeyPair kp = g.generateKeyPair();
            // A token key entry needs a certificate: a placeholder self-signed one, signed inside the token.
            X500Name name = new X500Name("CN=" + object.replaceAll("[,+=\"\\\\<>;]", "_"));
            Date now = new Date();
            var cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                    name, BigInteger.ONE, now, new Date(now.getTime() + 86_400_000L), name, kp.getPublic())
                    .build(new JcaContentSignerBuilder(alg.signatureAlgorithm()).setProvider(s.provider()).build(kp.getPrivate())));
            s.keyStore().setKeyEntry(object, kp.getPrivate(), null, new Certificate[] {cert});
            return open(ref);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new KeyStoreFailure("cannot create key " + ref + " on token '" + s.token() + "': " + e.getMessage(), e);
        }
    }

    SigningKey open(KeyRef ref) {
        String object = object(ref);
        Session s = session(ref);
        try {
            var key = s.keyStore().getKey(object, null);
            if (!(key instanceof PrivateKey pk)) {
                throw new KeyStoreFailure("token '" + s.token() + "' holds no private key labelled '" + object
                        + "'; list its objects with: pkcs11-tool --module " + ref.queryAttributes().get("module-path") + " -O");
            }
            var pub = s.keyStore().getCertificate(object).getPublicKey();
            return new JcaSigningKey(ref, pub, KeyAlgorithm.of(pub), pk, s.provider(),
                    "PKCS#11 token '" + s.token() + "', object '" + object + "'");
        } catch (GeneralSecurityException e) {
            throw new KeyStoreFailure("cannot open key " + ref + ": " + e.getMessage(), e);
        }
    }

    void destroy(KeyRef ref) {
        String object = object(ref);
        Session s = session(ref);
        try {
            if (s.keyStore().containsAlias(object)) {
                s.keyStore().deleteEntry(object); // the private key object and the certificate entry that anchors it
            }
        } catch (GeneralSecurityException e) {
            throw new KeyStoreFailure("cannot destroy key " + ref + " on token '" + s.token() + "': " + e.getMessage(), e);
        }
    }

    private static String object(KeyRef ref) {
        String o = ref.pathAttributes().get("object");
        if (o == null) {
            throw new KeyStoreFailure("PKCS#11 key reference " + ref + " has no object= label; fleetpki finds keys by label");
        }
        return o;
    }

    private Session session(KeyRef ref) {
        String module = ref.queryAttributes().get("module-path");
        long slot = slot(ref, module);
        String key = module + "#" + slot;
        return sessions.computeIfAbsent(key, k -> login(ref, module, slot));
    }

    private Session login(KeyRef ref, String module, long slot) {
        if (ref.queryAttributes().containsKey("pin-value")) {
            throw new KeyStoreFailure("PKCS#11 key reference " + ref.pathAttributes() + " carries pin-value; "
                    + "fleetpki never takes secrets inline. Use pin-source=file:PATH or pin-source=env:NAME");
        }
        String pinSource = ref.queryAttributes().get("pin-source");
        if (pinSource == null) {
            throw new KeyStoreFailure("PKCS#11 key reference for object '" + ref.pathAttributes().get("object")
                    + "' has no pin-source; add ?pin-source=file:PATH or env:NAME");
        }
        char[] pin = SecretSource.parse(pinSource, home).read();
        String config = String.join("\n",
                "name = fleetpki-" + slot,
                "library = " + module,
                "slot = " + slot,
                "attributes(generate, CKO_PRIVATE_KEY, *) = {",
                "  CKA_SENSITIVE = true",
                "  CKA_EXTRACTABLE = false",
                "}",
                "");
        try {
            Provider p = Security.getProvider("SunPKCS11").configure("--" + config);
            KeyStore ks = KeyStore.getInstance("PKCS11", p);
            ks.load(null, pin);
            String token = ref.pathAttributes().getOrDefault("token", "slot " + slot);
            return new Session(p, ks, token);
        } catch (GeneralSecurityException | IOException | RuntimeException e) {
            throw new KeyStoreFailure("cannot log in to PKCS#11 slot " + slot + " of " + module
                    + ": " + rootMessage(e) + "; check the PIN in " + pinSource.replaceAll("^(env|file):.*", "$1:...") + " and the token", e);
        } finally {
            Arrays.fill(pin, '\0');
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** Maps the URI's {@code token=} label (or {@code slot-id=}) to a slot id. */
    private static long slot(KeyRef ref, String module) {
        String slotId = ref.pathAttributes().get("slot-id");
        if (slotId != null) {
            try {
                return Long.parseLong(slotId);
            } catch (NumberFormatException e) {
                throw new KeyStoreFailure("slot-id '" + slotId + "' in " + ref.pathAttributes() + " is not a number");
            }
        }
        String label = ref.pathAttributes().get("token");
        if (label == null) {
            throw new KeyStoreFailure("PKCS#11 key reference names no token; add token=LABEL (RFC 7512)");
        }
        if (!Files.isReadable(Path.of(module))) {
            throw new KeyStoreFailure("PKCS#11 module " + module + " does not exist or is not readable; install it "
                    + "(SoftHSM2: apt-get install softhsm2) or fix module-path");
        }
        try {
            CK_C_INITIALIZE_ARGS args = new CK_C_INITIALIZE_ARGS();
            args.flags = CKF_OS_LOCKING_OK;
            PKCS11 p11 = PKCS11.getInstance(module, "C_GetFunctionList", args, false);
            List<String> seen = new ArrayList<>();
            for (long s : p11.C_GetSlotList(true)) {
                CK_TOKEN_INFO info = p11.C_GetTokenInfo(s);
                String l = new String(info.label).trim();
                if (l.equals(label)) {
                    return s;
                }
                if (!l.isEmpty()) {
                    seen.add(l);
                }
            }
            throw new KeyStoreFailure("no PKCS#11 token labelled '" + label + "' in " + module + "; tokens present: "
                    + seen + ". Create one, e.g. softhsm2-util --init-token --free --label " + label);
        } catch (IOException | PKCS11Exception e) {
            throw new KeyStoreFailure("cannot list the slots of PKCS#11 module " + module + ": " + e.getMessage(), e);
        }
    }
}
