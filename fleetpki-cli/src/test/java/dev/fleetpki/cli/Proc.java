package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs an external program (openssl, softhsm2-util, pkcs11-tool) with a time limit. */
public final class Proc {
    public record Result(int exit, String output) {}

    private Proc() {}

    /**
     * Runs a command to its end, for up to 120 s: its output (stdout and stderr merged) is read on
     * another thread, so a child that hangs, or leaves a grandchild holding the pipe, fails the
     * test with what it printed instead of blocking it; on time-out the child and its descendants
     * are killed.
     */
    public static Result run(Path dir, Map<String, String> env, String... cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            pb.environment().putAll(env);
            Process p = pb.start();
            java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
            Thread reader = Thread.ofVirtual().start(() -> {
                try (var in = p.getInputStream()) {
                    in.transferTo(buf);
                } catch (IOException e) {
                    // the process was killed
                }
            });
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                kill(p);
                reader.join(2_000);
                throw new AssertionError("timed out after 120 s: " + String.join(" ", cmd) + "\n" + output(buf));
            }
            reader.join(10_000);
            return new Result(p.exitValue(), output(buf));
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd[0] + " (is it installed? .ci/run installs it): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static String output(java.io.ByteArrayOutputStream buf) {
        synchronized (buf) {
            return buf.toString(StandardCharsets.UTF_8);
        }
    }

    /** Kills a process and everything it started. */
    public static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** Runs and asserts success. */
    public static String ok(Path dir, String... cmd) {
        Result r = run(dir, Map.of(), cmd);
        assertThat(r.exit()).as(String.join(" ", cmd) + "\n" + r.output()).isZero();
        return r.output();
    }

    public static List<String> opensslVerify(Path root, Path issuing, Path leaf) {
        return List.of("openssl", "verify", "-CAfile", root.toString(), "-untrusted", issuing.toString(), leaf.toString());
    }

    /** Waits (up to 10 s) until something listens on 127.0.0.1:port; else fails with what {@code log} holds. */
    public static void awaitListening(int port, Path log) throws Exception {
        for (int i = 0; i < 100; i++) {
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("nothing listens on " + port + ": " + (java.nio.file.Files.exists(log) ? java.nio.file.Files.readString(log) : "no log"));
    }

    /** The command that runs {@code main} in a child JVM like this one (same java, same class path). */
    public static List<String> java(List<String> jvmOptions, Class<?> main, String... args) {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Reads what a started process prints (stdout and stderr merged) until a line starts with
     * {@code prefix}, for up to 120 s; returns the lines so far, and keeps draining its output.
     */
    public static List<String> awaitLine(Process p, String prefix) throws IOException {
        List<String> lines = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.util.concurrent.CountDownLatch seen = new java.util.concurrent.CountDownLatch(1);
        java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        Thread.ofVirtual().start(() -> { // reads on, so a silent process cannot block the test, and keeps draining after the line
            try {
                for (String line = out.readLine(); line != null; line = out.readLine()) {
                    if (seen.getCount() > 0) {
                        lines.add(line);
                        if (line.startsWith(prefix)) {
                            seen.countDown();
                        }
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        try {
            seen.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    /** A port nothing listens on right now. */
    /**
     * A program's path: found on {@code $PATH}, else where Debian puts daemons (/usr/sbin, /sbin),
     * which a normal user's PATH lacks (nginx, mosquitto); else the bare name, so the error names it.
     */
    public static String program(String name) {
        return program(name, System.getenv().getOrDefault("PATH", ""));
    }

    static String program(String name, String path) {
        List<String> dirs = new java.util.ArrayList<>(List.of(path.split(java.io.File.pathSeparator)));
        dirs.addAll(List.of("/usr/local/sbin", "/usr/sbin", "/sbin"));
        for (String d : dirs) {
            if (!d.isEmpty() && java.nio.file.Files.isExecutable(Path.of(d, name))) {
                return Path.of(d, name).toString();
            }
        }
        return name;
    }

    public static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Ends a server process, forcibly after 10 s. */
    public static void stop(Process p) throws InterruptedException {
        if (p != null) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                kill(p);
            }
        }
    }
}
