package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.firmware.CmsFirmwareSignature;
import dev.fleetpki.core.firmware.FirmwareManifest;
import dev.fleetpki.core.firmware.RawFirmwareSignature;
import dev.fleetpki.device.DeviceMain;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.kms.SigningKey;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The firmware loop with real parts: fleetpki signs with a signer's key, {@code openssl cms} and an
 * independent MCUboot verifier check what it made, and the device's verifier
 * ({@code fleetpki-device firmware verify}) accepts the good image and refuses each bad one with
 * its own message, installing nothing.
 */
class FirmwareTest {
    @TempDir static Path dir;
    static Path home;
    static Path root;
    static Path crl;
    static final byte[] IMAGE = image(300_000);

    static byte[] image(int size) {
        byte[] b = new byte[size];
        new Random(42).nextBytes(b);
        return b;
    }

    @BeforeAll
    static void ca() throws Exception {
        home = dir.resolve("ca");
        TestHome.write(home, "ecdsa-p256", """
                codeSigning:
                  subject: "CN=Test Code Signing CA,O=fleetpki test"
                  algorithm: ecdsa-p256
                """, null);
        TestHome.init(home);
        root = home.resolve("ca/root.pem");
        ok("signer", "add", "release", "--key", "file:signers/release.p8", "--create", "--models", "sensor-v2", "--out", dir.resolve("release.pem").toString());
        Files.write(dir.resolve("app.bin"), IMAGE);
        for (String format : List.of("cms", "raw", "mcuboot")) {
            ok("firmware", "sign", "--signer", "release", "--image", dir.resolve("app.bin").toString(), "--version", "1.4.2", "--model", "sensor-v2",
                    "--format", format, "--security-counter", "3", "--minimum-previous-version", "1.2.0", "--pad-header");
        }
        crl = exportCrl();
    }

    static String ok(String... args) {
        Cli.Result r = Cli.run(home, args);
        assertThat(r.exit()).as(String.join(" ", args) + "\n" + r.all()).isZero();
        return r.out();
    }

    static Path exportCrl() {
        Path out = dir.resolve("crls-" + System.nanoTime());
        ok("crl", "export", "--generate", "--out", out.toString());
        return out.resolve("code-signing.crl");
    }

    static Cli.Result device(String... args) {
        return Cli.capture(() -> DeviceMain.run(args));
    }

    static Cli.Result verify(Path image, Path signature, Path manifest, String installed, long counter, Path crlFile, Path installTo) {
        List<String> a = new ArrayList<>(List.of("firmware", "verify", "--image", image.toString(), "--signature", signature.toString(),
                "--trust", root.toString(), "--model", "sensor-v2", "--installed-version", installed, "--installed-security-counter",
                Long.toString(counter), "--crl", crlFile.toString()));
        if (manifest != null) {
            a.addAll(List.of("--manifest", manifest.toString()));
        }
        if (installTo != null) {
            a.addAll(List.of("--install-to", installTo.toString()));
        }
        return device(a.toArray(new String[0]));
    }

    static Cli.Result verifyCms(Path image, Path sig, Path manifest) {
        return verify(image, sig, manifest, "1.3.0", 2, crl, null);
    }

    @Test
    void opensslVerifiesTheCmsSignatureAgainstTheRootAloneAndMcubootTheSignedImage() throws Exception {
        String cms = Proc.ok(dir, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "app.manifest.json.p7s", "-content",
                "app.manifest.json", "-CAfile", root.toString(), "-purpose", "any", "-out", "/dev/null");
        assertThat(cms).contains("Verification successful");
        Proc.ok(dir, "openssl", "x509", "-in", dir.resolve("release.pem").toString(), "-pubkey", "-noout", "-out", dir.resolve("release.pub").toString());
        Path script = Path.of("").toAbsolutePath().getParent().resolve("conformance/mcuboot_verify.py");
        assertThat(Proc.ok(dir, "/usr/bin/python3", script.toString(), dir.resolve("app.signed.bin").toString(), dir.resolve("release.pub").toString()))
                .contains("OK version 1.4.2+0, image 300000 bytes, security counter 3");
    }

