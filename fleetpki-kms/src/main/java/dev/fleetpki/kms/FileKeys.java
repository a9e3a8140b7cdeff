package dev.fleetpki.kms;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.cert.Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Date;
import java.util.Enumeration;
import java.util.Locale;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jcajce.interfaces.EdDSAPrivateKey;
import org.bouncycastle.jcajce.interfaces.MLDSAPrivateKey;
import org.bouncycastle.jce.interfaces.ECPrivateKey;
import org.bouncycastle.jce.spec.ECPublicKeySpec;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/**
 * Keys in encrypted files: PKCS#8 PEM ({@code ENCRYPTED PRIVATE KEY}, PBES2 with PBKDF2-HMAC-SHA256
 * and AES-256-CBC) or PKCS#12 ({@code .p12}/{@code .pfx}). Files are written owner-only and
 * atomically; an existing key is never overwritten.
 */
final class FileKeys {
    /** PBKDF2 work factor for new key files (OWASP 2023 guidance for PBKDF2-HMAC-SHA256 is 600,000). */
    static final int PBKDF2_ITERATIONS = 600_000;
    private final Path home;

    FileKeys(Path home) {
        this.home = home;
    }

    SigningKey create(KeyRef ref, KeyAlgorithm alg, SecretSource secret) {
        Path file = ref.filePath(home);
        if (Files.exists(file)) {
            throw new KeyStoreFailure("key file " + file + " already exists; fleetpki never overwrites a key. "
                    + "Choose another file: name or move the old key away");
        }
        char[] pass = readPassphrase(ref, secret);
        try {
            if (pass.length < 8) {
                throw new KeyStoreFailure("the passphrase for " + ref + " (from " + secret.describe()
                        + ") is shorter than 8 characters; choose a longer one");
            }
            KeyPair kp = alg.generate();
            byte[] content = isPkcs12(file) ? pkcs12(kp, alg, pass) : encryptedPkcs8Pem(kp.getPrivate(), pass);
            Pem.writePrivateFile(file, content);
            return toSigningKey(ref, alg, kp.getPrivate(), kp.getPublic(), file);
        } finally {
            Arrays.fill(pass, '\0');
        }
    }

    SigningKey open(KeyRef ref, SecretSource secret) {
        Path file = ref.filePath(home);
        if (!Files.isRegularFile(file)) {
            throw new KeyStoreFailure("key file " + file + " (from " + ref + ") does not exist; check the path or run the ceremony");
        }
        char[] pass = readPassphrase(ref, secret);
        try {
            return isPkcs12(file) ? openPkcs12(ref, file, pass) : openPkcs8(ref, file, pass);
        } finally {
            Arrays.fill(pass, '\0');
        }
    }

