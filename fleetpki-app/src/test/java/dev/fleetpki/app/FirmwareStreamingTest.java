package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 64 MB image signed through {@code POST /api/v1/firmware/signatures} by a {@code fleetpki serve}
 * whose heap is 64 MB: a server that held the image whole (let alone twice) could not answer. curl
 * sends it, the independent MCUboot verifier checks what comes back.
 */
class FirmwareStreamingTest {
    @TempDir Path dir;

    @Test
    void aServerWithA64MbHeapSignsA64MbImage() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        Path root = dir.resolve("root.pem");
        Files.writeString(root, Cli.run(home, "export", "trust-bundle", "--root-only").out());
        Cli.Result signer = Cli.run(home, "signer", "add", "release", "--key", "file:signers/release.p8", "--create", "--models", "sensor-v2",
                "--out", dir.resolve("release.pem").toString());
        assertThat(signer.exit()).as(signer.all()).isZero();
        Cli.Result token = Cli.run(home, "token", "create", "ci", "--role", "firmware-signer", "--signers", "release", "--models", "sensor-v2");
        assertThat(token.exit()).as(token.all()).isZero();
        Files.writeString(dir.resolve("auth.txt"), "Authorization: Bearer " + token.out().trim() + "\n");
        Path image = dir.resolve("big.bin");
        byte[] chunk = new byte[1 << 20];
        Random rnd = new Random(64);
        try (OutputStream out = Files.newOutputStream(image)) {
            for (int i = 0; i < 64; i++) {
                rnd.nextBytes(chunk);
                out.write(chunk);
            }
        }

        int port = Proc.freePort();
        List<String> args = new ArrayList<>(List.of("serve", "--home", home.toString(), "--port", String.valueOf(port), "--http-port", "-1",
                "--hostname", "pki.fleet.example"));
        Process p = new ProcessBuilder(Proc.java(List.of("-Xmx64m"), Main.class, args.toArray(new String[0]))).redirectErrorStream(true).start();
        try {
            List<String> lines = Proc.awaitLine(p, "fleetpki serving https://");
            assertThat(String.join("\n", lines)).as("serve started").contains("fleetpki serving https://");
            Proc.Result curl = Proc.run(dir, Map.of(), "curl", "-sS", "--fail-with-body", "--cacert", root.toString(),
                    "--resolve", "pki.fleet.example:" + port + ":127.0.0.1", "-H", "@" + dir.resolve("auth.txt"),
                    "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + image, "-o", dir.resolve("big.signed.bin").toString(),
                    "https://pki.fleet.example:" + port + "/api/v1/firmware/signatures?signer=release&model=sensor-v2&version=5.0.0&format=mcuboot&padHeader=true");
            assertThat(curl.exit()).as(curl.output()).isZero();
        } finally {
            Proc.stop(p);
        }
        assertThat(Files.size(dir.resolve("big.signed.bin"))).isGreaterThan(Files.size(image) + 0x200);
        Proc.ok(dir, "openssl", "x509", "-in", dir.resolve("release.pem").toString(), "-pubkey", "-noout", "-out", dir.resolve("release.pub").toString());
        Path script = Path.of("").toAbsolutePath().getParent().resolve("conformance/mcuboot_verify.py");
        assertThat(Proc.ok(dir, "/usr/bin/python3", script.toString(), dir.resolve("big.signed.bin").toString(), dir.resolve("release.pub").toString()))
                .contains("OK version 5.0.0+0, image 67108864 bytes");
    }
}