    @Test
    void theDeviceVerifiesAGoodImageInEitherFormatAndOnlyThenInstallsIt() throws Exception {
        Path slot = dir.resolve("slot-b.bin");
        Cli.Result cms = verify(dir.resolve("app.bin"), dir.resolve("app.manifest.json.p7s"), dir.resolve("app.manifest.json"), "1.3.0", 2, crl, slot);
        assertThat(cms.exit()).as(cms.all()).isZero();
        assertThat(cms.out()).contains("Verified app.bin: version 1.4.2 for sensor-v2, security counter 3, signed by release")
                .contains("revocation checked").contains("installed to");
        assertThat(Files.readAllBytes(slot)).isEqualTo(IMAGE);
        Cli.Result raw = verify(dir.resolve("app.bin"), dir.resolve("app.fwsig"), null, "1.3.0", 2, crl, null);
        assertThat(raw.exit()).as(raw.all()).isZero();
        Cli.Result noCrl = device("firmware", "verify", "--image", dir.resolve("app.bin").toString(), "--signature", dir.resolve("app.fwsig").toString(),
                "--trust", root.toString(), "--model", "sensor-v2", "--installed-version", "1.3.0");
        assertThat(noCrl.exit()).isEqualTo(65);
        assertThat(noCrl.err()).contains("--no-revocation-check");
    }

    @Test
    void eachBadImageOrSignatureIsRefusedWithItsOwnReasonAndNothingIsInstalled() throws Exception {
        Path app = dir.resolve("app.bin");
        Path sig = dir.resolve("app.manifest.json.p7s");
        Path manifest = dir.resolve("app.manifest.json");
        Path raw = dir.resolve("app.fwsig");
        byte[] swapped = IMAGE.clone();
        swapped[1000] ^= 1;
        Path swappedImage = write("swapped.bin", swapped);
        Path truncated = write("truncated.bin", java.util.Arrays.copyOf(IMAGE, IMAGE.length - 10));
        Path tamperedManifest = write("tampered.json", Files.readString(manifest).replace("\"securityCounter\":3", "\"securityCounter\":9")
                .getBytes(StandardCharsets.UTF_8));
        byte[] rawBytes = Files.readAllBytes(raw);
        byte[] badLength = rawBytes.clone();
        ByteBuffer.wrap(badLength).putInt(8, 1_000_000); // the manifest's length field
        Path badLengthRaw = write("bad-length.fwsig", badLength);
        byte[] rawTampered = rawBytes.clone();
        rawTampered[20] ^= 1; // inside the manifest
        Path tamperedRaw = write("tampered.fwsig", rawTampered);
        Path slot = dir.resolve("slot-never.bin");

        record Case(String what, Cli.Result result, String says) {}
        List<Case> cases = List.of(
                new Case("swapped image", verify(swappedImage, sig, manifest, "1.3.0", 2, crl, slot), "SHA-256 is not the one the manifest names"),
                new Case("truncated image", verify(truncated, raw, null, "1.3.0", 2, crl, slot), "the manifest says 300000 (truncated"),
                new Case("tampered manifest", verify(app, sig, tamperedManifest, "1.3.0", 2, crl, slot), "does not verify"),
                new Case("tampered raw manifest", verify(app, tamperedRaw, null, "1.3.0", 2, crl, slot), "does not verify"),
                new Case("raw length field", verify(app, badLengthRaw, null, "1.3.0", 2, crl, slot), "claims 1000000 bytes"),
                new Case("downgrade", verify(app, sig, manifest, "1.5.0", 2, crl, slot), "is not newer than the installed 1.5.0"),
                new Case("reinstall", verify(app, raw, null, "1.4.2", 2, crl, slot), "is not newer than the installed 1.4.2"),
                new Case("security counter", verify(app, sig, manifest, "1.3.0", 4, crl, slot), "security counter 3 is below the installed 4"),
                new Case("minimum previous version", verify(app, raw, null, "1.1.0", 0, crl, slot), "replaces version 1.2.0 or later"),
                new Case("model", device("firmware", "verify", "--image", app.toString(), "--signature", raw.toString(), "--trust", root.toString(),
                        "--model", "camera", "--installed-version", "1.0.0", "--crl", crl.toString(), "--install-to", slot.toString()),
                        "is for model 'sensor-v2'; this device is 'camera'"),
                new Case("no manifest for cms", verify(app, sig, null, "1.3.0", 2, crl, slot), "give the manifest"));
        for (Case c : cases) {
            assertThat(c.result().exit()).as(c.what() + ": " + c.result().all()).isEqualTo(65);
            assertThat(c.result().err()).as(c.what()).contains(c.says());
        }
        assertThat(slot).doesNotExist();
    }