    void destroy(KeyRef ref) {
        Path file = ref.filePath(home);
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new KeyStoreFailure("cannot delete key file " + file + ": " + e.getMessage(), e);
        }
    }

    private static char[] readPassphrase(KeyRef ref, SecretSource secret) {
        if (secret == null) {
            throw new KeyStoreFailure("file key " + ref + " needs a passphrase source (env:NAME, file:PATH or prompt)");
        }
        return secret.read();
    }

    private static boolean isPkcs12(Path file) {
        String n = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".p12") || n.endsWith(".pfx");
    }

    private static byte[] encryptedPkcs8Pem(PrivateKey key, char[] pass) {
        try {
            OutputEncryptor enc = new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
                    .setPRF(JcaPKCS8Generator.PRF_HMACSHA256)
                    .setIterationCount(PBKDF2_ITERATIONS)
                    .setProvider(Crypto.bc())
                    .setPassword(pass)
                    .build();
            PemObject pem = new JcaPKCS8Generator(key, enc).generate();
            StringWriter sw = new StringWriter();
            try (PemWriter w = new PemWriter(sw)) {
                w.writeObject(pem);
            }
            return sw.toString().getBytes(StandardCharsets.US_ASCII);
        } catch (OperatorCreationException | IOException e) {
            throw new KeyStoreFailure("cannot encrypt the new key: " + e.getMessage(), e);
        }
    }

    private static byte[] pkcs12(KeyPair kp, KeyAlgorithm alg, char[] pass) {
        try {
            // PKCS#12 holds a key only beside a certificate: a placeholder self-signed one.
            X500Name name = new X500Name("CN=fleetpki key holder");
            Date now = new Date();
            var cert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                    name, BigInteger.ONE, now, new Date(now.getTime() + 86_400_000L), name, kp.getPublic())
                    .build(new JcaContentSignerBuilder(alg.signatureAlgorithm()).setProvider(Crypto.bc()).build(kp.getPrivate())));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("key", kp.getPrivate(), pass, new Certificate[] {cert});
            var out = new ByteArrayOutputStream();
            ks.store(out, pass);
            return out.toByteArray();
        } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
            throw new KeyStoreFailure("cannot write the PKCS#12 key file: " + e.getMessage(), e);
        }
    }

    private SigningKey openPkcs8(KeyRef ref, Path file, char[] pass) {
        Object o;
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            o = p.readObject();
        } catch (IOException e) {
            throw new KeyStoreFailure("key file " + file + " is not PEM: " + e.getMessage(), e);
        }
        if (!(o instanceof PKCS8EncryptedPrivateKeyInfo enc)) {
            throw new KeyStoreFailure("key file " + file + " is not an ENCRYPTED PRIVATE KEY (PKCS#8); "
                    + "fleetpki keeps CA keys encrypted. Convert with: openssl pkcs8 -topk8 -v2 aes-256-cbc");
        }
        PrivateKeyInfo info;
        try {
            info = enc.decryptPrivateKeyInfo(new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(Crypto.bc()).build(pass));
        } catch (PKCSException | OperatorCreationException e) {
            throw new KeyStoreFailure("cannot decrypt key file " + file + ": wrong passphrase or damaged file", e);
        }
        try {
            PrivateKey bcKey = new JcaPEMKeyConverter().setProvider(Crypto.bc()).getPrivateKey(info);
            PublicKey pub = derivePublic(bcKey);
            KeyAlgorithm alg = KeyAlgorithm.of(pub);
            return toSigningKey(ref, alg, bcKey, pub, file);
        } catch (IOException | GeneralSecurityException e) {
            throw new KeyStoreFailure("key file " + file + " holds a key fleetpki cannot use: " + e.getMessage(), e);
        }
    }

    private SigningKey openPkcs12(KeyRef ref, Path file, char[] pass) {
        try (InputStream in = Files.newInputStream(file)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try {
                ks.load(in, pass);
            } catch (IOException e) {
                throw new KeyStoreFailure("cannot open PKCS#12 file " + file + ": wrong passphrase or damaged file", e);
            }
            for (Enumeration<String> e = ks.aliases(); e.hasMoreElements(); ) {
                String alias = e.nextElement();
                if (ks.isKeyEntry(alias)) {
                    PrivateKey key = (PrivateKey) ks.getKey(alias, pass);
                    PublicKey pub = ks.getCertificate(alias).getPublicKey();
                    return toSigningKey(ref, KeyAlgorithm.of(pub), key, pub, file);
                }
            }
            throw new KeyStoreFailure("PKCS#12 file " + file + " holds no private key");
        } catch (IOException | GeneralSecurityException e) {
            throw new KeyStoreFailure("cannot read PKCS#12 file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Moves a key into the fastest provider that takes it; ML-DSA stays with BouncyCastle. */
    private static SigningKey toSigningKey(KeyRef ref, KeyAlgorithm alg, PrivateKey key, PublicKey pub, Path file) {
        String where = (isPkcs12(file) ? "encrypted PKCS#12 file " : "encrypted PKCS#8 file ") + file;
        try {
            if (alg == KeyAlgorithm.ML_DSA_65) {
                return new JcaSigningKey(ref, pub, alg, key, Crypto.bc(), where);
            }
            String kfAlg = alg.isEc() ? "EC" : alg.isRsa() ? "RSA" : "Ed25519";
            KeyFactory kf = KeyFactory.getInstance(kfAlg);
            PrivateKey nativeKey = kf.generatePrivate(new PKCS8EncodedKeySpec(key.getEncoded()));
            PublicKey nativePub = kf.generatePublic(new X509EncodedKeySpec(pub.getEncoded()));
            return new JcaSigningKey(ref, nativePub, alg, nativeKey, (Provider) null, where);
        } catch (GeneralSecurityException e) {
            throw new KeyStoreFailure("cannot load key " + ref + ": " + e.getMessage(), e);
        }
    }

    private static PublicKey derivePublic(PrivateKey k) throws GeneralSecurityException {
        Provider bc = Crypto.bc();
        if (k instanceof ECPrivateKey ec) {
            var params = ec.getParameters();
            var q = params.getG().multiply(ec.getD()).normalize();
            return KeyFactory.getInstance("EC", bc).generatePublic(new ECPublicKeySpec(q, params));
        }
        if (k instanceof RSAPrivateCrtKey rsa) {
            return KeyFactory.getInstance("RSA", bc).generatePublic(new RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
        }
        if (k instanceof EdDSAPrivateKey ed) {
            return ed.getPublicKey();
        }
        if (k instanceof MLDSAPrivateKey ml) {
            return ml.getPublicKey();
        }
        throw new GeneralSecurityException("unsupported private key type " + k.getAlgorithm());
    }

}
