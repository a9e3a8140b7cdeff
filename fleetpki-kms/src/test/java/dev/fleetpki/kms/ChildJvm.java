package dev.fleetpki.kms;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starts a class's main in a new JVM with SOFTHSM2_CONF set, and returns what it printed. */
public final class ChildJvm {
    private ChildJvm() {}

    public static String run(Path softhsmConf, Class<?> main, String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java,
                "--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED",
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return runProcess(softhsmConf, cmd);
    }

    /**
     * Runs a command with SOFTHSM2_CONF set, for up to 120 s, reading its output on another thread
     * so a hung child fails the test with what it printed instead of blocking it; asserts exit 0.
     */
    static String runProcess(Path softhsmConf, List<String> cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SOFTHSM2_CONF", softhsmConf.toString());
        Process p = pb.start();
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> { // read apart, so a hung child fails the test instead of blocking it
            try (var in = p.getInputStream()) {
                in.transferTo(buf);
            } catch (java.io.IOException e) {
                // killed
            }
        });
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            reader.join(2_000);
            throw new AssertionError("timed out after 120 s: " + String.join(" ", cmd) + "\n" + buf.toString(StandardCharsets.UTF_8));
        }
        reader.join(10_000);
        String out = buf.toString(StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(String.join(" ", cmd) + "\n" + out).isZero();
        return out;
    }
}