    @Test
    void aSignatureByADeviceCertificateOrAnotherCasSignerIsRefused() throws Exception {
        // a device certificate (clientAuth) whose key signs a raw manifest: the chain is good, the purpose is not
        DefaultKeyManager keys = new DefaultKeyManager(dir);
        SecretSource pass = new SecretSource.File(home.resolve("secrets/passphrase"));
        SigningKey deviceKey = keys.create(KeyRef.parse("file:dev-1.p8"), dev.fleetpki.kms.KeyAlgorithm.EC_P256, pass);
        ok("device", "add", "dev-1");
        Path csr = dir.resolve("dev-1.csr");
        Files.writeString(csr, dev.fleetpki.kms.Pem.encode("CERTIFICATE REQUEST", new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(
                new org.bouncycastle.asn1.x500.X500Name("CN=dev-1"), deviceKey.publicKey()).build(deviceKey.contentSigner()).getEncoded()));
        List<X509Certificate> devChain = parse(ok("sign", "--csr", csr.toString(), "--device", "dev-1"));
        byte[] m = manifest(Instant.now().minusSeconds(5));
        Path byDevice = write("by-device.fwsig", RawFirmwareSignature.sign(m, deviceKey, devChain.getFirst(), devChain.subList(1, devChain.size())));
        Cli.Result r = verify(dir.resolve("app.bin"), byDevice, null, "1.3.0", 0, crl, null);
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.err()).contains("is not for code signing (no codeSigning extended key usage)");

