package dev.fleetpki.kms;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The key algorithms a fleetpki CA may hold, with the signature algorithm each one signs with.
 * Names are the ones an operator writes in {@code ceremony.yaml}.
 */
public enum KeyAlgorithm {
    EC_P256("ecdsa-p256", "SHA256withECDSA"),
    EC_P384("ecdsa-p384", "SHA384withECDSA"),
    ED25519("ed25519", "Ed25519"),
    RSA_2048("rsa-2048", "SHA256withRSA"),
    RSA_3072("rsa-3072", "SHA256withRSA"),
    RSA_4096("rsa-4096", "SHA384withRSA"),
    /** FIPS 204 ML-DSA-65, through BouncyCastle. */
    ML_DSA_65("ml-dsa-65", "ML-DSA-65");

    private final String configName;
    private final String signatureAlgorithm;

    KeyAlgorithm(String configName, String signatureAlgorithm) {
        this.configName = configName;
        this.signatureAlgorithm = signatureAlgorithm;
    }

    public String configName() {
        return configName;
    }

    /** JCA / BouncyCastle signature algorithm name for a signer holding this kind of key. */
    public String signatureAlgorithm() {
        return signatureAlgorithm;
    }

    public boolean isEc() {
        return this == EC_P256 || this == EC_P384;
    }

    public boolean isRsa() {
        return this == RSA_2048 || this == RSA_3072 || this == RSA_4096;
    }

    public static KeyAlgorithm parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (KeyAlgorithm a : values()) {
            if (a.configName.equals(n)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown key algorithm '" + name + "'; use one of "
                + Arrays.stream(values()).map(KeyAlgorithm::configName).collect(Collectors.joining(", ")));
    }

    /** Which of our algorithms a public key is, or throws if it is none of them. */
    public static KeyAlgorithm of(PublicKey key) {
        if (key instanceof ECPublicKey ec) {
            int bits = ec.getParams().getCurve().getField().getFieldSize();
            return switch (bits) {
                case 256 -> EC_P256;
                case 384 -> EC_P384;
                default -> throw new IllegalArgumentException("EC key on a " + bits + "-bit curve is not supported");
            };
        }
        if (key instanceof RSAPublicKey rsa) {
            int bits = rsa.getModulus().bitLength();
            return switch (bits) {
                case 2048 -> RSA_2048;
                case 3072 -> RSA_3072;
                case 4096 -> RSA_4096;
                default -> throw new IllegalArgumentException("RSA key of " + bits + " bits is not supported");
            };
        }
        String alg = key.getAlgorithm();
        if ("Ed25519".equalsIgnoreCase(alg) || "EdDSA".equalsIgnoreCase(alg)) {
            return ED25519;
        }
        if (alg != null && alg.toUpperCase(Locale.ROOT).startsWith("ML-DSA")) {
            return ML_DSA_65;
        }
        throw new IllegalArgumentException("public key algorithm " + alg + " is not supported");
    }

    /** Generates a software key pair (used for file keys and tests). */
    public KeyPair generate() {
        Crypto.init();
        try {
            KeyPairGenerator g = switch (this) {
                case EC_P256, EC_P384 -> {
                    KeyPairGenerator k = KeyPairGenerator.getInstance("EC");
                    k.initialize(new ECGenParameterSpec(this == EC_P256 ? "secp256r1" : "secp384r1"));
                    yield k;
                }
                case ED25519 -> KeyPairGenerator.getInstance("Ed25519");
                case RSA_2048, RSA_3072, RSA_4096 -> {
                    KeyPairGenerator k = KeyPairGenerator.getInstance("RSA");
                    k.initialize(new RSAKeyGenParameterSpec(rsaBits(), RSAKeyGenParameterSpec.F4));
                    yield k;
                }
                case ML_DSA_65 -> KeyPairGenerator.getInstance("ML-DSA-65", Crypto.bc());
            };
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new KeyStoreFailure("cannot generate a " + configName + " key: " + e.getMessage(), e);
        }
    }

    int rsaBits() {
        return switch (this) {
            case RSA_2048 -> 2048;
            case RSA_3072 -> 3072;
            case RSA_4096 -> 4096;
            default -> throw new IllegalStateException(this + " is not RSA");
        };
    }
}
