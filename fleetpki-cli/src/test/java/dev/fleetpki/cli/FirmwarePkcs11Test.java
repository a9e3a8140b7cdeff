package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A firmware signer whose key fleetpki makes in a real SoftHSM2 token (non-extractable) and signs
 * with through SunPKCS11: the MCUboot image's digest and the CMS manifest are signed in the token,
 * and the independent verifiers accept both. What MCUboot's imgtool cannot do (it needs the key in
 * a PEM file). Runs the CLI in a child JVM because SoftHSM reads SOFTHSM2_CONF from the environment.
 */
class FirmwarePkcs11Test {
    static final String MODULE = TestHome.SOFTHSM_MODULE;

    @TempDir Path home;

    @Test
    void aSignerKeyInATokenSignsMcubootAndCmsAndNeverLeavesIt() throws Exception {
        Map<String, String> env = TestHome.softHsmToken(home, "fleet");
        Files.writeString(home.resolve("pin.txt"), "1234\n");
        TestHome.write(home, "ecdsa-p256", """
                codeSigning:
                  subject: "CN=Test Code Signing CA,O=fleetpki test"
                  algorithm: ecdsa-p256
                """, null);
        cli(env, "init");
        String key = "pkcs11:token=fleet;object=fw-release?module-path=" + MODULE + "&pin-source=file:pin.txt";
        assertThat(cli(env, "signer", "add", "release", "--key", key, "--create", "--models", "sensor-v2", "--out", "release.pem"))
                .contains("Created signer release").contains("PKCS#11 token 'fleet'");
        byte[] image = new byte[200_000];
        new Random(3).nextBytes(image);
        Files.write(home.resolve("app.bin"), image);
        cli(env, "firmware", "sign", "--signer", "release", "--image", "app.bin", "--version", "3.0.0", "--model", "sensor-v2", "--format", "mcuboot",
                "--pad-header");
        cli(env, "firmware", "sign", "--signer", "release", "--image", "app.bin", "--version", "3.0.0", "--model", "sensor-v2", "--format", "cms");

        Proc.ok(home, "openssl", "x509", "-in", "release.pem", "-pubkey", "-noout", "-out", "release.pub");
        Path script = Path.of("").toAbsolutePath().getParent().resolve("conformance/mcuboot_verify.py");
        assertThat(Proc.ok(home, "/usr/bin/python3", script.toString(), "app.signed.bin", "release.pub")).contains("OK version 3.0.0+0, image 200000 bytes");
        assertThat(Proc.ok(home, "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "app.manifest.json.p7s", "-content",
                "app.manifest.json", "-CAfile", "ca/root.pem", "-purpose", "any", "-out", "/dev/null")).contains("Verification successful");

        Proc.Result objects = Proc.run(home, env, "pkcs11-tool", "--module", MODULE, "--token-label", "fleet", "--login", "--pin", "1234",
                "--list-objects", "--type", "privkey");
        assertThat(objects.output()).contains(HexFormat.of().formatHex("fw-release".getBytes())).contains("never extractable").contains("always sensitive");
        assertThat(cli(env, "audit", "list")).contains("firmware.sign").contains("\"signer\":\"release\"");
    }

    private String cli(Map<String, String> env, String... args) {
        return Cli.inChildJvm(home, env, args);
    }
}
