package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.Pem;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.PasswordRecipient;
import org.bouncycastle.cms.RecipientInfoGenerator;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyAgreeRecipientInfoGenerator;
import org.bouncycastle.cms.jcajce.JceKeyTransRecipientInfoGenerator;
import org.bouncycastle.cms.jcajce.JcePasswordRecipientInfoGenerator;

/**
 * One-time secrets written for a flashing script: a CMS EnvelopedData (AES-256-CBC) in PEM, for one
 * recipient: a certificate or a public key (RSA: key transport; EC: ECDH with an ephemeral key) or a
 * passphrase (RFC 3211 password recipient, PBKDF2 with 100,000 iterations). {@code openssl cms
 * -decrypt -inform PEM} opens it with the recipient's private key ({@code -inkey}) or the passphrase
 * ({@code -pwri_password}). Never in plain text.
 */
final class SecretsFile {
    static final int PBKDF2_ITERATIONS = 100_000;

    private SecretsFile() {}

    /** A recipient from a PEM certificate or public key file. */
    static RecipientInfoGenerator recipient(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "cannot read --recipient " + file + ": " + e.getMessage());
        }
        try {
            if (text.contains("BEGIN CERTIFICATE")) {
                X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                        .generateCertificate(new ByteArrayInputStream(text.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
                return forKey(cert, cert.getPublicKey(), null);
            }
            if (text.contains("BEGIN PUBLIC KEY")) {
                String b64 = text.substring(text.indexOf("-----BEGIN PUBLIC KEY-----") + 26, text.indexOf("-----END PUBLIC KEY-----"));
                byte[] der = java.util.Base64.getMimeDecoder().decode(b64);
                SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(der);
                String alg = spki.getAlgorithm().getAlgorithm().equals(org.bouncycastle.asn1.x9.X9ObjectIdentifiers.id_ecPublicKey) ? "EC" : "RSA";
                PublicKey key = java.security.KeyFactory.getInstance(alg).generatePublic(new X509EncodedKeySpec(der));
                // the key identifier RFC 5280 4.2.1.2 (1) describes: the SHA-1 of the key bits
                byte[] ski = MessageDigest.getInstance("SHA-1").digest(spki.getPublicKeyData().getBytes());
                return forKey(null, key, ski);
            }
        } catch (java.security.GeneralSecurityException | IllegalArgumentException | CMSException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--recipient " + file + " is not a usable certificate or public key: " + e.getMessage());
        }
        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--recipient " + file + " holds no PEM certificate or public key; give the flashing "
                + "station's certificate or public key (openssl pkey -pubout)");
    }

    private static RecipientInfoGenerator forKey(X509Certificate cert, PublicKey key, byte[] ski)
            throws java.security.GeneralSecurityException, CMSException {
        if (key instanceof ECPublicKey ec) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(ec.getParams());
            KeyPair eph = g.generateKeyPair();
            JceKeyAgreeRecipientInfoGenerator ka = new JceKeyAgreeRecipientInfoGenerator(CMSAlgorithm.ECDH_SHA256KDF, eph.getPrivate(),
                    eph.getPublic(), CMSAlgorithm.AES256_WRAP);
            if (cert != null) {
                ka.addRecipient(cert);
            } else {
                ka.addRecipient(ski, key);
            }
            return ka;
        }
        if ("RSA".equals(key.getAlgorithm())) {
            return cert != null ? new JceKeyTransRecipientInfoGenerator(cert) : new JceKeyTransRecipientInfoGenerator(ski, key);
        }
        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a " + key.getAlgorithm() + " key cannot receive encrypted data; use an RSA or EC key");
    }

    /** A passphrase recipient. */
    static RecipientInfoGenerator passphrase(char[] passphrase) {
        if (passphrase.length < 12) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the passphrase protecting the secrets must have at least 12 characters");
        }
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        return new JcePasswordRecipientInfoGenerator(CMSAlgorithm.AES256_CBC, passphrase)
                .setPasswordConversionScheme(PasswordRecipient.PKCS5_SCHEME2_UTF8)
                .setSaltAndIterationCount(salt, PBKDF2_ITERATIONS);
    }

    /** The content encrypted to the recipient, as PEM ("CMS"). */
    static String encrypt(byte[] content, RecipientInfoGenerator to) {
        try {
            CMSEnvelopedDataGenerator g = new CMSEnvelopedDataGenerator();
            g.addRecipientInfoGenerator(to);
            byte[] der = g.generate(new CMSProcessableByteArray(content), new JceCMSContentEncryptorBuilder(CMSAlgorithm.AES256_CBC).build())
                    .getEncoded();
            return Pem.encode("CMS", der);
        } catch (CMSException | IOException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encrypt the secrets: " + e.getMessage(), e);
        }
    }
}