        // a signer of another fleetpki CA: a proper code-signing certificate, but not under this fleet's root
        Path other = dir.resolve("other-ca");
        TestHome.write(other, "ecdsa-p256", null, null);
        TestHome.init(other);
        Cli.Result made = Cli.run(other, "signer", "add", "rogue", "--key", "file:signers/rogue.p8", "--create", "--models", "*");
        assertThat(made.exit()).as(made.all()).isZero();
        Path foreign = dir.resolve("foreign");
        Files.createDirectories(foreign);
        Files.write(foreign.resolve("app.bin"), IMAGE);
        Cli.Result signed = Cli.run(other, "firmware", "sign", "--signer", "rogue", "--image", foreign.resolve("app.bin").toString(), "--version", "9.0.0",
                "--model", "sensor-v2", "--format", "raw");
        assertThat(signed.exit()).as(signed.all()).isZero();
        Cli.Result refused = verify(dir.resolve("app.bin"), foreign.resolve("app.fwsig"), null, "1.3.0", 0, crl, null);
        assertThat(refused.exit()).isEqualTo(65);
        assertThat(refused.err()).contains("does not chain to this device's fleet root");
    }

    @Test
    void aRevokedSignerSignsNothingMoreAndItsEarlierImagesStayValidUnlessItsKeyWasCompromisedBeforeThem() throws Exception {
        ok("signer", "add", "nightly", "--key", "file:signers/nightly.p8", "--create", "--models", "sensor-v2", "--out", dir.resolve("nightly.pem").toString());
        Path img = dir.resolve("nightly");
        Files.createDirectories(img);
        Files.write(img.resolve("a.bin"), IMAGE);
        var signed = new com.fasterxml.jackson.databind.ObjectMapper().readTree(ok("firmware", "sign", "--signer", "nightly", "--image",
                img.resolve("a.bin").toString(), "--version", "2.0.0", "--model", "sensor-v2", "--format", "raw", "--json"));
        assertThat(signed.path("format").asText()).isEqualTo("raw");
        assertThat(signed.path("sha256").asText()).isEqualTo(java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(IMAGE)));
        assertThat(signed.path("files").get(0).asText()).isEqualTo(img.resolve("a.fwsig").toString());
        assertThat(Files.exists(img.resolve("a.fwsig"))).isTrue();
        Thread.sleep(1100); // signing times have whole seconds: the revocation comes after the signature
        ok("signer", "revoke", "nightly", "--reason", "superseded");
        Path crlAfter = exportCrl();
        Cli.Result before = verify(img.resolve("a.bin"), img.resolve("a.fwsig"), null, "1.3.0", 0, crlAfter, null);
        assertThat(before.exit()).as("signed before the revocation: still valid\n" + before.all()).isZero();
        Cli.Result again = Cli.run(home, "firmware", "sign", "--signer", "nightly", "--image", img.resolve("a.bin").toString(), "--version", "2.0.1",
                "--model", "sensor-v2", "--format", "raw");
        assertThat(again.exit()).isEqualTo(77);
        assertThat(again.err()).contains("signer 'nightly' was revoked at");

        // someone holding the stolen key signs after the revocation (the signing time is theirs to write): refused by the CRL
        List<X509Certificate> chain = parse(Files.readString(dir.resolve("nightly.pem")));
        SigningKey stolen = new DefaultKeyManager(home).open(KeyRef.parse("file:signers/nightly.p8"), new SecretSource.File(home.resolve("secrets/passphrase")));
        Path late = write("late.fwsig", RawFirmwareSignature.sign(manifest(Instant.now().plusSeconds(60)), stolen, chain.getFirst(), chain.subList(1, chain.size())));
        Cli.Result after = verify(dir.resolve("app.bin"), late, null, "1.3.0", 0, crlAfter, null);
        assertThat(after.exit()).isEqualTo(65);
        assertThat(after.err()).contains("was revoked at").contains("after that; refused");
        // and backdated before the revocation it passes: what a signing time from the signer's own clock cannot defend (docs/firmware.md)
        Instant beforeRevocation = chain.getFirst().getNotBefore().toInstant().plusSeconds(60); // inside the certificate's validity
        Path backdated = write("backdated.fwsig", RawFirmwareSignature.sign(manifest(beforeRevocation), stolen, chain.getFirst(),
                chain.subList(1, chain.size())));
        assertThat(verify(dir.resolve("app.bin"), backdated, null, "1.3.0", 0, crlAfter, null).exit()).isZero();
        // unless the operator said since when the key was compromised: the CRL's invalidity date covers the backdated signature
        ok("signer", "add", "stolen", "--key", "file:signers/stolen.p8", "--create", "--models", "sensor-v2", "--out", dir.resolve("stolen.pem").toString());
        List<X509Certificate> sc = parse(Files.readString(dir.resolve("stolen.pem")));
        SigningKey sk = new DefaultKeyManager(home).open(KeyRef.parse("file:signers/stolen.p8"), new SecretSource.File(home.resolve("secrets/passphrase")));
        Path early = write("early.fwsig", RawFirmwareSignature.sign(manifest(Instant.now().minusSeconds(60)), sk, sc.getFirst(), sc.subList(1, sc.size())));
        ok("signer", "revoke", "stolen", "--reason", "key-compromise", "--invalid-since", Instant.now().minusSeconds(120).toString());
        Cli.Result compromised = verify(dir.resolve("app.bin"), early, null, "1.3.0", 0, exportCrl(), null);
        assertThat(compromised.exit()).isEqualTo(65);
        assertThat(compromised.err()).contains("its key compromised since");
    }

    @Test
    void anExpiredSignersSignatureIsRefusedAndTheCmsFormatCarriesTheSigningTimeTheDeviceChecks() throws Exception {
        List<X509Certificate> chain = parse(Files.readString(dir.resolve("release.pem")));
        SigningKey key = new DefaultKeyManager(home).open(KeyRef.parse("file:signers/release.p8"), new SecretSource.File(home.resolve("secrets/passphrase")));
        Instant afterExpiry = chain.getFirst().getNotAfter().toInstant().plusSeconds(86_400);
        byte[] m = manifest(afterExpiry);
        Path manifest = write("expired.json", m);
        Path sig = write("expired.p7s", CmsFirmwareSignature.sign(m, key, chain.getFirst(), chain.subList(1, chain.size()), afterExpiry));
        Cli.Result r = verifyCms(dir.resolve("app.bin"), sig, manifest);
        assertThat(r.exit()).isEqualTo(65);
        assertThat(r.err()).contains("is not valid at the signing time " + afterExpiry);
    }

    @Test
    void anIntelHexImageSignsToTheSameMcubootImageAsItsBinary() throws Exception {
        Path hexDir = dir.resolve("hex");
        Files.createDirectories(hexDir);
        Files.write(hexDir.resolve("zephyr.bin"), IMAGE);
        Proc.ok(hexDir, "objcopy", "-I", "binary", "-O", "ihex", "--change-addresses", "0x10000", "zephyr.bin", "zephyr.hex");
        String fromHex = ok("firmware", "sign", "--signer", "release", "--image", hexDir.resolve("zephyr.hex").toString(), "--version", "1.4.2",
                "--model", "sensor-v2", "--format", "mcuboot", "--pad-header", "--out", hexDir.resolve("from-hex.bin").toString());
        String fromBin = ok("firmware", "sign", "--signer", "release", "--image", hexDir.resolve("zephyr.bin").toString(), "--version", "1.4.2",
                "--model", "sensor-v2", "--format", "mcuboot", "--pad-header", "--out", hexDir.resolve("from-bin.bin").toString());
        String hash = fromBin.lines().filter(l -> l.contains("image hash")).findFirst().orElseThrow();
        assertThat(fromHex).contains(hash);
        byte[] a = Files.readAllBytes(hexDir.resolve("from-hex.bin"));
        byte[] b = Files.readAllBytes(hexDir.resolve("from-bin.bin"));
        int signedPart = 0x200 + IMAGE.length;
        assertThat(java.util.Arrays.copyOf(a, signedPart)).isEqualTo(java.util.Arrays.copyOf(b, signedPart)); // the ECDSA signatures differ (random k)
        // a damaged hex file is refused, with the line
        String text = Files.readString(hexDir.resolve("zephyr.hex"));
        Files.writeString(hexDir.resolve("bad.hex"), text.replaceFirst("\n:10", "\n:11"));
        Cli.Result bad = Cli.run(home, "firmware", "sign", "--signer", "release", "--image", hexDir.resolve("bad.hex").toString(), "--version", "1.4.2",
                "--model", "sensor-v2", "--format", "mcuboot", "--pad-header");
        assertThat(bad.exit()).isEqualTo(65);
        assertThat(bad.err()).contains("Intel HEX line").contains("is not valid");
        assertThat(hexDir.resolve("bad.signed.bin")).doesNotExist();
    }

    @Test
    void theMbedtlsExampleVerifiesARawSignatureAndRefusesATamperedImageAForeignSignerAndADowngrade() throws Exception {
        Path example = Path.of("").toAbsolutePath().getParent().resolve("examples/mbedtls-device");
        Path bin = dir.resolve("mbedtls-firmware");
        Proc.Result build = Proc.run(example, Map.of(), "make", "-s", "FIRMWARE_OUT=" + bin, bin.toString());
        assertThat(build.exit()).as("gcc + libmbedtls-dev (apt-get install gcc make libmbedtls-dev):\n" + build.output()).isZero();
        String app = dir.resolve("app.bin").toString();
        String sig = dir.resolve("app.fwsig").toString();
        Proc.Result ok = Proc.run(dir, Map.of(), bin.toString(), "verify", app, sig, root.toString(), "sensor-v2", "1.3.0", "2");
        assertThat(ok.exit()).as(ok.output()).isZero();
        assertThat(ok.output()).contains("verified: version 1.4.2 for sensor-v2, signed by CN=release");
        // a P-384 signer: the manifest names the image by SHA-384, signed with SHA-384; both verifiers follow
        ok("signer", "add", "p384", "--key", "file:signers/p384.p8", "--create", "--algorithm", "ecdsa-p384", "--models", "sensor-v2");
        Path p384Dir = Files.createDirectories(dir.resolve("p384"));
        Files.write(p384Dir.resolve("app.bin"), IMAGE);
        ok("firmware", "sign", "--signer", "p384", "--image", p384Dir.resolve("app.bin").toString(), "--version", "1.4.2", "--model", "sensor-v2",
                "--format", "raw");
        assertThat(Files.readString(p384Dir.resolve("app.fwsig"), StandardCharsets.ISO_8859_1)).contains("\"sha384\":\"");
        Proc.Result p384 = Proc.run(dir, Map.of(), bin.toString(), "verify", p384Dir.resolve("app.bin").toString(), p384Dir.resolve("app.fwsig").toString(),
                root.toString(), "sensor-v2", "1.3.0");
        assertThat(p384.exit()).as(p384.output()).isZero();
        Cli.Result javaP384 = verify(p384Dir.resolve("app.bin"), p384Dir.resolve("app.fwsig"), null, "1.3.0", 0, exportCrl(), null);
        assertThat(javaP384.exit()).as(javaP384.all()).isZero();
        assertThat(javaP384.out()).contains("sha384:");
        byte[] tampered = IMAGE.clone();
        tampered[12345] ^= 0x40;
        Path foreign = dir.resolve("c-foreign");
        Files.createDirectories(foreign);
        Path otherHome = TestHome.write(foreign.resolve("ca"), "ecdsa-p256", null, null);
        TestHome.init(otherHome);
        assertThat(Cli.run(otherHome, "signer", "add", "rogue", "--key", "file:signers/rogue.p8", "--create", "--models", "*").exit()).isZero();
        Files.write(foreign.resolve("app.bin"), IMAGE);
        assertThat(Cli.run(otherHome, "firmware", "sign", "--signer", "rogue", "--image", foreign.resolve("app.bin").toString(), "--version", "9.0.0",
                "--model", "sensor-v2", "--format", "raw").exit()).isZero();
        record Case(String what, List<String> args, String says) {}
        for (Case c : List.of(
                new Case("tampered image", List.of(write("c-tampered.bin", tampered).toString(), sig, root.toString(), "sensor-v2", "1.3.0"),
                        "the image's digest is not the manifest's"),
                new Case("foreign signer", List.of(app, foreign.resolve("app.fwsig").toString(), root.toString(), "sensor-v2", "1.3.0"),
                        "the signer does not chain to the pinned root"),
                new Case("downgrade", List.of(app, sig, root.toString(), "sensor-v2", "1.5.0"), "the image is not newer than the installed version"),
                new Case("rollback", List.of(app, sig, root.toString(), "sensor-v2", "1.3.0", "4"), "the image's security counter is below"),
                new Case("model", List.of(app, sig, root.toString(), "camera", "1.3.0"), "the image is for another model"),
                new Case("truncated signature", List.of(app, write("c-cut.fwsig", java.util.Arrays.copyOf(Files.readAllBytes(Path.of(sig)), 100)).toString(),
                        root.toString(), "sensor-v2", "1.3.0"), "the signature file is truncated or a length field was changed"))) {
            List<String> cmd = new ArrayList<>(List.of(bin.toString(), "verify"));
            cmd.addAll(c.args());
            Proc.Result r = Proc.run(dir, Map.of(), cmd.toArray(new String[0]));
            assertThat(r.exit()).as(c.what() + ": " + r.output()).isEqualTo(2);
            assertThat(r.output()).as(c.what()).contains("refused: " + c.says());
        }
    }

    static byte[] manifest(Instant signedAt) throws Exception {
        return new FirmwareManifest(MessageDigest.getInstance("SHA-256").digest(IMAGE), IMAGE.length, "1.4.2", "sensor-v2", 0, null, "someone",
                signedAt).json();
    }

    static Path write(String name, byte[] bytes) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    static List<X509Certificate> parse(String pem) throws Exception {
        return CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII))).stream()
                .map(c -> (X509Certificate) c).toList();
    }
}
