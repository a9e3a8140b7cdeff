package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.OcspSigner;
import dev.fleetpki.core.revocation.RevocationLedger.OcspRow;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.kms.Pem;
import java.io.BufferedWriter;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.bouncycastle.cert.ocsp.BasicOCSPResp;
import org.bouncycastle.cert.ocsp.OCSPReqBuilder;
import org.bouncycastle.cert.ocsp.OCSPResp;
import org.bouncycastle.cert.ocsp.RevokedStatus;

/**
 * OCSP responses per second over HTTP at 64 concurrent clients (keep-alive connections, POST, the
 * request a relying party sends: SHA-1 CertID, no nonce) for three responders on the same machine
 * in the same run, each answering for the same N certificates (a share of them revoked) of the
 * same CA with the same delegated OCSP signer:
 * <ul>
 *   <li>fleetpki: {@code fleetpki serve --revocation-only} in a JVM of its own, answering from its
 *       pre-signed responses (kept in memory; and once more with {@code cacheEntries: 0}, each
 *       request reading the store);</li>
 *   <li>cfssl {@code ocspserve}, loaded with the very same pre-signed responses (its
 *       {@code -responses} file: one base64 DER response per line);</li>
 *   <li>{@code openssl ocsp -index index.txt -port}, which signs every answer (it has no pre-signed
 *       mode), with {@code -multi 8} worker processes.</li>
 * </ul>
 * Before the timed run each responder's answers are checked: good for live certificates, revoked for
 * the revoked ones. Reports responses/s, latency percentiles and the responder's CPU use (all its
 * processes) over the timed window.
 *
 * <p>{@code java -cp fleetpki-bench.jar dev.fleetpki.bench.OcspLoadBench --certs=20000 --clients=64 --seconds=10 --out=ocsp.md}
 */
public final class OcspLoadBench {

    record Target(String name, byte[] request, boolean revoked) {}

