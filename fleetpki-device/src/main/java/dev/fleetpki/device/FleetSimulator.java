package dev.fleetpki.device;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * N simulated devices on virtual threads, each doing what a real one does: registered by the
 * fleet's back end (REST, with an API token), given a one-time secret, key made (in memory), CSR,
 * EST enrollment, the answer checked, MQTT over mutual TLS (connect, publish), renewal with a new
 * key; then some are revoked through the API and must be locked out of the broker once its CRL is
 * refreshed (the {@code afterRevoke} hook runs the operator's refresh, e.g. export the CRLs and
 * reload the broker), while the others still get in. Prints a progress bar and a summary.
 */
public final class FleetSimulator {
    /**
     * @param server the fleetpki server, {@code https://host:port}
     * @param broker the MQTT broker (null: no MQTT step)
     * @param afterRevoke run once after the revocations (null: nothing)
     */
    public record Options(URI server, X509Certificate anchor, char[] token, int devices, String prefix, int concurrency,
                          InetSocketAddress broker, String brokerName, int revoke, boolean renew, Duration lockoutTimeout, Runnable afterRevoke) {}

    /** What happened, counted per step, with enrollment latency percentiles. */
    public record Summary(int devices, int enrolled, int published, int renewed, int revoked, int lockedOut, int stillConnected,
                          List<String> failures, long[] enrollMillis, Duration took) {
        public long percentile(double q) {
            return enrollMillis.length == 0 ? 0 : enrollMillis[Math.min(enrollMillis.length - 1, (int) (enrollMillis.length * q))];
        }

        public String render() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "devices %d in %.1f s (%.0f enrolled/s)%n", devices, took.toMillis() / 1000.0,
                    enrolled / Math.max(0.001, took.toMillis() / 1000.0)));
            sb.append(String.format(Locale.ROOT, "  enrolled         %d%n  published (MQTT) %d%n  renewed (rekey)  %d%n", enrolled, published, renewed));
            sb.append(String.format(Locale.ROOT, "  revoked          %d, locked out of the broker: %d; others still connecting: %d%n", revoked, lockedOut,
                    stillConnected));
            sb.append(String.format(Locale.ROOT, "  enrollment latency ms: p50 %d, p95 %d, p99 %d, max %d%n", percentile(0.50), percentile(0.95),
                    percentile(0.99), enrollMillis.length == 0 ? 0 : enrollMillis[enrollMillis.length - 1]));
            sb.append(String.format(Locale.ROOT, "  failures         %d%n", failures.size()));
            failures.stream().limit(10).forEach(f -> sb.append("    ").append(f).append('\n'));
            return sb.toString();
        }
    }

    private static final class Sim {
        final String id;
        EphemeralKey key;
        List<X509Certificate> chain;

        Sim(String id) {
            this.id = id;
        }
    }

    private static final Pattern SECRET = Pattern.compile("\"secret\"\\s*:\\s*\"([^\"]+)\"");

    public Summary run(Options o, PrintStream progress) throws InterruptedException {
        long t0 = System.nanoTime();
        HttpClient http = EstClient.httpClient(o.anchor(), null, Duration.ofSeconds(30));
        EstClient est = new EstClient(URI.create(o.server() + "/.well-known/est"), o.anchor(), Duration.ofSeconds(30));
        List<X509Certificate> cas = est.cacerts();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        List<Sim> sims = new ArrayList<>();
        for (int i = 0; i < o.devices(); i++) {
            sims.add(new Sim(o.prefix() + String.format(Locale.ROOT, "%05d", i)));
        }
        long[] enrollMillis = new long[o.devices()];
        Arrays.fill(enrollMillis, -1);
        AtomicInteger done = new AtomicInteger();
        AtomicInteger enrolled = new AtomicInteger();
        AtomicInteger published = new AtomicInteger();
        AtomicInteger renewed = new AtomicInteger();
        // redrawn on a terminal only; into a file or a pipe, the one line at the end (no run of \r-joined bars)
        Progress bar = new Progress(progress, o.devices(), done, failures, progress == System.err && System.console() != null);
        bar.start();
        Semaphore slots = new Semaphore(Math.max(1, o.concurrency()));
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < sims.size(); i++) {
            int n = i;
            Sim s = sims.get(i);
            slots.acquire();
            threads.add(Thread.ofVirtual().name("sim-" + s.id).start(() -> {
                try {
                    String secret = register(http, o, s.id);
                    s.key = EphemeralKey.p256(s.id);
                    long e0 = System.nanoTime();
                    EstClient.Answer a = est.simpleenroll(csr(s), s.id, secret.toCharArray());
                    s.chain = check(a, cas, s, o);
                    enrollMillis[n] = (System.nanoTime() - e0) / 1_000_000;
                    enrolled.incrementAndGet();
                    if (o.broker() != null) {
                        publish(o, s);
                        published.incrementAndGet();
                    }
                    if (o.renew()) {
                        EphemeralKey old = s.key;
                        List<X509Certificate> oldChain = s.chain;
                        s.key = EphemeralKey.p256(s.id + "-renewed");
                        s.chain = check(est.simplereenroll(csr(s), old, oldChain), cas, s, o);
                        renewed.incrementAndGet();
                    }
                } catch (RuntimeException e) { // DeviceException and anything unexpected: counted, the run goes on
                    failures.add(s.id + ": " + e.getMessage());
                } finally {
                    done.incrementAndGet();
                    slots.release();
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        bar.stop();

        int revoked = 0;
        int lockedOut = 0;
        int stillConnected = 0;
        if (o.revoke() > 0) {
            List<Sim> toRevoke = sims.stream().filter(s -> s.chain != null).limit(o.revoke()).toList();
            for (Sim s : toRevoke) {
                try {
                    revoke(http, o, s);
                    revoked++;
                } catch (DeviceException e) {
                    failures.add(s.id + ": revoke: " + e.getMessage());
                }
            }
            progress.println("revoked " + revoked + " devices through the API");
            if (o.afterRevoke() != null) {
                o.afterRevoke().run();
            }
            if (o.broker() != null) {
                long deadline = System.nanoTime() + o.lockoutTimeout().toNanos();
                List<Sim> waiting = new ArrayList<>(toRevoke);
                while (!waiting.isEmpty() && System.nanoTime() < deadline) {
                    waiting.removeIf(s -> !canPublish(o, s));
                    if (!waiting.isEmpty()) {
                        Thread.sleep(500);
                    }
                }
                lockedOut = toRevoke.size() - waiting.size();
                waiting.forEach(s -> failures.add(s.id + ": revoked but the broker still lets it in after " + o.lockoutTimeout().toSeconds() + " s"));
                for (Sim s : sims) {
                    if (s.chain != null && !toRevoke.contains(s)) {
                        if (canPublish(o, s)) {
                            stillConnected++;
                        } else {
                            failures.add(s.id + ": a good device was refused by the broker");
                        }
                    }
                }
            }
        }
        long[] lat = Arrays.stream(enrollMillis).filter(v -> v >= 0).sorted().toArray();
        return new Summary(o.devices(), enrolled.get(), published.get(), renewed.get(), revoked, lockedOut, stillConnected, List.copyOf(failures), lat,
                Duration.ofNanos(System.nanoTime() - t0));
    }

    private static byte[] csr(Sim s) {
        try {
            var subject = new X500NameBuilder(BCStyle.INSTANCE)
                    .addRDN(BCStyle.CN, s.id).build();
            return new JcaPKCS10CertificationRequestBuilder(subject, s.key.publicKey()).build(s.key.contentSigner()).getEncoded();
        } catch (IOException e) {
            throw new DeviceException("cannot encode the CSR: " + e.getMessage(), e);
        }
    }

    private static List<X509Certificate> check(EstClient.Answer a, List<X509Certificate> cas, Sim s, Options o) {
        if (a.pending().isPresent()) {
            throw new DeviceException("enrollment pending an operator's approval");
        }
        List<X509Certificate> all = new ArrayList<>(a.certificates());
        all.addAll(cas);
        return CertificateCheck.verify(all, s.key.publicKey(), s.id, o.anchor(), Clock.systemUTC().instant());
    }

    private static void publish(Options o, Sim s) {
        try (MqttTlsClient c = MqttTlsClient.connect(o.broker(), o.brokerName(), s.id, s.key, s.chain, o.anchor(), Duration.ofSeconds(10))) {
            c.publish("fleet/" + s.id + "/telemetry", ("{\"device\":\"" + s.id + "\",\"t\":21.5}").getBytes(StandardCharsets.UTF_8));
        }
    }

    private static boolean canPublish(Options o, Sim s) {
        try {
            publish(o, s);
            return true;
        } catch (DeviceException refused) {
            return false;
        }
    }

    /** The back end's part: register the device and get its one-time enrollment secret. */
    private static String register(HttpClient http, Options o, String id) {
        HttpResponse<String> r = post(http, o, "/api/v1/devices", "{\"id\":\"" + id + "\",\"model\":\"simulated\"}");
        if (r.statusCode() != 201) {
            throw new DeviceException("registering failed: HTTP " + r.statusCode() + " " + r.body());
        }
        HttpResponse<String> sec = post(http, o, "/api/v1/devices/" + id + "/enrollment-secret", "");
        Matcher m = SECRET.matcher(sec.body());
        if (sec.statusCode() != 201 || !m.find()) {
            throw new DeviceException("no enrollment secret: HTTP " + sec.statusCode() + " " + sec.body());
        }
        return m.group(1);
    }

    private static void revoke(HttpClient http, Options o, Sim s) {
        String serial = s.chain.getFirst().getSerialNumber().toString(16);
        HttpResponse<String> r = post(http, o, "/api/v1/certificates/" + serial + "/revoke", "{\"reason\":\"key-compromise\"}");
        if (r.statusCode() != 200) {
            throw new DeviceException("HTTP " + r.statusCode() + " " + r.body());
        }
    }

    private static HttpResponse<String> post(HttpClient http, Options o, String path, String json) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(o.server() + path)).header("Authorization", "Bearer " + new String(o.token()))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new DeviceException("cannot reach " + o.server() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeviceException("interrupted", e);
        }
    }

    /** A one-line progress bar on stderr, redrawn a few times a second on a terminal; elsewhere drawn once, at the end. */
    private static final class Progress {
        private final PrintStream out;
        private final int total;
        private final AtomicInteger done;
        private final List<String> failures;
        private final boolean redraw;
        private Thread thread;

        Progress(PrintStream out, int total, AtomicInteger done, List<String> failures, boolean redraw) {
            this.out = out;
            this.total = total;
            this.done = done;
            this.failures = failures;
            this.redraw = redraw;
        }

        void start() {
            if (!redraw) {
                return;
            }
            thread = Thread.ofVirtual().start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    draw();
                    try {
                        Thread.sleep(250);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        void draw() {
            int d = done.get();
            int width = 30;
            int filled = total == 0 ? width : d * width / total;
            out.print(String.format(Locale.ROOT, (redraw ? "\r" : "") + "[%s%s] %d/%d devices, %d failed", "#".repeat(filled), ".".repeat(width - filled), d, total,
                    failures.size()));
            out.flush();
        }

        void stop() throws InterruptedException {
            if (thread != null) {
                thread.interrupt();
                thread.join();
            }
            draw();
            out.println();
        }
    }
}
