package dev.fleetpki.bench;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.config.CaRole;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.kms.Crypto;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * EST enrollment over real HTTPS: a {@code fleetpki serve} process on the embedded SQLite store,
 * loaded by clients that POST prepared ECDSA P-256 CSRs to {@code /.well-known/est/simpleenroll}
 * with a factory station's TLS client certificate, in two shapes: kept-alive connections (a
 * gateway or factory station) and a new TLS connection, with a full handshake, per enrollment
 * (devices); and a third, the way most devices enroll first: a new TLS connection without a client
 * certificate, authenticated by the device's own one-time enrollment secret (HTTP basic). The
 * reference is Debian's cfssl ({@code cfssl serve}, plain HTTP, ECDSA P-256 CA, nothing stored)
 * loaded the same way in the same run. Reports enrollments per second, p50/p99 latency, the CPU
 * each process used and the server's RSS. Not a test: run it with {@code bench/run-enrollment}.
 */
public final class EstLoadBench {
    static final int DEVICES = 1024;
    static final String EST_PATH = "/.well-known/est/simpleenroll";
    static final String CFSSL_PATH = "/api/v1/cfssl/sign";
    static final long CLK_TCK = 100;
    /**
     * What the clients offer, as a constrained device whose key and ECDH live in a secure element
     * (ATECC608, STSAFE-A110: P-256 only) does: the P-256 key exchange only, ECDSA P-256 with
     * SHA-256 signatures only, one TLS 1.3 cipher suite. (Offered X25519 as a second group, the JDK
     * client computes an X25519 key share too, in Java, which such a device never makes.)
     */
    static String[] NAMED_GROUPS = {"secp256r1"};
    static String[] SIGNATURE_SCHEMES = {"ecdsa_secp256r1_sha256"};
    static String[] CIPHER_SUITES = {"TLS_AES_128_GCM_SHA256"};

    /** How many devices with a one-time enrollment secret are registered for the secret shape (each secret buys one certificate). */
    static int SECRET_DEVICES = 200_000;

    enum Shape {
        KEPT_ALIVE("kept-alive"), NEW_CONNECTION("new per enrollment"), NEW_SECRET("new per enrollment, one-time secret"),
        SCEP_SECRET("SCEP PKCSReq, new per enrollment, one-time secret"), CMP_SECRET("CMP ir (PBM), new per enrollment, one-time secret");

        /** Shapes whose credential is a device's one-time secret: no client certificate, each secret used once. */
        boolean secret() {
            return this == NEW_SECRET || this == SCEP_SECRET || this == CMP_SECRET;
        }

        final String label;

        Shape(String label) {
            this.label = label;
        }
    }

    /** A server under load and how to talk to it. */
    interface Target extends AutoCloseable {
        String name();

        long pid();

        /** A connection for this shape: kept alive, or new as a device that connects once (no TLS session to resume). */
        MiniHttp connect(Shape shape) throws IOException;

        MiniHttp.Response enroll(MiniHttp http, int i, Shape shape) throws IOException;

        boolean ok(MiniHttp.Response r);

        /** Whether the answer is a success in the shape's protocol (an EST 200 with a certificate, a SCEP SUCCESS, a CMP ip granted). */
        default boolean ok(MiniHttp.Response r, Shape shape) {
            return ok(r);
        }

        @Override
        void close() throws Exception;
    }