    record Result(String responder, double perSecond, long count, long errors, double p50ms, double p99ms, double cpuCores) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> o = IssuanceBench.options(args);
        int n = Integer.parseInt(o.getOrDefault("certs", "20000"));
        int clients = Integer.parseInt(o.getOrDefault("clients", "64"));
        double seconds = Double.parseDouble(o.getOrDefault("seconds", "10"));
        double warmup = Double.parseDouble(o.getOrDefault("warmup", "5"));
        opensslMulti = Integer.parseInt(o.getOrDefault("openssl-multi", "8"));
        int threads = Integer.parseInt(o.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        String only = o.getOrDefault("only", "fleetpki,fleetpki-store,cfssl,openssl");
        Path out = Path.of(o.getOrDefault("out", "ocsp.md"));
        Path home = Files.createTempDirectory("fleetpki-ocsp-bench");
        List<Process> started = new ArrayList<>();
        try {
            IssuanceBench.writeConfig(home, "jdbc:sqlite:fleetpki.db", "  ocsp: {subject: \"CN=Bench OCSP\"}\n");
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                f.ceremony(Actor.operator("bench")).init(false);
            }
            IssuanceBench.progress("writing " + n + " certificates (1 in 20 revoked) into the store and into openssl's index.txt");
            List<Target> targets = fill(home, n);
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                RevocationService rev = f.revocation();
                long t0 = System.nanoTime();
                long signed = rev.presign();
                IssuanceBench.progress(String.format(Locale.ROOT, "pre-signed %d OCSP responses in %.1f s", signed, (System.nanoTime() - t0) / 1e9));
                exportForOthers(home, f, targets);
            }
            List<Result> results = new ArrayList<>();
            for (String responder : only.split(",")) {
                int port = freePort();
                Process p = launch(responder, home, port);
                started.add(p);
                try {
                    waitReady(port, targets.getFirst(), p, responder, home);
                    check(port, targets, responder);
                    IssuanceBench.progress(responder + ": answers checked; warming up " + warmup + " s, then " + seconds + " s timed with " + clients + " clients");
                    String url = "http://127.0.0.1:" + port + path(responder);
                    wrk(home, url, clients, threads, warmup);
                    if (responder.equals("openssl")) {
                        // OpenSSL 3.0's responder spins on a keep-alive connection its client closed (the warm-up's):
                        // a fresh one for the timed run (it has nothing to warm up)
                        stop(p);
                        p = launch(responder, home, port);
                        started.add(p);
                        waitReady(port, targets.getFirst(), p, responder, home);
                    }
                    results.add(load(responder, url, home, clients, threads, seconds, p));
                    IssuanceBench.progress(String.format(Locale.ROOT, "%s: %,.0f responses/s", responder, results.getLast().perSecond()));
                } finally {
                    stop(p);
                }
            }
            String table = table(results, n, clients, seconds);
            Files.writeString(out, table);
            System.out.print(table);
        } finally {
            started.forEach(OcspLoadBench::stop);
            IssuanceBench.deleteTree(home);
        }
    }

    /** openssl ocsp's worker processes: 8 did best on 2 cores here (2: 6.6k/s, 8: 11.2k/s, 64: 8.1k/s); --openssl-multi=N changes it. */
    private static int opensslMulti = 8;

    private static Process launch(String responder, Path home, int port) throws IOException {
        return switch (responder) {
            case "fleetpki", "fleetpki-store" -> {
                // fleetpki-store: no answers kept in memory (revocation.ocsp.cacheEntries: 0), every request reads the store
                Path yaml = home.resolve("fleetpki.yaml");
                String config = Files.readString(yaml).replaceAll("(?s)\nrevocation:.*", "");
                Files.writeString(yaml, responder.equals("fleetpki") ? config : config + "\nrevocation: {ocsp: {cacheEntries: 0}}\n");
                yield start(home, List.of(ProcessHandle.current().info().command().orElse("java"), "--enable-native-access=ALL-UNNAMED",
                        "-cp", CrlBench.classpath(), "dev.fleetpki.app.Main", "serve", "--home", home.toString(), "--revocation-only",
                        "--http-port", String.valueOf(port)));
            }
            case "cfssl" -> start(home, List.of("cfssl", "ocspserve", "-port", String.valueOf(port), "-responses", "responses.b64", "-loglevel", "5"));
            case "openssl" -> start(home, List.of("openssl", "ocsp", "-index", "index.txt", "-port", String.valueOf(port), "-rsigner", "ocsp.pem",
                    "-rkey", "ocsp.key", "-CA", "issuing.pem", "-ndays", "1", "-multi", String.valueOf(opensslMulti),
                    "-timeout", "30"));
            default -> throw new IllegalArgumentException("unknown responder " + responder + " (fleetpki, cfssl, openssl)");
        };
    }

    /** Certificate rows straight into the store (OCSP reads serial, CA, notAfter and the revocation columns) and the same into index.txt. */
    private static List<Target> fill(Path home, int n) throws Exception {
        SecureRandom rnd = new SecureRandom();
        long now = System.currentTimeMillis();
        long notAfter = now + 365L * 86_400_000;
        List<String[]> rows = new ArrayList<>(n);
        try (BenchRows out = new BenchRows(home, now)) {
            for (int i = 0; i < n; i++) {
                String serial = CrlBench.randomSerial(rnd);
                boolean revoked = i % 20 == 19;
                long revokedAt = now - rnd.nextInt(30 * 86_400) * 1000L;
                out.add(serial, i, notAfter, revoked ? "KEY_COMPROMISE" : null, revokedAt, 0,
                        BenchRows.UTC.format(Instant.ofEpochMilli(revokedAt)) + ",keyCompromise");
                rows.add(new String[] {serial, revoked ? "R" : "V"});
            }
        }
        Files.writeString(home.resolve("index.txt.attr"), "unique_subject = no\n");
        List<Target> targets = new ArrayList<>(n);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            OcspSigner.Issuer issuer = OcspSigner.Issuer.of("issuing", f.store().ca("issuing").orElseThrow().certificate());
            for (String[] r : rows) {
                byte[] req = new OCSPReqBuilder().addRequest(issuer.sha1Id(new BigInteger(r[0], 16))).build().getEncoded();
                targets.add(new Target(r[0], req, r[1].equals("R")));
            }
        }
        return targets;
    }

    /** cfssl gets fleetpki's pre-signed responses; openssl gets the OCSP signer's key and certificate and the CA certificate as PEM. */
    private static void exportForOthers(Path home, Fleet f, List<Target> targets) throws Exception {
        try (BufferedWriter w = Files.newBufferedWriter(home.resolve("responses.b64"), StandardCharsets.US_ASCII)) {
            for (Target t : targets) {
                OcspRow row = f.store().revocation().ocspResponse(t.name()).orElseThrow(() -> new IllegalStateException("no pre-signed response for " + t.name()));
                w.write(Base64.getEncoder().encodeToString(row.der()));
                w.write('\n');
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(home.resolve("requests.hex"), StandardCharsets.US_ASCII)) {
            for (Target t : targets) {
                w.write(HexFormat.of().formatHex(t.request()));
                w.write('\n');
            }
        }
        Files.writeString(home.resolve("ocsp.lua"), LUA);
        Files.writeString(home.resolve("issuing.pem"), Pem.encode("CERTIFICATE", f.store().ca("issuing").orElseThrow().certificate().getEncoded()));
        Files.writeString(home.resolve("ocsp.pem"), Pem.encode("CERTIFICATE", f.store().ca("ocsp").orElseThrow().certificate().getEncoded()));
        String key;
        try (var keys = Files.list(home.resolve("keys"))) {
            key = keys.filter(k -> k.getFileName().toString().startsWith("ocsp")).map(Path::toString).findFirst().orElseThrow(() -> new IllegalStateException("no OCSP key file in keys/"));
        }
        CrlBench.run(home, "openssl", "pkey", "-in", key, "-passin", "file:secrets/passphrase", "-out", "ocsp.key");
    }

    private static Process start(Path home, List<String> cmd) throws IOException {
        return new ProcessBuilder(cmd).directory(home.toFile()).redirectErrorStream(true)
                .redirectOutput(home.resolve("responder-" + Path.of(cmd.getFirst()).getFileName() + ".log").toFile()).start();
    }

    private static void stop(Process p) {
        p.descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static MiniHttp connect(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(30_000);
        return new MiniHttp(s, "127.0.0.1:" + port);
    }

    private static void waitReady(int port, Target t, Process p, String name, Path home) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException(name + " exited with " + p.exitValue() + " before answering:\n" + log(home, name));
            }
            try (MiniHttp h = connect(port)) {
                if (h.post(path(name), "application/ocsp-request", t.request(), true).status() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException(name + " did not answer within 60 s:\n" + log(home, name));
    }

    private static String log(Path home, String name) throws IOException {
        Path log = home.resolve("responder-" + (name.startsWith("fleetpki") ? "java" : name) + ".log");
        return Files.exists(log) ? Files.readString(log) : "(no log)";
    }

    /** Every 50th target's answer parsed: the right serial, good or revoked as stored. Posted to "/" (cfssl and openssl) or "/ocsp" (fleetpki). */
    private static void check(int port, List<Target> targets, String name) throws Exception {
        int checked = 0;
        try (MiniHttp h = connect(port)) {
            MiniHttp conn = h;
            for (int i = 0; i < targets.size(); i += 50) {
                Target t = targets.get(i);
                MiniHttp.Response r = conn.post(path(name), "application/ocsp-request", t.request(), true);
                conn = connect(port);
                if (r.status() != 200) {
                    throw new IllegalStateException(name + " answered HTTP " + r.status() + " for " + t.name());
                }
                OCSPResp resp = new OCSPResp(r.body());
                if (resp.getStatus() != 0) {
                    throw new IllegalStateException(name + " answered OCSP status " + resp.getStatus() + " for " + t.name());
                }
                var single = ((BasicOCSPResp) resp.getResponseObject()).getResponses()[0];
                boolean revoked = single.getCertStatus() instanceof RevokedStatus;
                if (!single.getCertID().getSerialNumber().toString(16).equals(t.name()) || revoked != t.revoked()
                        || (!revoked && single.getCertStatus() != null)) {
                    throw new IllegalStateException(name + " gave the wrong answer for " + t.name() + " (revoked: " + t.revoked() + ")");
                }
                checked++;
            }
            conn.close();
        }
        IssuanceBench.progress(name + ": " + checked + " answers parsed and correct");
    }

    private static String path(String name) {
        return name.startsWith("fleetpki") ? "/ocsp" : "/";
    }

    /**
     * wrk (C, epoll) drives the load so the generator takes as little of the shared CPU as it can:
     * {@code threads} threads, {@code clients} keep-alive connections, each request a random one of
     * the targets' (a Lua script); the responder's CPU use read from /proc before and after.
     */
    private static Result load(String name, String url, Path home, int clients, int threads, double seconds, Process p) throws Exception {
        long cpu0 = cpuTicks(p);
        long t0 = System.nanoTime();
        String out = wrk(home, url, clients, threads, seconds);
        double wall = (System.nanoTime() - t0) / 1e9;
        long cpu1 = cpuTicks(p);
        long count = Long.parseLong(field(out, "(\\d+) requests in"));
        long errors = out.contains("Non-2xx") ? Long.parseLong(field(out, "Non-2xx or 3xx responses: (\\d+)")) : 0;
        if (out.contains("Socket errors")) {
            var m = Pattern.compile("connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)").matcher(out);
            if (m.find()) {
                for (int i = 1; i <= 4; i++) {
                    errors += Long.parseLong(m.group(i));
                }
            }
        }
        return new Result(name, Double.parseDouble(field(out, "Requests/sec:\\s+([0-9.]+)")), count, errors,
                millis(field(out, "\\s50%\\s+([0-9.]+\\w+)")), millis(field(out, "\\s99%\\s+([0-9.]+\\w+)")),
                (cpu1 - cpu0) / 100.0 / wall); // ticks are 1/100 s
    }

    private static String wrk(Path home, String url, int clients, int threads, double seconds) throws Exception {
        return CrlBench.run(home, "wrk", "-t" + threads, "-c" + clients, "-d" + Math.round(seconds) + "s", "--latency", "--timeout", "10s",
                "-s", "ocsp.lua", url, "--", "requests.hex");
    }

    private static String field(String out, String regex) {
        var m = Pattern.compile(regex).matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no '" + regex + "' in wrk's output:\n" + out);
        }
        return m.group(1);
    }

    /** wrk prints latencies as 512.00us, 1.23ms or 1.05s. */
    private static double millis(String v) {
        double x = Double.parseDouble(v.replaceAll("[a-z]+$", ""));
        return v.endsWith("us") ? x / 1000 : v.endsWith("ms") ? x : v.endsWith("m") ? x * 60_000 : x * 1000;
    }

    /** Each thread of wrk loads the requests (hex, one per line) and sends a random one each time. */
    private static final String LUA = """
            local reqs = {}
            function init(args)
              for line in io.lines(args[1]) do
                local body = line:gsub("..", function(h) return string.char(tonumber(h, 16)) end)
                reqs[#reqs + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/ocsp-request"}, body)
              end
              math.randomseed(os.time() + #reqs)
            end
            function request()
              return reqs[math.random(#reqs)]
            end
            """;

    /** utime + stime of the responder and all its descendants (openssl -multi forks workers), in clock ticks. */
    private static long cpuTicks(Process p) {
        List<ProcessHandle> all = new ArrayList<>();
        all.add(p.toHandle());
        p.descendants().forEach(all::add);
        long sum = 0;
        for (ProcessHandle h : all) {
            try {
                sum += EstLoadBench.cpuTicks(h.pid());
            } catch (IOException gone) {
                // a worker that exited
            }
        }
        return sum;
    }

    private static String table(List<Result> results, int n, int clients, double seconds) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "| OCSP over HTTP, %d keep-alive clients, %.0f s timed, %,d certificates | responses/s | p50 | p99 | errors | responder CPU |%n",
                clients, seconds, n));
        sb.append("|---|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            String label = switch (r.responder()) {
                case "fleetpki" -> "fleetpki `serve --revocation-only` (pre-signed, kept in memory)";
                case "fleetpki-store" -> "fleetpki, `cacheEntries: 0` (pre-signed, read from SQLite each time)";
                case "cfssl" -> "cfssl `ocspserve` (same pre-signed responses)";
                case "openssl" -> "`openssl ocsp -index` (signs each answer, `-multi " + opensslMulti + "`)";
                default -> r.responder();
            };
            sb.append(String.format(Locale.ROOT, "| %s | %,.0f | %.2f ms | %.2f ms | %d | %.2f cores |%n", label, r.perSecond(), r.p50ms(), r.p99ms(),
                    r.errors(), r.cpuCores()));
        }
        Result fleet = results.stream().filter(r -> r.responder().equals("fleetpki")).findFirst().orElse(null);
        Result other = results.stream().filter(r -> !r.responder().startsWith("fleetpki")).max(Comparator.comparingDouble(Result::perSecond)).orElse(null);
        if (fleet != null && other != null) {
            sb.append(String.format(Locale.ROOT, "| **fleetpki vs the better of the others (%s)** | **%.1fx** | | | | |%n", other.responder(),
                    fleet.perSecond() / other.perSecond()));
        }
        return sb.toString();
    }
}
