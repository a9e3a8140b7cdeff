package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.KeyAlgorithm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * In-process issuance throughput: parse and verify an ECDSA P-256 CSR, run the whole issuance
 * pipeline (policy, serial reservation, TBS, lint, CA signature, verification) and commit the
 * certificate and its audit event durably, on SQLite and on PostgreSQL, at several caller counts.
 * Also measures the crypto limit (ECDSA P-256 sign+verify) in the same run. Not a test: run it
 * with {@code bench/run}, which adds openssl speed and writes the table into bench/README.md.
 */
public final class IssuanceBench {
    static final int DEVICES = 256;
    /** Callers run on virtual threads, as request handlers do in fleetpki's server (--threads=platform to compare). */
    static boolean VIRTUAL = true;

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = options(args);
        double seconds = Double.parseDouble(opt.getOrDefault("seconds", "10"));
        double warmup = Double.parseDouble(opt.getOrDefault("warmup", "8"));
        int[] callers = Arrays.stream(opt.getOrDefault("callers", "1,4,32").split(",")).mapToInt(Integer::parseInt).toArray();
        List<String> stores = List.of(opt.getOrDefault("stores", "memory,sqlite,postgresql").split(","));
        String pgBase = opt.getOrDefault("pg", "jdbc:postgresql://127.0.0.1:5432/");
        String pgUser = opt.getOrDefault("pg-user", "postgres");
        Path out = Path.of(opt.getOrDefault("out", "bench/results/issuance.md"));
        VIRTUAL = !"platform".equals(opt.get("threads"));

        Crypto.init();
        StringBuilder md = new StringBuilder();
        md.append("Crypto limit, ECDSA P-256, same run (one sign + one verify per pair):\n\n");
        md.append("| provider | threads | sign/s | verify/s | sign+verify pairs/s |\n|---|---:|---:|---:|---:|\n");
        double limit = 0;
        boolean crypto = !"false".equals(opt.get("crypto"));
        for (String p : crypto ? List.of(Crypto.fastProviderName(), "SunEC", "BC") : List.<String>of()) {
            for (int threads : new int[] {1, 2}) {
                if (!p.equals(Crypto.fastProviderName()) && threads == 2) {
                    continue;
                }
                progress("crypto " + p + " x" + threads);
                CryptoLimit.Result r = CryptoLimit.measure(p.equals("JDK") ? "SunEC" : p, threads, Math.max(2, seconds / 3));
                if (r == null) {
                    continue;
                }
                if (p.equals(Crypto.fastProviderName()) && threads == 2) {
                    limit = r.pairsPerSec();
                }
                md.append(String.format(Locale.ROOT, "| %s | %d | %,.0f | %,.0f | %,.0f |%n", r.provider(), threads, r.signPerSec(), r.verifyPerSec(), r.pairsPerSec()));
            }
        }
        md.append("\nIssuance (CSR parse + verify, pipeline, CA signature + verify, durable commit with audit event):\n\n");
        md.append("| store | callers | certificates/s | p50 ms | p99 ms | ratio to crypto limit (2 threads) |\n|---|---:|---:|---:|---:|---:|\n");
        for (String store : stores) {
            for (int c : callers) {
                Result r = run(store, c, seconds, warmup, pgBase, pgUser);
                md.append(String.format(Locale.ROOT, "| %s | %d | %,.0f | %.2f | %.2f | %.2f |%n", store, c, r.perSecond(), r.p50(), r.p99(),
                        limit > 0 ? r.perSecond() / limit : 0));
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md.toString());
        System.out.println(md);
    }

    record Result(double perSecond, double p50, double p99) {}