    record Row(String server, Shape shape, int clients, double paced, double perSecond, double p50, double p99, double serverCores,
               double loadCores, long rssKb, long errors, String firstError, String note, double machine) {
        Row noted(String n) {
            return new Row(server, shape, clients, paced, perSecond, p50, p99, serverCores, loadCores, rssKb, errors, firstError, n, machine);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = IssuanceBench.options(args);
        double seconds = Double.parseDouble(opt.getOrDefault("seconds", "10"));
        double warmup = Double.parseDouble(opt.getOrDefault("warmup", "5"));
        // once per server and shape before its first configuration, with 8 clients: the shapes run different code
        // (a full handshake on both sides, with or without a client certificate, a secret to check) and on 2
        // saturated cores the JIT compilers starve: a server measured at once is still compiling its hot paths a
        // minute later (new connections at 64 clients from a cold start: 415/s in the first 10 s, 1,100 after 50 s,
        // 1,200-1,300 from 65 s on); the rows measure the warmed server, as a long-running one is
        double firstWarmup = Double.parseDouble(opt.getOrDefault("first-warmup", "60"));
        // and past it, in 5 s steps, for as long as the server's JIT compiler threads used more than 5% of a core, at most
        // this long: a guard, so that a day on which compiling takes longer does not measure a server still compiling
        double maxWarmup = Double.parseDouble(opt.getOrDefault("max-warmup", "300"));
        int[] clients = Arrays.stream(opt.getOrDefault("clients", "1,8,64").split(",")).mapToInt(Integer::parseInt).toArray();
        List<String> servers = List.of(opt.getOrDefault("servers", "cfssl,fleetpki").split(","));
        List<Shape> shapes = Arrays.stream(opt.getOrDefault("shapes", "kept-alive,new,new-secret").split(","))
                .map(s -> switch (s) {
                    case "new-secret" -> Shape.NEW_SECRET;
                    case "scep" -> Shape.SCEP_SECRET;
                    case "cmp" -> Shape.CMP_SECRET;
                    default -> s.startsWith("new") ? Shape.NEW_CONNECTION : Shape.KEPT_ALIVE;
                }).toList();
        SECRET_DEVICES = shapes.stream().anyMatch(Shape::secret) ? Integer.parseInt(opt.getOrDefault("secret-devices", "200000")) : 0;
        int protocolMessages = Integer.parseInt(opt.getOrDefault("protocol-messages", "30000"));
        String serverJvm = opt.getOrDefault("server-jvm", "-Xmx1g");
        NAMED_GROUPS = opt.getOrDefault("groups", String.join(",", NAMED_GROUPS)).split(",");
        SIGNATURE_SCHEMES = opt.getOrDefault("signature-schemes", String.join(",", SIGNATURE_SCHEMES)).split(",");
        CIPHER_SUITES = opt.getOrDefault("cipher-suites", String.join(",", CIPHER_SUITES)).split(",");
        Path out = Path.of(opt.getOrDefault("out", "bench/results/enrollment.md"));
        Crypto.init();

        List<byte[]> csrs = IssuanceBench.p256Csrs(DEVICES);
        List<Row> rows = new ArrayList<>();
        for (String server : servers) {
            try (Target t = server.equals("cfssl") ? Cfssl.start(csrs) : FleetpkiServer.start(csrs, serverJvm)) {
                Set<Shape> warmed = EnumSet.noneOf(Shape.class);
                for (Shape shape : shapes) {
                    if (shape.secret() && !(t instanceof FleetpkiServer)) {
                        continue; // cfssl authenticates nothing: its new-connection rows are the reference for both
                    }
                    // SCEP and CMP messages carry a one-time secret each: a new batch before every run, built before the clock
                    // starts, as a client has its request ready; their first warm-up is shorter, as the EST rows warmed the server
                    boolean prepared = shape == Shape.SCEP_SECRET || shape == Shape.CMP_SECRET;
                    if (firstWarmup > 0 && warmed.add(shape)) {
                        if (prepared) {
                            ((FleetpkiServer) t).prepare(shape, protocolMessages);
                        }
                        run(t, shape, 8, 0, 1, prepared ? Math.min(firstWarmup, 30) : firstWarmup, t instanceof FleetpkiServer ? maxWarmup : 0);
                    }
                    for (int c : clients) {
                        if (prepared) {
                            ((FleetpkiServer) t).prepare(shape, protocolMessages);
                        }
                        rows.add(run(t, shape, c, 0, seconds, warmup));
                    }
                    if (shape == Shape.KEPT_ALIVE && t instanceof FleetpkiServer) {
                        // the latency target is for half the kept-alive rate at the largest client count: measured right
                        // after that rate, on the same store
                        rows.add(run(t, shape, clients[clients.length - 1], halfRate(rows.getLast()), seconds, warmup));
                    }
                }
                if (t instanceof FleetpkiServer && shapes.contains(Shape.KEPT_ALIVE) && shapes.size() > 1) {
                    // the same two again on the store the other shapes have grown (a few hundred thousand more certificates)
                    int c = clients[clients.length - 1];
                    String note = String.format(Locale.ROOT, "again at the end, %,d certificates stored", ((FleetpkiServer) t).certificates());
                    Row again = run(t, Shape.KEPT_ALIVE, c, 0, seconds, warmup).noted(note);
                    rows.add(again);
                    rows.add(run(t, Shape.KEPT_ALIVE, c, halfRate(again), seconds, warmup).noted(note));
                }
            }
        }
        String md = table(rows);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md);
        System.out.println(md);
    }

    static double halfRate(Row full) {
        return Math.max(50, Math.floor(full.perSecond / 2 / 50) * 50);
    }

