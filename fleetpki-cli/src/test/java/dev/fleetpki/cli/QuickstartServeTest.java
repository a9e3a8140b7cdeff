package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, {@code fleetpki quickstart --serve}, leaves a server that curl can use with the demo token. */
class QuickstartServeTest {
    @TempDir
    Path dir;

    @Test
    void quickstartServeLeavesAServerCurlCanUse() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path home = dir.resolve("demo");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "quickstart", "--serve", "--dir", home.toString(), "--port", String.valueOf(port), "--http-port", "0").redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            long deadline = System.currentTimeMillis() + 120_000;
            String line;
            while (System.currentTimeMillis() < deadline && (line = out.readLine()) != null) {
                lines.add(line);
                if (line.startsWith("  docs:")) {
                    break; // the last line it prints before serving
                }
            }
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
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