    static Result run(String store, int callers, double seconds, double warmup, String pgBase, String pgUser) throws Exception {
        Path home = Files.createTempDirectory("fleetpki-bench-");
        String db = null;
        String url = "jdbc:sqlite:fleetpki.db";
        if (store.equals("postgresql")) {
            db = "fleetpki_bench_" + Long.toHexString(System.nanoTime());
            try (Connection c = DriverManager.getConnection(pgBase + "postgres?user=" + pgUser); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE " + db);
            }
            url = pgBase + db + "?user=" + pgUser;
        }
        writeConfig(home, url);
        try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
            progress(store + " x" + callers + ": ceremony and " + DEVICES + " devices");
            f.ceremony(Actor.operator("bench")).init(false);
            List<byte[]> csrs = p256Csrs(DEVICES);
            registerDevices(f, DEVICES);
            MemoryLedger memory = new MemoryLedger();
            if (store.equals("memory")) {
                for (int i = 0; i < DEVICES; i++) {
                    memory.add(f.store().device("bench-" + i).orElseThrow());
                }
            }
            var pipeline = store.equals("memory")
                    ? new IssuancePipeline(f.config(), f.cas(), memory, f.clock()) : f.pipeline();
            LongSupplier committed = store.equals("memory") ? memory.issued::sum : f.store().certificates()::certificateCount;
            // one operator authorization per device, made before the clock starts (the pipeline re-checks it per issuance)
            var authorizer = f.authorizer();
            Authorization[] auths = new Authorization[DEVICES];
            for (int d = 0; d < DEVICES; d++) {
                auths[d] = authorizer.operator(Actor.operator("bench"), "bench-" + d, "device", "bench");
            }
            AtomicBoolean measuring = new AtomicBoolean(false);
            AtomicBoolean stop = new AtomicBoolean(false);
            long[][] lat = new long[callers][];
            int[] counts = new int[callers];
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < callers; t++) {
                int tt = t;
                lat[t] = new long[2_000_000 / callers + 1];
                Thread.Builder builder = VIRTUAL ? Thread.ofVirtual() : Thread.ofPlatform();
                ts.add(builder.start(() -> {
                    int i = tt;
                    while (!stop.get()) {
                        long t0 = System.nanoTime();
                        byte[] der = csrs.get(i % DEVICES);
                        UntrustedCsr csr = UntrustedCsr.parse(der);
                        pipeline.issue(IssuanceRequest.fromCsr(csr, "bench-" + (i % DEVICES), "device", "bench"), auths[i % DEVICES]);
                        long dt = System.nanoTime() - t0;
                        if (measuring.get() && counts[tt] < lat[tt].length) {
                            lat[tt][counts[tt]++] = dt;
                        }
                        i += callers;
                    }
                }));
            }
            progress(store + " x" + callers + ": warm-up " + warmup + " s");
            Thread.sleep((long) (warmup * 1000));
            long before = committed.getAsLong();
            long t0 = System.nanoTime();
            measuring.set(true);
            for (int s = 0; s < (int) Math.ceil(seconds); s++) {
                Thread.sleep((long) (Math.min(1, seconds - s) * 1000));
                progress(String.format(Locale.ROOT, "%s x%d: %d s, %,d certificates committed", store, callers, s + 1,
                        committed.getAsLong() - before));
            }
            measuring.set(false);
            long elapsed = System.nanoTime() - t0;
            long after = committed.getAsLong();
            stop.set(true);
            for (Thread t : ts) {
                t.join();
            }
            long[] all = sortedLatencies(lat, counts);
            if (!f.store().auditLog().verifyAudit().intact()) {
                throw new IllegalStateException("audit chain broken after the run");
            }
            double perSec = (after - before) / (elapsed / 1e9);
            return new Result(perSec, all.length == 0 ? 0 : all[all.length / 2] / 1e6, all.length == 0 ? 0 : all[(int) (all.length * 0.99)] / 1e6);
        } finally {
            if (db != null) {
                try (Connection c = DriverManager.getConnection(pgBase + "postgres?user=" + pgUser); Statement s = c.createStatement()) {
                    s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                }
            }
            deleteTree(home);
        }
    }

    /** ECDSA P-256 CSRs with CN bench-0 ... bench-(n-1), each with a key of its own. */
    static List<byte[]> p256Csrs(int n) throws Exception {
        List<byte[]> csrs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            KeyPair kp = KeyAlgorithm.EC_P256.generate();
            csrs.add(new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=bench-" + i), kp.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())).getEncoded());
        }
        return csrs;
    }

    /** Registers devices bench-0 ... bench-(n-1) of model "bench", concurrently (the writer groups them). */
    static void registerDevices(Fleet f, int n) throws InterruptedException {
        Actor op = Actor.operator("bench");
        List<Thread> reg = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String id = "bench-" + i;
            reg.add(Thread.ofVirtual().start(() -> f.store().devices().addDevice(new Device(id, "bench", Map.of(), Device.Status.ACTIVE, "software",
                    f.clock().instant()), new AuditEvent(f.clock().instant(), op, AuditAction.DEVICE_ADD, "device:" + id, Map.of()))));
        }
        for (Thread t : reg) {
            t.join();
        }
    }

    /** Every caller's recorded latencies in one sorted array. */
    static long[] sortedLatencies(long[][] lat, int[] counts) {
        long[] all = new long[Arrays.stream(counts).sum()];
        int k = 0;
        for (int t = 0; t < counts.length; t++) {
            System.arraycopy(lat[t], 0, all, k, counts[t]);
            k += counts[t];
        }
        Arrays.sort(all);
        return all;
    }

    static void writeConfig(Path home, String url) throws Exception {
        writeConfig(home, url, "");
    }

    /** The benchmarks' fleetpki.yaml; {@code extraCeremony} adds lines under ceremony (indented by two). */
    static void writeConfig(Path home, String url, String extraCeremony) throws Exception {
        Files.createDirectories(home.resolve("secrets"));
        Files.writeString(home.resolve("secrets/passphrase"), "benchmark passphrase only\n");
        Files.writeString(home.resolve("fleetpki.yaml"), """
                store: {url: "%s"}
                passphrase: file:secrets/passphrase
                urls: {crl: "http://pki.bench/crl/{ca}.crl", ocsp: "http://pki.bench/ocsp"}
                ceremony:
                  root: {subject: "CN=Bench Root"}
                  issuing: [{name: issuing, subject: "CN=Bench Issuing"}]
                %s""".formatted(url, extraCeremony), StandardCharsets.UTF_8);
    }

    static void deleteTree(Path p) throws Exception {
        try (var s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }

    static void progress(String s) {
        System.err.println("[bench] " + s);
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (String a : args) {
            if (a.startsWith("--") && a.contains("=")) {
                m.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
            } else {
                throw new IllegalArgumentException("options are --name=value: " + a);
            }
        }
        return m;
    }
}