    static String table(List<Row> rows) {
        StringBuilder md = new StringBuilder();
        md.append("| server | connection | clients | enrollments/s | p50 ms | p99 ms | server CPU (cores) | load generator CPU (cores) "
                + "| server RSS MiB | errors | fleetpki / cfssl (SCEP, CMP: / EST with a secret) | machine speed after the row (openssl signs/s) |\n"
                + "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            String ratio = "";
            if (r.server.equals("fleetpki") && r.paced == 0) {
                Shape ref = r.shape.secret() ? Shape.NEW_CONNECTION : r.shape;
                ratio = r.shape == Shape.SCEP_SECRET || r.shape == Shape.CMP_SECRET
                        ? rows.stream().filter(o -> o.server.equals("fleetpki") && o.shape == Shape.NEW_SECRET && o.clients == r.clients && o.paced == 0)
                                .findFirst().map(o -> String.format(Locale.ROOT, "%.2f of EST's", r.perSecond / o.perSecond)).orElse("")
                        : rows.stream().filter(o -> o.server.equals("cfssl") && o.shape == ref && o.clients == r.clients).findFirst()
                        .map(o -> String.format(Locale.ROOT, "%.2f", r.perSecond / o.perSecond)).orElse("");
            }
            md.append(String.format(Locale.ROOT, "| %s | %s | %d%s | %,.0f | %.2f | %.2f | %.2f | %.2f | %d | %d%s | %s | %s |%n", r.server, r.shape.label,
                    r.clients, (r.paced > 0 ? String.format(Locale.ROOT, " (paced at %,.0f/s)", r.paced) : "") + (r.note == null ? "" : ", " + r.note), r.perSecond, r.p50, r.p99,
                    r.serverCores, r.loadCores, r.rssKb / 1024, r.errors, r.firstError == null ? "" : " (" + r.firstError + ")", ratio,
                    r.machine > 0 ? String.format(Locale.ROOT, "%,.0f", r.machine) : ""));
        }
        return md.toString();
    }

    /**
     * One configuration: {@code clients} platform threads, each with its own connection (kept
     * alive, or new for every enrollment). With {@code rate > 0} the clients are paced so that
     * together they send that many requests per second, and latency is counted from when a
     * request was due (so a server that falls behind shows it, instead of slowing the clients).
     */
    static Row run(Target t, Shape shape, int clients, double rate, double seconds, double warmup) throws Exception {
        return run(t, shape, clients, rate, seconds, warmup, 0);
    }

    /** JIT compiler threads below this (cores, over a 5 s step) count as done compiling. */
    static final double JIT_SETTLED = 0.05;

    /** @param maxWarmup after {@code warmup}, keep warming in 5 s steps while the server's JIT compilers are busy, up to this many seconds in all (0: no) */
    static Row run(Target t, Shape shape, int clients, double rate, double seconds, double warmup, double maxWarmup) throws Exception {
        String label = t.name() + " " + shape.label + " x" + clients + (rate > 0 ? " paced " + (long) rate + "/s" : "");
        AtomicBoolean measuring = new AtomicBoolean(false);
        AtomicBoolean stop = new AtomicBoolean(false);
        long[][] lat = new long[clients][];
        int[] counts = new int[clients];
        long[] errors = new long[clients];
        AtomicReference<String> firstError = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        double interval = rate > 0 ? clients * 1e9 / rate : 0;
        for (int c = 0; c < clients; c++) {
            int cc = c;
            lat[c] = new long[2_000_000 / clients + 1];
            threads.add(Thread.ofPlatform().name("client-" + c).start(() -> {
                MiniHttp http = null;
                int i = cc;
                long k = 0;
                while (!stop.get()) {
                    long due = System.nanoTime();
                    if (rate > 0) {
                        due = start + (long) (cc * interval / clients + k++ * interval);
                        long wait = due - System.nanoTime();
                        if (wait > 0) {
                            LockSupport.parkNanos(wait);
                        }
                    }
                    boolean counted = measuring.get();
                    try {
                        if (http == null) {
                            http = t.connect(shape);
                        }
                        MiniHttp.Response r = t.enroll(http, i % DEVICES, shape);
                        long dt = System.nanoTime() - due;
                        if (r.close()) {
                            http.close();
                            http = null;
                        }
                        if (!t.ok(r, shape)) {
                            errors[cc]++;
                            firstError.compareAndSet(null, "HTTP " + r.status() + ": " + abbreviate(new String(r.body(), StandardCharsets.UTF_8)));
                        } else if (counted && measuring.get() && counts[cc] < lat[cc].length) {
                            lat[cc][counts[cc]++] = dt;
                        }
                    } catch (IOException | RuntimeException e) {
                        errors[cc]++;
                        firstError.compareAndSet(null, e.toString());
                        if (http != null) {
                            try {
                                http.close();
                            } catch (IOException ignored) {
                                // already broken
                            }
                            http = null;
                        }
                    }
                    i += clients;
                }
                if (http != null) {
                    try {
                        http.close();
                    } catch (IOException ignored) {
                        // end of run
                    }
                }
            }));
        }
        progress(label + ": warm-up " + warmup + " s");
        Thread.sleep((long) (warmup * 1000));
        for (double warmed = warmup; warmed < maxWarmup; warmed += 5) {
            long jit0 = jitTicks(t.pid());
            Thread.sleep(5000);
            double jitCores = (jitTicks(t.pid()) - jit0) / (double) CLK_TCK / 5;
            if (jitCores < JIT_SETTLED) {
                progress(String.format(Locale.ROOT, "%s: warmed up for %.0f s (JIT compilers at %.2f cores)", label, warmed + 5, jitCores));
                break;
            }
            progress(String.format(Locale.ROOT, "%s: JIT compilers still at %.2f cores after %.0f s: warming up 5 s more", label, jitCores, warmed + 5));
        }
        long serverCpu0 = cpuTicks(t.pid());
        long ownCpu0 = cpuTicks(ProcessHandle.current().pid());
        long t0 = System.nanoTime();
        measuring.set(true);
        for (int s = 0; s < (int) Math.ceil(seconds); s++) {
            Thread.sleep((long) (Math.min(1, seconds - s) * 1000));
            progress(String.format(Locale.ROOT, "%s: %d s, %,d enrollments", label, s + 1, Arrays.stream(counts).asLongStream().sum()));
        }
        measuring.set(false);
        long elapsed = System.nanoTime() - t0;
        long serverCpu = cpuTicks(t.pid()) - serverCpu0;
        long ownCpu = cpuTicks(ProcessHandle.current().pid()) - ownCpu0;
        long rss = rssKb(t.pid());
        stop.set(true);
        for (Thread th : threads) {
            th.join();
        }
        long[] all = IssuanceBench.sortedLatencies(lat, counts);
        long n = all.length;
        double secs = elapsed / 1e9;
        double machine = seconds >= MACHINE_PROBE_MIN_SECONDS ? machineSpeed() : 0;
        Row row = new Row(t.name(), shape, clients, rate, n / secs, pct(all, 0.5), pct(all, 0.99), serverCpu / (double) CLK_TCK / secs,
                ownCpu / (double) CLK_TCK / secs, rss, Arrays.stream(errors).sum(), firstError.get(), null, machine);
        progress(String.format(Locale.ROOT, "%s: %,.0f/s, p50 %.2f ms, p99 %.2f ms, errors %d%s", label, row.perSecond, row.p50, row.p99, row.errors,
                machine > 0 ? String.format(Locale.ROOT, ", machine %,.0f signs/s", machine) : ""));
        return row;
    }

