package dev.fleetpki.core.firmware;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.SigningKey;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.operator.ContentSigner;

/**
 * An MCUboot signed image (the layout of docs.mcuboot.com/design, "Image format"), made from an
 * unsigned binary with a KeyManager key, so the key stays in its file or token:
 *
 * <pre>
 * header (32 bytes, padded with zeros to headerSize) | the image | protected TLV area (optional) | TLV area
 * </pre>
 *
 * All integers little-endian. The header: magic 0x96f3b83d, load address 0, header size, protected
 * TLV area size, image size, flags 0, version (major u8, minor u8, revision u16, build u32), pad.
 * The protected area (magic 0x6908, its total size) holds the security counter (TLV 0x50, u32)
 * when one is given. The TLV area (magic 0x6907, its total size) holds the SHA-256 of everything
 * before it (TLV 0x10), the SHA-256 of the signer's public key as DER SubjectPublicKeyInfo (TLV
 * 0x01) and the signature of that digest (ECDSA P-256, DER, TLV 0x22; Ed25519 over the 32-byte
 * digest, TLV 0x24). The image is streamed and hashed once; the ECDSA key signs the digest
 * ({@link SigningKey#signDigest}), which is the signature of the bytes with SHA-256 that MCUboot checks.
 */
public final class McubootImage {
    public static final int IMAGE_MAGIC = 0x96f3b83d;
    public static final int HEADER_SIZE = 32;
    /** Zephyr's default header size (CONFIG_ROM_START_OFFSET): the image starts at 0x200. */
    public static final int DEFAULT_HEADER_SIZE = 0x200;
    public static final int TLV_INFO_MAGIC = 0x6907;
    public static final int TLV_PROT_INFO_MAGIC = 0x6908;
    public static final int TLV_KEYHASH = 0x01;
    public static final int TLV_SHA256 = 0x10;
    public static final int TLV_ECDSA_SIG = 0x22;
    public static final int TLV_ED25519 = 0x24;
    public static final int TLV_SEC_CNT = 0x50;

    private McubootImage() {}

    /** An MCUboot image version: major.minor.revision+build, each within its field. */
    public record Version(int major, int minor, int revision, long build) {
        private static final Pattern TEXT = Pattern.compile("(\\d+)\\.(\\d+)(?:\\.(\\d+))?(?:\\+(\\d+))?");

