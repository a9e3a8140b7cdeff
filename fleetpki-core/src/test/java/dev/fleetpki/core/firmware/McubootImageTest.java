package dev.fleetpki.core.firmware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.PkiException;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.Pem;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An MCUboot image as MCUboot documents it, byte by byte, signed with a KeyManager file key; and
 * checked by {@code conformance/mcuboot_verify.py}, a verifier written from the documented layout
 * with pyca/cryptography, which refuses it once a byte of the image changes.
 */
class McubootImageTest {
    @TempDir static Path dir;
    static SigningKey p256;
    static SigningKey ed25519;
    static byte[] app;

    @BeforeAll
    static void keys() throws Exception {
        Path pass = dir.resolve("pass");
        Files.writeString(pass, "firmware test passphrase\n");
        DefaultKeyManager km = new DefaultKeyManager(dir);
        p256 = km.create(KeyRef.parse("file:keys/fw-p256.p8"), KeyAlgorithm.EC_P256, new SecretSource.File(pass));
        ed25519 = km.create(KeyRef.parse("file:keys/fw-ed25519.p8"), KeyAlgorithm.ED25519, new SecretSource.File(pass));
        app = new byte[10_000];
        new Random(42).nextBytes(app);
    }

    private static int le16(byte[] b, int at) {
        return ByteBuffer.wrap(b, at, 2).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xFFFF;
    }

    private static long le32(byte[] b, int at) {
        return ByteBuffer.wrap(b, at, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xFFFFFFFFL;
    }

    @Test
    void theLayoutIsMcubootsByteByByte() throws Exception {
        byte[] img = McubootImage.sign(app, McubootImage.Version.parse("1.4.2+7"), 0x200, 3L, p256);
        // header: magic, load address, header size, protected TLV size, image size, flags, version, pad
        assertThat(HexFormat.of().formatHex(img, 0, 4)).isEqualTo("3db8f396");
        assertThat(le32(img, 4)).isZero();
        assertThat(le16(img, 8)).isEqualTo(0x200);
        int prot = le16(img, 10);
        assertThat(prot).as("protected area: info header + one 8-byte TLV").isEqualTo(4 + 4 + 4);
        assertThat(le32(img, 12)).isEqualTo(app.length);
        assertThat(le32(img, 16)).as("flags").isZero();
        assertThat(img[20]).isEqualTo((byte) 1);
        assertThat(img[21]).isEqualTo((byte) 4);
        assertThat(le16(img, 22)).isEqualTo(2);
        assertThat(le32(img, 24)).isEqualTo(7);
        assertThat(Arrays.copyOfRange(img, 28, 0x200)).as("pad and header padding").containsOnly((byte) 0);
        assertThat(Arrays.copyOfRange(img, 0x200, 0x200 + app.length)).isEqualTo(app);
        // protected TLV area: magic 0x6908, size, security counter TLV 0x50
        int p = 0x200 + app.length;
        assertThat(le16(img, p)).isEqualTo(0x6908);
        assertThat(le16(img, p + 2)).isEqualTo(prot);
        assertThat(le16(img, p + 4)).isEqualTo(0x50);
        assertThat(le16(img, p + 6)).isEqualTo(4);
        assertThat(le32(img, p + 8)).isEqualTo(3);
        // TLV area: magic 0x6907, its size to the end, SHA-256 of everything before it, key hash, signature
        int t = p + prot;
        assertThat(le16(img, t)).isEqualTo(0x6907);
        assertThat(t + le16(img, t + 2)).as("the TLV area ends the image").isEqualTo(img.length);
        assertThat(le16(img, t + 4)).isEqualTo(0x10);
        assertThat(le16(img, t + 6)).isEqualTo(32);
        assertThat(Arrays.copyOfRange(img, t + 8, t + 40)).isEqualTo(MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(img, t)));
        assertThat(le16(img, t + 40)).isEqualTo(0x01);
        assertThat(Arrays.copyOfRange(img, t + 44, t + 76)).isEqualTo(MessageDigest.getInstance("SHA-256").digest(p256.publicKey().getEncoded()));
        assertThat(le16(img, t + 76)).isEqualTo(0x22);
        assertThat(le16(img, t + 78)).as("a DER ECDSA P-256 signature").isBetween(68, 72);
    }

