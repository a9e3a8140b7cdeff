package dev.fleetpki.core.firmware;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.SigningKey;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;

/**
 * The raw signature format, for bootloaders that check a plain ECDSA signature with a small
 * library (Mbed TLS) rather than parse CMS. One file, every length a 32-bit big-endian number:
 *
 * <pre>
 * "FPKIFW1" 0x00                  8 bytes of magic
 * length | manifest               the JSON manifest, as signed
 * length | signature              ECDSA (DER) over SHA-256 of the manifest (SHA-384 for a P-384 key)
 * length | certificate DER        the signer's certificate, then the CAs above it up to but not
 * ...                             including the root, to the end of the file
 * </pre>
 */
public final class RawFirmwareSignature {
    public static final byte[] MAGIC = "FPKIFW1\0".getBytes(StandardCharsets.US_ASCII);

    private RawFirmwareSignature() {}

    public static byte[] sign(byte[] manifest, SigningKey key, X509Certificate signerCertificate, List<X509Certificate> chain) {
        if (key.algorithm() != KeyAlgorithm.EC_P256 && key.algorithm() != KeyAlgorithm.EC_P384) {
            throw new PkiException(ErrorKind.KEY_POLICY, "the raw format carries an ECDSA signature (what Mbed TLS checks); signer key "
                    + key.ref() + " is " + key.algorithm().configName() + ": use --format cms or an ECDSA signer");
        }
        if (!Arrays.equals(key.publicKey().getEncoded(), signerCertificate.getPublicKey().getEncoded())) {
            throw new PkiException(ErrorKind.KEY_POLICY, "key " + key.ref() + " is not the key of the signer certificate "
                    + signerCertificate.getSubjectX500Principal().getName());
        }
        byte[] signature = key.signDigest(digest(key.algorithm() == KeyAlgorithm.EC_P384 ? "SHA-384" : "SHA-256", manifest));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MAGIC);
        field(out, manifest);
        field(out, signature);
        try {
            field(out, signerCertificate.getEncoded());
            for (X509Certificate c : chain) {
                field(out, c.getEncoded());
            }
        } catch (CertificateEncodingException e) {
            throw new PkiException(ErrorKind.INTERNAL, "cannot encode the signer's chain", e);
        }
        return out.toByteArray();
    }

    private static void field(ByteArrayOutputStream out, byte[] value) {
        out.writeBytes(ByteBuffer.allocate(4).putInt(value.length).array());
        out.writeBytes(value);
    }

    static byte[] digest(String algorithm, byte[] data) {
        try {
            return MessageDigest.getInstance(algorithm).digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