        public Version {
            if (major < 0 || major > 255 || minor < 0 || minor > 255 || revision < 0 || revision > 65535 || build < 0 || build > 0xFFFFFFFFL) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an MCUboot version is major.minor.revision+build with major and minor "
                        + "0-255, revision 0-65535 and build 0-4294967295; got " + major + "." + minor + "." + revision + "+" + build);
            }
        }

        /** Parses {@code 1.4.2} or {@code 1.4.2+7}. */
        public static Version parse(String text) {
            Matcher m = TEXT.matcher(text == null ? "" : text.trim());
            if (!m.matches()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + text + "' is not a version like 1.4.2 or 1.4.2+7");
            }
            try {
                return new Version(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), m.group(3) == null ? 0 : Integer.parseInt(m.group(3)),
                        m.group(4) == null ? 0 : Long.parseLong(m.group(4)));
            } catch (NumberFormatException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + text + "' has a part too large for an MCUboot version");
            }
        }

        @Override
        public String toString() {
            return major + "." + minor + "." + revision + "+" + build;
        }
    }

    /**
     * A header size as people write it, {@code 0x200} or {@code 512}.
     *
     * @param option how the caller names the value, for the message ({@code --header-size}, {@code headerSize})
     */
    public static int parseHeaderSize(String text, String option) {
        try {
            return text.startsWith("0x") || text.startsWith("0X") ? Integer.parseInt(text.substring(2), 16) : Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, option + " '" + text + "' is not a number like 0x200 or 512");
        }
    }

    /**
     * Signs {@code image} (the unsigned binary, without an MCUboot header) into an MCUboot image.
     *
     * @param headerSize where the image starts (at least 32; the build's CONFIG_ROM_START_OFFSET, 0x200 for Zephyr)
     * @param securityCounter the protected security counter (anti-rollback in hardware), or null for none
     */
    public static byte[] sign(byte[] image, Version version, int headerSize, Long securityCounter, SigningKey key) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(headerSize + image.length + 256);
        try {
            sign(new ByteArrayInputStream(image), image.length, version, headerSize, securityCounter, key, out);
        } catch (IOException e) {
            throw new IllegalStateException(e); // in memory
        }
        return out.toByteArray();
    }

    /**
     * Streams {@code size} bytes of an unsigned image from {@code image} into a signed MCUboot image
     * on {@code out}: the header (which needs only the size), the image as it is read (hashed on
     * the way, never held whole), then the TLVs. The digest is signed once at the end, so a token
     * key signs 32 bytes, not the image. Returns the image hash (TLV 0x10).
     *
     * @throws PkiException MALFORMED_REQUEST when the stream ends before {@code size} bytes or has more
     */
    public static byte[] sign(InputStream image, long size, Version version, int headerSize, Long securityCounter, SigningKey key,
                              OutputStream out) throws IOException {
        if (headerSize < HEADER_SIZE || headerSize > 0xFFFF) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the header size is " + headerSize + "; it must be 32 to 65535 bytes (0x200 for Zephyr)");
        }
        if (size <= 0) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image is empty");
        }
        if (size > 0xFFFFFFFFL) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the image is " + size + " bytes; an MCUboot image size is a 32-bit number");
        }
        if (securityCounter != null && (securityCounter < 0 || securityCounter > 0xFFFFFFFFL)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the security counter is a 32-bit unsigned number; got " + securityCounter);
        }
        if (key.algorithm() != KeyAlgorithm.EC_P256 && key.algorithm() != KeyAlgorithm.ED25519) {
            throw new PkiException(ErrorKind.KEY_POLICY, "MCUboot images are signed with ECDSA P-256 or Ed25519 here; key " + key.ref()
                    + " is " + key.algorithm().configName());
        }
        byte[] prot = securityCounter == null ? new byte[0] : protectedArea(securityCounter);
        ByteBuffer h = ByteBuffer.allocate(headerSize).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(IMAGE_MAGIC).putInt(0).putShort((short) headerSize).putShort((short) prot.length).putInt((int) size).putInt(0)
                .put((byte) version.major()).put((byte) version.minor()).putShort((short) version.revision()).putInt((int) version.build())
                .putInt(0);
        byte[] header = h.array();

        MessageDigest sha256 = sha256();
        sha256.update(header);
        out.write(header);
        Streams.copy(image, size, sha256, out);
        sha256.update(prot);
        out.write(prot);
        byte[] digest = sha256.digest();

        byte[] signature;
        if (key.algorithm() == KeyAlgorithm.EC_P256) { // the ECDSA signature of the digest, as SHA256withECDSA over the bytes would make
            signature = key.signDigest(digest);
        } else { // MCUboot's Ed25519 signs the 32-byte digest as its message
            ContentSigner signer = key.contentSigner();
            try (OutputStream s = signer.getOutputStream()) {
                s.write(digest);
            }
            signature = signer.getSignature();
        }

        ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
        tlv(tlvs, TLV_SHA256, digest);
        tlv(tlvs, TLV_KEYHASH, sha256().digest(key.publicKey().getEncoded()));
        tlv(tlvs, key.algorithm() == KeyAlgorithm.EC_P256 ? TLV_ECDSA_SIG : TLV_ED25519, signature);
        byte[] body = tlvs.toByteArray();
        out.write(le16(TLV_INFO_MAGIC));
        out.write(le16(4 + body.length));
        out.write(body);
        return digest;
    }

    private static byte[] protectedArea(long securityCounter) {
        ByteArrayOutputStream tlvs = new ByteArrayOutputStream();
        tlv(tlvs, TLV_SEC_CNT, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) securityCounter).array());
        byte[] body = tlvs.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(le16(TLV_PROT_INFO_MAGIC));
        out.writeBytes(le16(4 + body.length));
        out.writeBytes(body);
        return out.toByteArray();
    }

    private static void tlv(ByteArrayOutputStream out, int type, byte[] value) {
        out.writeBytes(le16(type)); // it_type: a u16 now, a u8 and a zero pad byte in older MCUboot: the same bytes for types below 256
        out.writeBytes(le16(value.length));
        out.writeBytes(value);
    }

    private static byte[] le16(int v) {
        return new byte[] {(byte) v, (byte) (v >>> 8)};
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
