package dev.fleetpki.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.FleetSimulator;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The fleet simulator end to end at N devices: {@code fleetpki serve} (the quickstart's embedded
 * SQLite CA) in a JVM of its own, the simulator in this one, both on this machine. Each device is
 * registered through the REST API, given a one-time secret, makes its P-256 key, enrolls over EST
 * (TLS, the answer checked) and, with {@code --renew}, renews with a new key. Reports devices
 * enrolled per second, enrollment latency percentiles, and the share of the machine's CPU the
 * server and the simulator each used over the run.
 *
 * <p>{@code java -cp fleetpki-bench.jar dev.fleetpki.bench.SimulatorBench --devices=1000 --concurrency=64 --out=simulator.md}
 */
public final class SimulatorBench {
    public static void main(String[] args) throws Exception {
        Map<String, String> o = IssuanceBench.options(args);
        int devices = Integer.parseInt(o.getOrDefault("devices", "1000"));
        int concurrency = Integer.parseInt(o.getOrDefault("concurrency", "64"));
        boolean renew = Boolean.parseBoolean(o.getOrDefault("renew", "false"));
        Path out = Path.of(o.getOrDefault("out", "simulator.md"));
        Path home = Files.createTempDirectory("fleetpki-sim-bench").resolve("ca");
        String javaBin = ProcessHandle.current().info().command().orElse("java");
        List<String> cli = List.of(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", CrlBench.classpath(), "dev.fleetpki.app.Main");
        Process server = null;
        try {
            run(cli, "quickstart", "--dir", home.toString());
            String token = run(cli, "token", "create", "sim", "--role", "issuer", "--home", home.toString()).trim();
            token = token.lines().reduce((a, b) -> b).orElseThrow();
            int port = freePort();
            List<String> serve = new ArrayList<>(cli);
            serve.addAll(List.of("serve", "--home", home.toString(), "--port", String.valueOf(port), "--http-port", "-1"));
            server = new ProcessBuilder(serve).redirectErrorStream(true).start();
            BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            for (String l = lines.readLine(); ; l = lines.readLine()) {
                if (l == null) {
                    throw new IllegalStateException("fleetpki serve exited before serving");
                }
                if (l.contains("serving https")) {
                    break;
                }
            }
            Process srv = server;
            Thread.ofVirtual().start(() -> { // keep draining its output
                try {
                    srv.getInputStream().transferTo(OutputStream.nullOutputStream());
                } catch (IOException ignored) {
                    // it stopped
                }
            });
            var anchor = DeviceIdentity.certificate(Files.readAllBytes(home.resolve("ca/root.pem")));
            // warm-up: a few devices so the server's JIT and connection pools are not in the timed run
            new FleetSimulator().run(new FleetSimulator.Options(URI.create("https://127.0.0.1:" + port), anchor, token.toCharArray(), 100, "warm-",
                    concurrency, null, null, 0, renew, Duration.ofSeconds(1), null), new PrintStream(OutputStream.nullOutputStream()));
            long serverCpu0 = cpuNanos(server);
            long ownCpu0 = ownCpuNanos();
            long t0 = System.nanoTime();
            FleetSimulator.Summary s = new FleetSimulator().run(new FleetSimulator.Options(URI.create("https://127.0.0.1:" + port), anchor,
                    token.toCharArray(), devices, "bench-", concurrency, null, null, 0, renew, Duration.ofSeconds(1), null), System.err);
            double wall = (System.nanoTime() - t0) / 1e9;
            double cores = Runtime.getRuntime().availableProcessors();
            double serverShare = (cpuNanos(server) - serverCpu0) / 1e9 / wall / cores;
            double ownShare = (ownCpuNanos() - ownCpu0) / 1e9 / wall / cores;
            if (!s.failures().isEmpty()) {
                throw new IllegalStateException("the simulator reported failures:\n" + s.render());
            }
            String table = """
                    | %,d simulated devices, %d in flight%s | result |
                    |---|---:|
                    | devices enrolled per second, end to end (REST registration, secret, key, EST enrollment over TLS, answer checked%s) | %.0f |
                    | enrollment latency p50 / p95 / p99 | %d / %d / %d ms |
                    | server (`fleetpki serve`, SQLite) CPU share of the machine | %.0f%% |
                    | simulator CPU share of the machine | %.0f%% |
                    """.formatted(devices, concurrency, renew ? ", with renewal" : "", renew ? ", renewal with a new key" : "", devices / wall,
                    s.percentile(0.50), s.percentile(0.95), s.percentile(0.99), serverShare * 100, ownShare * 100);
            Files.writeString(out, table);
            System.out.print(table);
        } finally {
            if (server != null) {
                server.destroy();
                server.waitFor();
            }
            IssuanceBench.deleteTree(home.getParent());
        }
    }

    private static String run(List<String> cli, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(cli);
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", args) + " failed:\n" + out);
        }
        return out;
    }

    private static int freePort() throws Exception {
        try (var s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** utime + stime of a process from /proc, in nanoseconds (ticks are 1/100 s). */
    private static long cpuNanos(Process p) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
    }

    private static long ownCpuNanos() {
        return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
