package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, {@code fleetpki quickstart --serve}, leaves a server that curl can use with the demo token. */
class QuickstartServeTest {
    @TempDir
    Path dir;

    @Test
    void quickstartServeLeavesAServerCurlCanUse() throws Exception {
        int port = Proc.freePort();
        Path home = dir.resolve("demo");
        Process p = new ProcessBuilder(Proc.java(List.of(), Main.class, "quickstart", "--serve", "--dir", home.toString(), "--port", String.valueOf(port),
                "--http-port", "0")).redirectErrorStream(true).start();
        try {
            List<String> lines = Proc.awaitLine(p, "  docs:"); // the last line it prints before serving
            assertThat(String.join("\n", lines)).contains("fleetpki serving https://127.0.0.1:" + port + "/");

            Path token = home.resolve("secrets/demo-token");
            assertThat(Files.getPosixFilePermissions(token).toString()).isEqualTo("[OWNER_READ, OWNER_WRITE]");
            String t = Files.readString(token).trim();
            assertThat(String.join("\n", lines)).doesNotContain(t); // the token is in the file, not on the screen
            Path root = dir.resolve("root.pem");
            Files.writeString(root, Cli.run(home, "export", "trust-bundle", "--root-only").out());
            Proc.Result device = Proc.run(dir, Map.of(), "curl", "-sS", "--cacert", root.toString(), "-H", "Authorization: Bearer " + t,
                    "https://localhost:" + port + "/api/v1/devices/demo-sensor-001");
            assertThat(device.output()).contains("\"id\":\"demo-sensor-001\"").contains("\"certificates\":[{");
        } finally {
            Proc.stop(p);
        }
        // the server signed the audit head as it started and as it stopped: the anchors the log is checked against
        assertThat(Files.readAllLines(home.resolve("audit/checkpoints"))).isNotEmpty();
        Cli.Result verify = Cli.run(home, "audit", "verify");
        assertThat(verify.exit()).as(verify.all()).isZero();
        assertThat(verify.out()).containsPattern("\\d+ signed checkpoints? match");
    }
}