    /** Rows shorter than this (the first warm-ups) skip the machine-speed probe. */
    static final double MACHINE_PROBE_MIN_SECONDS = 5;

    /**
     * The machine's speed right after a row, with the clients stopped: ECDSA P-256 signatures per
     * second by {@code openssl speed} in one process for one second. This shared virtual machine's
     * speed can change by half within one run (54,483 signatures/s before a run, 31,523 after), so
     * each row records the state it was measured in. 0 when openssl cannot be run.
     */
    static double machineSpeed() {
        try {
            Process p = new ProcessBuilder("openssl", "speed", "-seconds", "1", "ecdsap256").redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return parseSpeed(out);
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /** The signatures per second in {@code openssl speed ecdsap256}'s result line, 0 if there is none or it does not parse. */
    static double parseSpeed(String out) {
        for (String line : out.split("\n")) {
            if (line.contains("(nistp256)")) {
                String[] f = line.trim().split("\\s+");
                try {
                    return f.length >= 2 ? Double.parseDouble(f[f.length - 2]) : 0;
                } catch (NumberFormatException e) {
                    return 0; // another openssl's layout: the row goes without the machine's speed
                }
            }
        }
        return 0;
    }

    static double pct(long[] sorted, double p) {
        return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (sorted.length * p))] / 1e6;
    }