    @Test
    void anIndependentVerifierAcceptsItAndRefusesATamperedImage() throws Exception {
        for (SigningKey key : new SigningKey[] {p256, ed25519}) {
            String name = key.algorithm().configName();
            Path pub = dir.resolve(name + ".pub.pem");
            Files.writeString(pub, Pem.encode("PUBLIC KEY", key.publicKey().getEncoded()));
            byte[] img = McubootImage.sign(app, McubootImage.Version.parse("2.0.1"), McubootImage.DEFAULT_HEADER_SIZE, null, key);
            Path signed = dir.resolve(name + ".signed.bin");
            Files.write(signed, img);
            assertThat(verify(signed, pub)).as(name).isEqualTo("OK version 2.0.1+0, image 10000 bytes");
            img[0x200 + 5] ^= 1;
            Files.write(signed, img);
            assertThat(verify(signed, pub)).as(name + ", one bit of the image changed").startsWith("FAIL: the SHA-256 TLV does not match");
        }
        byte[] other = McubootImage.sign(app, McubootImage.Version.parse("2.0.1"), 0x200, 9L, ed25519);
        Path signed = dir.resolve("other.signed.bin");
        Files.write(signed, other);
        assertThat(verify(signed, dir.resolve("ecdsa-p256.pub.pem"))).as("signed by another key").startsWith("FAIL: the key-hash TLV names another key");
        assertThat(verify(signed, dir.resolve("ed25519.pub.pem"))).isEqualTo("OK version 2.0.1+0, image 10000 bytes, security counter 9");
    }

    @Test
    void aTamperedHeaderABadTlvLengthAndATruncatedImageAreEachRefusedWithTheirReason() throws Exception {
        Path pub = dir.resolve("p256-bad.pub.pem");
        Files.writeString(pub, Pem.encode("PUBLIC KEY", p256.publicKey().getEncoded()));
        byte[] good = McubootImage.sign(app, McubootImage.Version.parse("2.0.1"), 0x200, 4L, p256);
        int tlvInfo = 0x200 + app.length + 12; // after the protected area (4 + a 4-byte counter TLV + its 4-byte header)
        record Case(String what, byte[] image, String says) {}
        byte[] header = good.clone();
        header[20] = 9; // the version's major: a downgrade made to look like an upgrade
        byte[] tlvLength = good.clone();
        tlvLength[tlvInfo + 2] += 16; // the TLV area claims 16 more bytes than there are
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 10);
        for (Case c : java.util.List.of(new Case("tampered header", header, "FAIL: the SHA-256 TLV does not match"),
                new Case("TLV area length", tlvLength, "FAIL: TLV area of"),
                new Case("truncated", truncated, "FAIL: TLV area of"))) {
            Path f = dir.resolve("bad.signed.bin");
            Files.write(f, c.image());
            assertThat(verify(f, pub)).as(c.what()).startsWith(c.says());
        }
        Files.write(dir.resolve("good.signed.bin"), good);
        assertThat(verify(dir.resolve("good.signed.bin"), pub)).isEqualTo("OK version 2.0.1+0, image 10000 bytes, security counter 4");
    }

    @Test
    void badParametersAreRefusedWithTheReason() {
        assertThatThrownBy(() -> McubootImage.Version.parse("1.256.0")).isInstanceOf(PkiException.class).hasMessageContaining("0-255");
        assertThatThrownBy(() -> McubootImage.Version.parse("v1")).isInstanceOf(PkiException.class).hasMessageContaining("1.4.2+7");
        assertThatThrownBy(() -> McubootImage.sign(app, McubootImage.Version.parse("1.0"), 16, null, p256)).isInstanceOf(PkiException.class)
                .hasMessageContaining("header size");
        assertThatThrownBy(() -> McubootImage.sign(new byte[0], McubootImage.Version.parse("1.0"), 0x200, null, p256)).isInstanceOf(PkiException.class)
                .hasMessageContaining("empty");
    }

    private static String verify(Path image, Path pub) throws Exception {
        Path script = Path.of("").toAbsolutePath().getParent().resolve("conformance/mcuboot_verify.py");
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), image.toString(), pub.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return out;
    }
}
