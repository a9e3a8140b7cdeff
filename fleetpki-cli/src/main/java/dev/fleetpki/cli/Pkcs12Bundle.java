package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.Crypto;
import java.io.IOException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.List;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.DERBMPString;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.nist.NISTObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.OutputEncryptor;
import org.bouncycastle.pkcs.PKCS12PfxPduBuilder;
import org.bouncycastle.pkcs.PKCS12SafeBag;
import org.bouncycastle.pkcs.PKCS12SafeBagBuilder;
import org.bouncycastle.pkcs.PKCSException;
import org.bouncycastle.pkcs.jcajce.JcaPKCS12SafeBagBuilder;
import org.bouncycastle.pkcs.jcajce.JcePKCS12MacCalculatorBuilder;
import org.bouncycastle.pkcs.jcajce.JcePKCSPBEOutputEncryptorBuilder;

/**
 * A device's key and certificate chain as a PKCS#12 file (for devices and gateways that load one):
 * key and certificates encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), an HMAC-SHA256
 * integrity MAC, the key and its certificate sharing a friendly name (the device id) and a local
 * key id. The password is random (120 bits), so a modest PBKDF2 count ({@value #ITERATIONS}, as
 * OpenSSL writes by default) protects it as well as a large one would protect a chosen password,
 * and a batch of thousands is not slowed down by it.
 */
final class Pkcs12Bundle {
    static final int ITERATIONS = 2048;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".toCharArray();

    private Pkcs12Bundle() {}

    /** A random password of 21 characters from an alphabet without look-alikes (about 120 bits). */
    static char[] password() {
        char[] p = new char[21];
        for (int i = 0; i < p.length; i++) {
            p[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return p;
    }

    static byte[] build(PrivateKey key, List<X509Certificate> chain, String name, char[] password) {
        try {
            OutputEncryptor enc = encryptor(password);
            byte[] keyId = new JcaX509ExtensionUtils().createSubjectKeyIdentifier(chain.getFirst().getPublicKey()).getKeyIdentifier();
            PKCS12SafeBagBuilder keyBag = new JcaPKCS12SafeBagBuilder(key, enc);
            keyBag.addBagAttribute(PKCSObjectIdentifiers.pkcs_9_at_friendlyName, new DERBMPString(name));
            keyBag.addBagAttribute(PKCSObjectIdentifiers.pkcs_9_at_localKeyId, new org.bouncycastle.asn1.DEROctetString(keyId));
            PKCS12SafeBag[] certs = new PKCS12SafeBag[chain.size()];
            for (int i = 0; i < chain.size(); i++) {
                PKCS12SafeBagBuilder b = new JcaPKCS12SafeBagBuilder(chain.get(i));
                if (i == 0) {
                    b.addBagAttribute(PKCSObjectIdentifiers.pkcs_9_at_friendlyName, new DERBMPString(name));
                    b.addBagAttribute(PKCSObjectIdentifiers.pkcs_9_at_localKeyId, new org.bouncycastle.asn1.DEROctetString(keyId));
                }
                certs[i] = b.build();
            }
            PKCS12PfxPduBuilder pfx = new PKCS12PfxPduBuilder();
            pfx.addData(keyBag.build());
            pfx.addEncryptedData(encryptor(password), certs);
            return pfx.build(new JcePKCS12MacCalculatorBuilder(NISTObjectIdentifiers.id_sha256).setProvider(Crypto.bc()).setIterationCount(ITERATIONS),
                    password).getEncoded(ASN1Encoding.DER);
        } catch (IOException | PKCSException | OperatorCreationException | java.security.NoSuchAlgorithmException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot write the PKCS#12 file of '" + name + "': " + e.getMessage(), e);
        }
    }

    private static OutputEncryptor encryptor(char[] password) throws OperatorCreationException {
        return new JcePKCSPBEOutputEncryptorBuilder(NISTObjectIdentifiers.id_aes256_CBC).setProvider(Crypto.bc())
                .setPRF(new AlgorithmIdentifier(PKCSObjectIdentifiers.id_hmacWithSHA256, DERNull.INSTANCE)).setIterationCount(ITERATIONS)
                .build(password);
    }
}