    static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ").trim();
        return one.length() > 120 ? one.substring(0, 120) + "..." : one;
    }

    /** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
    static long cpuTicks(long pid) throws IOException {
        return cpuTicks(Path.of("/proc/" + pid));
    }

    /** utime + stime of a process or thread directory under /proc. */
    static long cpuTicks(Path proc) throws IOException {
        String stat = Files.readString(proc.resolve("stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** CPU ticks of a JVM's JIT compiler threads ("C1 CompilerThread...", "C2 CompilerThread..."); 0 for a process without them. */
    static long jitTicks(long pid) throws IOException {
        long ticks = 0;
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    String name = Files.readString(task.resolve("comm")).trim();
                    if (name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler")) {
                        ticks += cpuTicks(task);
                    }
                } catch (IOException ended) {
                    // the thread ended while listed
                }
            }
        }
        return ticks;
    }

    static long rssKb(long pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("\\D", ""));
            }
        }
        return 0;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static Socket tcp(int port) throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setSoTimeout(30_000);
        return s;
    }

    static void progress(String s) {
        System.err.println("[bench] " + s);
    }

    /** {@code fleetpki serve} in its own JVM on a fresh CA home, with a factory station that may enroll the bench devices. */
    static final class FleetpkiServer implements Target {
        private final Path home;
        private final Process process;
        private final int port;
        private final SSLContext shared;
        private final AtomicLong connections = new AtomicLong();
        private final SSLContext anonymous;
        private final List<byte[]> bodies;
        private final List<String> secrets;
        private final List<byte[]> secretBodies;
        /** The secrets' texts and devices, for the SCEP and CMP shapes, which carry them inside their messages. */
        private final List<String[]> secretTexts;
        private final List<byte[]> protocolBodies = new ArrayList<>();
        private final AtomicInteger nextProtocolBody = new AtomicInteger();
        private final AtomicInteger nextSecret = new AtomicInteger();
        private long served;
        /** More nodes on the same (PostgreSQL) store, each with a copy of the home: clients connect to all ports in turn. */
        private final List<ServeProcess> extra = new ArrayList<>();
        private final List<Path> extraHomes = new ArrayList<>();
        private volatile int[] ports;

        private FleetpkiServer(Path home, Process process, int port, KeyManager[] keys, TrustManager[] trust, List<byte[]> bodies,
                               List<String> secrets, List<byte[]> secretBodies, List<String[]> secretTexts) throws Exception {
            this.home = home;
            this.process = process;
            this.port = port;
            this.shared = SSLContext.getInstance("TLS");
            this.shared.init(keys, trust, null);
            this.anonymous = SSLContext.getInstance("TLS"); // no client certificate: the secret is the credential
            this.anonymous.init(null, trust, null);
            this.bodies = bodies;
            this.secrets = secrets;
            this.secretBodies = secretBodies;
            this.secretTexts = secretTexts;
            this.ports = new int[] {port};
        }

        /** Starts another node: a copy of this node's home (configuration, CA files, keys) on the same store. */
        void addNode(String serverJvm) throws Exception {
            Path h = Files.createTempDirectory("fleetpki-est-bench-node-");
            try (var files = Files.walk(home)) {
                for (Path f : files.toList()) {
                    String rel = home.relativize(f).toString();
                    if (rel.startsWith("fleetpki.db") || rel.equals("server.log") || rel.startsWith("server-tls")) {
                        continue;
                    }
                    Path to = h.resolve(rel);
                    if (Files.isDirectory(f)) {
                        Files.createDirectories(to);
                    } else {
                        Files.copy(f, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            ServeProcess node = ServeProcess.start(h, ServeProcess.command(h, Arrays.stream(serverJvm.trim().split("\\s+")).filter(x -> !x.isEmpty()).toList(),
                    "--http-port", "0")); // the first node has the default plain-HTTP port
            extra.add(node);
            extraHomes.add(h);
            int[] more = Arrays.copyOf(ports, ports.length + 1);
            more[ports.length] = node.port();
            ports = more;
        }

        /** The process ids of every node, the first one's first. */
        List<Long> pids() {
            List<Long> all = new ArrayList<>(List.of(process.pid()));
            extra.forEach(n -> all.add(n.process().pid()));
            return all;
        }

        static FleetpkiServer start(List<byte[]> csrs, String serverJvm) throws Exception {
            return start(csrs, serverJvm, "jdbc:sqlite:fleetpki.db");
        }

        /** @param storeUrl the store of the node (SQLite in its home, or a PostgreSQL database other nodes may share: {@link #addNode}) */
        static FleetpkiServer start(List<byte[]> csrs, String serverJvm, String storeUrl) throws Exception {
            Path home = Files.createTempDirectory("fleetpki-est-bench-");
            IssuanceBench.writeConfig(home, storeUrl);
            KeyPair stationKey = KeyAlgorithm.EC_P256.generate();
            Instant now = Instant.now();
            X509Certificate stationCert = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(
                    new X500Name("CN=bench-station"), BigInteger.valueOf(now.toEpochMilli()), Date.from(now.minus(1, ChronoUnit.HOURS)),
                    Date.from(now.plus(1, ChronoUnit.DAYS)), new X500Name("CN=bench-station"), stationKey.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(stationKey.getPrivate())));
            X509Certificate root;
            List<String> secrets = new ArrayList<>();
            List<byte[]> secretBodies = new ArrayList<>();
            List<String[]> secretTexts = new ArrayList<>();
            // CMP answers with implicit confirmation, so that a row counts ir round trips (certConf would add one per enrollment)
            Files.writeString(home.resolve("fleetpki.yaml"), "enrollment: {cmpImplicitConfirm: true}\n", java.nio.file.StandardOpenOption.APPEND);
            progress("fleetpki: ceremony, " + DEVICES + " devices of model 'bench', factory station 'bench-station' for that fleet");
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                Actor op = Actor.operator("bench");
                f.ceremony(op).init(false);
                IssuanceBench.registerDevices(f, DEVICES);
                if (SECRET_DEVICES > 0) {
                    progress(String.format(Locale.ROOT, "fleetpki: %,d more devices, each with a one-time enrollment secret and a CSR", SECRET_DEVICES));
                    secretDevices(f, op, secrets, secretBodies, secretTexts);
                }
                f.store().credentials().addStation(new Station("bench-station", "ACTIVE", Fingerprints.of(stationCert), "bench"),
                        new AuditEvent(f.clock().instant(), op, AuditAction.STATION_ADD, "station:bench-station", Map.of()));
                root = f.store().cas().stream().filter(c -> c.role() == CaRole.ROOT).map(CaRecord::certificate).findFirst().orElseThrow();
            }
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("station", stationKey.getPrivate(), new char[0], new X509Certificate[] {stationCert});
            // SunX509 keeps the key it read; PKIX's key manager reads it from the key store again (PBKDF2) on every handshake
            KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
            kmf.init(ks, new char[0]);
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            ts.setCertificateEntry("root", root);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ts);

            List<String> cmd = ServeProcess.command(home, Arrays.stream(serverJvm.trim().split("\\s+")).filter(x -> !x.isEmpty()).toList());
            progress("fleetpki: starting " + String.join(" ", cmd.subList(0, cmd.size() - 7)) + " ... serve");
            ServeProcess served = ServeProcess.start(home, cmd);
            Process p = served.process();
            int port = served.port();
            List<byte[]> bodies = csrs.stream().map(c -> Base64.getEncoder().encode(c)).toList();
            return new FleetpkiServer(home, p, port, kmf.getKeyManagers(), tmf.getTrustManagers(), bodies, secrets, secretBodies, secretTexts);
        }

        /**
         * Devices bench-s-0 ... registered with a one-time enrollment secret each (made and stored the
         * way {@code fleetpki device add --enrollment-secret} does) and a CSR with the device's id.
         * One key pair signs all their CSRs: the server's work per enrollment is the same.
         */
        static void secretDevices(Fleet f, Actor op, List<String> secrets, List<byte[]> bodies, List<String[]> texts2) throws Exception {
            int n = SECRET_DEVICES;
            String[] texts = new String[n];
            List<Thread> reg = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int k = i;
                String id = "bench-s-" + i;
                reg.add(Thread.ofVirtual().start(() -> {
                    Instant at = f.clock().instant();
                    f.store().devices().addDevice(new Device(id, "bench", Map.of(), Device.Status.ACTIVE, "software", at),
                            new AuditEvent(at, op, AuditAction.DEVICE_ADD, "device:" + id, Map.of()));
                    texts[k] = Enrollment.newSecret(f.store().devices(), f.store().credentials(), f.enrollmentSecrets(), id, Duration.ofDays(1), op, at).text();
                }));
            }
            for (Thread t : reg) {
                t.join();
            }
            KeyPair kp = KeyAlgorithm.EC_P256.generate();
            var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate());
            for (int i = 0; i < n; i++) {
                String id = "bench-s-" + i;
                secrets.add("Basic " + Base64.getEncoder().encodeToString((id + ":" + texts[i]).getBytes(StandardCharsets.UTF_8)));
                texts2.add(new String[] {id, texts[i]});
                bodies.add(Base64.getEncoder().encode(new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=" + id),
                        kp.getPublic()).build(signer).getEncoded()));
            }
        }

        @Override
        public String name() {
            return "fleetpki";
        }

        @Override
        public long pid() {
            return process.pid();
        }

        /**
         * Every client shares one TLS context. A new-connection client must not resume a TLS
         * session (a device that enrolls once has none to resume), and the JDK's client session
         * cache is keyed by peer host and port, so each such connection names a host of its own
         * (it goes in SNI, which the server does not check; the chain is still verified to the
         * root).
         */
        @Override
        public MiniHttp connect(Shape shape) throws IOException {
            boolean fresh = shape != Shape.KEPT_ALIVE;
            String host = fresh ? "device-" + connections.incrementAndGet() + ".bench.invalid" : "localhost";
            SSLContext ctx = shape.secret() ? anonymous : shared;
            int[] all = ports;
            int port = all[(int) (connections.getAndIncrement() % all.length)];
            SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(tcp(port), host, port, true);
            SSLParameters params = s.getSSLParameters();
            if (!fresh) {
                params.setEndpointIdentificationAlgorithm("HTTPS");
            }
            params.setNamedGroups(NAMED_GROUPS);
            params.setSignatureSchemes(SIGNATURE_SCHEMES);
            params.setCipherSuites(CIPHER_SUITES);
            s.setSSLParameters(params);
            s.startHandshake();
            return new MiniHttp(s, "localhost:" + port);
        }

        @Override
        public MiniHttp.Response enroll(MiniHttp http, int i, Shape shape) throws IOException {
            MiniHttp.Response r;
            if (shape == Shape.SCEP_SECRET || shape == Shape.CMP_SECRET) {
                int k = nextProtocolBody.getAndIncrement();
                if (k >= protocolBodies.size()) {
                    throw new IllegalStateException("all " + protocolBodies.size() + " prepared messages sent; run with a larger --protocol-messages");
                }
                r = shape == Shape.SCEP_SECRET ? http.post("/scep?operation=PKIOperation", "application/x-pki-message", protocolBodies.get(k), true)
                        : http.post("/.well-known/cmp", "application/pkixcmp", protocolBodies.get(k), true);
                if (!ok(r, shape)) {
                    return r;
                }
            } else if (shape == Shape.NEW_SECRET) {
                int k = nextSecret.getAndIncrement();
                if (k >= secrets.size()) {
                    throw new IllegalStateException("all " + secrets.size() + " enrollment secrets used; run with a larger --secret-devices");
                }
                r = http.post(EST_PATH, "application/pkcs10", secrets.get(k), secretBodies.get(k), true);
            } else {
                r = http.post(EST_PATH, "application/pkcs10", bodies.get(i), shape != Shape.KEPT_ALIVE);
            }
            if (ok(r)) {
                synchronized (this) {
                    served++;
                }
            }
            return r;
        }

        @Override
        public boolean ok(MiniHttp.Response r) {
            return r.status() == 200 && r.body().length > 300;
        }

        @Override
        public boolean ok(MiniHttp.Response r, Shape shape) {
            return switch (shape) {
                case SCEP_SECRET -> r.status() == 200 && ProtocolMessages.scepSuccess(r.body());
                case CMP_SECRET -> r.status() == 200 && ProtocolMessages.cmpSuccess(r.body());
                default -> ok(r);
            };
        }

        /**
         * Builds {@code n} requests of this protocol, each with the next unused device's one-time
         * secret (the same pool the EST secret shape draws from), two threads at a time: SCEP
         * PKCSReqs enveloped to the server's RA (from GetCACert) and signed by a throwaway RSA
         * certificate, or CMP irs with a PBM MAC. One P-256 key is certified for all, as in the EST rows.
         */
        void prepare(Shape shape, int n) throws Exception {
            int first = nextSecret.getAndAdd(n);
            if (first + n > secretTexts.size()) {
                throw new IllegalStateException("not enough secret devices for " + n + " " + shape.label + " messages; run with a larger --secret-devices");
            }
            progress(String.format(Locale.ROOT, "fleetpki: preparing %,d %s messages", n, shape.label));
            KeyPair certified = KeyAlgorithm.EC_P256.generate();
            X509Certificate ra = shape == Shape.SCEP_SECRET ? scepRa() : null;
            KeyPair rsa = KeyAlgorithm.RSA_2048.generate();
            Instant now = Instant.now();
            X509Certificate self = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(new X500Name("CN=bench requester"),
                    BigInteger.ONE, Date.from(now.minus(1, ChronoUnit.HOURS)), Date.from(now.plus(1, ChronoUnit.DAYS)), new X500Name("CN=bench requester"),
                    rsa.getPublic()).build(new JcaContentSignerBuilder("SHA256withRSA").build(rsa.getPrivate())));
            byte[][] built = new byte[n][];
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int ww = w;
                workers.add(Thread.ofPlatform().start(() -> {
                    try {
                        var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(certified.getPrivate());
                        for (int i = ww; i < n; i += 2) {
                            String[] dev = secretTexts.get(first + i);
                            built[i] = shape == Shape.SCEP_SECRET ? ProtocolMessages.scepPkcsReq(dev[0], dev[1], certified, signer, ra, self, rsa)
                                    : ProtocolMessages.cmpIr(dev[0], dev[1], certified, signer);
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }));
            }
            for (Thread t : workers) {
                t.join();
            }
            protocolBodies.clear();
            protocolBodies.addAll(Arrays.asList(built));
            nextProtocolBody.set(0);
        }

        /** The RA certificate GetCACert returns (the server certifies it on the first SCEP request). */
        private X509Certificate scepRa() throws Exception {
            try (MiniHttp http = connect(Shape.NEW_SECRET)) {
                MiniHttp.Response r = http.post("/scep?operation=GetCACert", "application/octet-stream", new byte[0], true); // the route answers POST too
                var holder = (org.bouncycastle.cert.X509CertificateHolder) new org.bouncycastle.cms.CMSSignedData(r.body()).getCertificates()
                        .getMatches(null).stream().filter(c -> ((org.bouncycastle.cert.X509CertificateHolder) c).getSubject().toString().contains("SCEP RA"))
                        .findFirst().orElseThrow(() -> new IllegalStateException("GetCACert returned no RA certificate"));
                return new JcaX509CertificateConverter().getCertificate(holder);
            }
        }

        /** Certificates returned to clients so far (each one stored). */
        synchronized long certificates() {
            return served;
        }

        @Override
        public void close() throws Exception {
            for (ServeProcess n : extra) {
                n.process().destroy();
                if (!n.process().waitFor(30, TimeUnit.SECONDS)) {
                    n.process().destroyForcibly();
                }
            }
            for (Path h : extraHomes) {
                IssuanceBench.deleteTree(h);
            }
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            // every certificate a client received must be in the store, and the audit chain intact
            try (Fleet f = Fleet.open(home, Clock.systemUTC())) {
                long stored = f.store().certificates().certificateCount();
                // the server pre-signs each new certificate's OCSP answer as it issues it, so the rows include that work
                progress(String.format(Locale.ROOT, "fleetpki: %,d certificates in the store, %,d returned to clients, %,d OCSP answers pre-signed",
                        stored, served, f.store().revocation().ocspResponseCount()));
                if (stored < served) {
                    throw new IllegalStateException("clients received " + served + " certificates but the store holds " + stored);
                }
                if (!f.store().auditLog().verifyAudit().intact()) {
                    throw new IllegalStateException("audit chain broken after the run");
                }
            }
            IssuanceBench.deleteTree(home);
        }
    }

    /** Debian's cfssl: {@code cfssl serve} with an ECDSA P-256 CA made by openssl, plain HTTP, signing only. */
    static final class Cfssl implements Target {
        private final Path dir;
        private final Process process;
        private final int port;
        private final List<byte[]> bodies;

        private Cfssl(Path dir, Process process, int port, List<byte[]> bodies) {
            this.dir = dir;
            this.process = process;
            this.port = port;
            this.bodies = bodies;
        }

        static Cfssl start(List<byte[]> csrs) throws Exception {
            Path dir = Files.createTempDirectory("cfssl-bench-");
            exec(dir, "openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca-key.pem");
            exec(dir, "openssl", "req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=cfssl bench CA", "-days", "30",
                    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem");
            Files.writeString(dir.resolve("config.json"), """
                    {"signing": {"default": {"usages": ["digital signature", "client auth"], "expiry": "8760h"}}}
                    """);
            int port = freePort();
            progress("cfssl: cfssl serve on 127.0.0.1:" + port);
            Process p = new ProcessBuilder("cfssl", "serve", "-address=127.0.0.1", "-port=" + port, "-ca=ca.pem", "-ca-key=ca-key.pem",
                    "-config=config.json").directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("cfssl.log").toFile()).start();
            for (int i = 0; ; i++) { // bounded: 10 s
                try (Socket s = tcp(port)) {
                    break;
                } catch (IOException e) {
                    if (!p.isAlive() || i >= 100) {
                        p.destroyForcibly();
                        throw new IllegalStateException("cfssl serve did not start listening: " + Files.readString(dir.resolve("cfssl.log")));
                    }
                    Thread.sleep(100);
                }
            }
            List<byte[]> bodies = csrs.stream().map(c -> ("{\"certificate_request\": \"" + Pem.encode("CERTIFICATE REQUEST", c).replace("\n", "\\n")
                    + "\"}").getBytes(StandardCharsets.UTF_8)).toList();
            return new Cfssl(dir, p, port, bodies);
        }

        static void exec(Path dir, String... cmd) throws Exception {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed: " + output);
            }
        }

        @Override
        public String name() {
            return "cfssl";
        }

        @Override
        public long pid() {
            return process.pid();
        }

        @Override
        public MiniHttp connect(Shape shape) throws IOException {
            return new MiniHttp(tcp(port), "127.0.0.1:" + port);
        }

        @Override
        public MiniHttp.Response enroll(MiniHttp http, int i, Shape shape) throws IOException {
            return http.post(CFSSL_PATH, "application/json", bodies.get(i), shape != Shape.KEPT_ALIVE);
        }

        @Override
        public boolean ok(MiniHttp.Response r) {
            return r.status() == 200 && new String(r.body(), StandardCharsets.UTF_8).contains("\"success\":true");
        }

        @Override
        public void close() throws Exception {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
            IssuanceBench.deleteTree(dir);
        }
    }
}
