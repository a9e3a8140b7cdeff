package dev.fleetpki.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.config.Webhook;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.WebhookStore;
import dev.fleetpki.kms.Pem;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers registry notifications (docs/cloud.md): for each configured endpoint, one thread reads
 * the audit events after the endpoint's cursor (the audit log is the outbox: an event exists
 * exactly when its cause was committed), turns them into JSON events and POSTs them in order, at
 * most {@code perMinute} a minute. An attempt that fails (connection refused, a timeout, a status
 * other than 2xx) is tried again after a backoff that doubles (honouring Retry-After); when the
 * attempts run out the event is set aside as failed, visible and retriable from the CLI and API,
 * and the next one goes. The cursor moves only after a delivery, so a crash or a restart delivers
 * the event in flight again (at least once: receivers deduplicate by {@code id}). Nodes sharing a
 * store take a lease per endpoint, so one delivers it.
 */
public final class WebhookDispatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WebhookDispatcher.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Duration LEASE = Duration.ofSeconds(30);
    static final Duration POLL = Duration.ofMillis(500);
    private static final int BATCH = 50;

    private final List<Webhook> hooks;
    private final WebhookStore store;
    private final CertificateStore certificates;
    private final Clock clock;
    private final String node;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running = true;

    public WebhookDispatcher(List<Webhook> hooks, WebhookStore store, CertificateStore certificates, Clock clock) {
        this.hooks = List.copyOf(hooks);
        this.store = store;
        this.certificates = certificates;
        this.clock = clock;
        this.node = ProcessHandle.current().pid() + "@" + hostName() + "/" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    }

    /** Starts one delivery thread per endpoint. */
    public WebhookDispatcher start() {
        for (Webhook h : hooks) {
            Thread t = Thread.ofVirtual().name("fleetpki-webhook-" + h.name()).start(() -> run(h));
            threads.add(t);
        }
        return this;
    }

    @Override
    public void close() {
        running = false;
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            try {
                t.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        for (Webhook h : hooks) {
            try {
                store.releaseWebhook(h.name(), node);
            } catch (RuntimeException e) {
                LOG.debug("webhook '{}': lease not released ({}); it expires within {}", h.name(), e.getMessage(), LEASE);
            }
        }
    }

    private void run(Webhook h) {
        List<String> actions = h.actions();
        HttpClient http;
        try {
            http = client(h);
        } catch (IOException | GeneralSecurityException e) {
            LOG.error("webhook '{}' cannot start: its trust file {} does not load ({}); no events are delivered to it", h.name(), h.trust(), e.getMessage());
            return;
        }
        PerMinute rate = new PerMinute(h.perMinute(), System::nanoTime);
        while (running) {
            try {
                Instant now = clock.instant();
                store.webhookEndpoint(h.name()); // made at the audit head the first time
                if (!store.leaseWebhook(h.name(), node, now.plus(LEASE), now)) {
                    Thread.sleep(LEASE.dividedBy(3));
                    continue;
                }
                for (WebhookStore.Failure f : store.webhookFailures(h.name(), BATCH)) {
                    if (f.retryRequested() && running) {
                        retry(h, http, rate, f);
                    }
                }
                long cursor = store.webhookEndpoint(h.name()).cursor();
                List<WebhookStore.Source> batch = store.auditEventsAfter(cursor, actions, BATCH);
                if (batch.isEmpty()) {
                    Thread.sleep(POLL);
                    continue;
                }
                for (WebhookStore.Source src : batch) {
                    if (!running || !store.leaseWebhook(h.name(), node, clock.instant().plus(LEASE), clock.instant())) {
                        break;
                    }
                    Optional<Event> e = event(src);
                    if (e.isEmpty()) {
                        store.webhookDone(h.name(), src.seq(), false, clock.instant());
                        continue;
                    }
                    Outcome o = deliver(h, http, rate, e.get());
                    if (o.ok()) {
                        store.webhookDone(h.name(), src.seq(), true, clock.instant());
                    } else {
                        LOG.warn("webhook '{}': event {} ({}) set aside after {} attempts: {}; retry with 'fleetpki webhook retry {}'", h.name(),
                                e.get().id(), e.get().type(), o.attempts(), o.error(), h.name());
                        store.webhookFailed(h.name(), src.seq(), e.get().type(), o.attempts(), o.error(), clock.instant());
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.warn("webhook '{}': {}", h.name(), e.getMessage());
                try {
                    Thread.sleep(h.backoff());
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    private void retry(Webhook h, HttpClient http, PerMinute rate, WebhookStore.Failure f) throws InterruptedException {
        Optional<Event> e = store.auditEvent(f.seq()).flatMap(this::event);
        if (e.isEmpty()) {
            store.webhookRetried(h.name(), f.seq(), clock.instant());
            return;
        }
        Outcome o = deliver(h, http, rate, e.get());
        if (o.ok()) {
            store.webhookRetried(h.name(), f.seq(), clock.instant());
        } else {
            store.webhookFailed(h.name(), f.seq(), f.event(), o.attempts(), o.error(), clock.instant());
        }
    }

    record Outcome(boolean ok, int attempts, String error) {}

    /** Tries one event up to the endpoint's attempts, waiting between them; renews the lease before each. */
    private Outcome deliver(Webhook h, HttpClient http, PerMinute rate, Event e) throws InterruptedException {
        Duration wait = h.backoff();
        String error = null;
        for (int attempt = 1; attempt <= h.attempts(); attempt++) {
            rate.acquire();
            Duration retryAfter = null;
            try {
                HttpRequest.Builder req = HttpRequest.newBuilder(h.url()).timeout(h.timeout())
                        .header("Content-Type", "application/json")
                        .header("User-Agent", "fleetpki-webhook")
                        .header("X-Fleetpki-Event", e.type())
                        .header("X-Fleetpki-Delivery", e.id())
                        .POST(HttpRequest.BodyPublishers.ofByteArray(e.body()));
                if (h.secret() != null) {
                    req.header("X-Fleetpki-Signature", "sha256=" + hmac(h.secret().read(), e.body()));
                }
                HttpResponse<Void> r = http.send(req.build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() / 100 == 2) {
                    return new Outcome(true, attempt, null);
                }
                error = "HTTP " + r.statusCode();
                retryAfter = r.headers().firstValue("Retry-After").map(WebhookDispatcher::seconds).orElse(null);
            } catch (java.net.http.HttpTimeoutException t) {
                error = "no answer within " + h.timeout().toMillis() + " ms";
            } catch (java.net.ConnectException refused) {
                error = "cannot connect to " + h.url().getHost() + ":" + port(h.url()) + " (connection refused: is the receiver running?)";
            } catch (IOException io) {
                error = (io instanceof javax.net.ssl.SSLException ? "TLS with the receiver failed" : "the connection to the receiver failed")
                        + (io.getMessage() == null ? "" : ": " + io.getMessage());
            }
            store.webhookError(h.name(), error + " (event " + e.id() + ", attempt " + attempt + " of " + h.attempts() + ")", clock.instant());
            if (attempt < h.attempts()) {
                Duration pause = retryAfter != null && retryAfter.compareTo(wait) > 0 ? retryAfter : wait;
                Thread.sleep(pause.compareTo(Webhook.MAX_BACKOFF) > 0 ? Webhook.MAX_BACKOFF : pause);
                wait = wait.multipliedBy(2).compareTo(Webhook.MAX_BACKOFF) > 0 ? Webhook.MAX_BACKOFF : wait.multipliedBy(2);
                store.leaseWebhook(h.name(), node, clock.instant().plus(LEASE).plus(wait), clock.instant());
            }
        }
        return new Outcome(false, h.attempts(), error);
    }

    private static int port(java.net.URI u) {
        return u.getPort() != -1 ? u.getPort() : "https".equals(u.getScheme()) ? 443 : 80;
    }

    private static Duration seconds(String v) {
        try {
            long s = Long.parseLong(v.strip());
            return s >= 0 ? Duration.ofSeconds(s) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** A notification: its id (the audit event's), type, and JSON body. */
    record Event(String id, String type, byte[] body) {}

    /** The notification an audit event causes, if any: certificate events only for devices' certificates. */
    Optional<Event> event(WebhookStore.Source src) {
        String type = Webhook.EVENT_OF.get(src.action());
        if (type == null) {
            return Optional.empty();
        }
        JsonNode detail;
        try {
            detail = JSON.readTree(src.detail());
        } catch (IOException e) {
            detail = JSON.createObjectNode();
        }
        Map<String, Object> body = new LinkedHashMap<>();
        String id = "fleetpki-audit-" + src.seq();
        body.put("id", id);
        body.put("type", type);
        body.put("at", src.at().toString());
        switch (src.action()) {
            case "certificate.issue", "certificate.revoke" -> {
                String serial = detail.path("serial").asText(src.target().startsWith("serial:") ? src.target().substring(7) : "");
                Optional<StoredCertificate> sc = certificates.certificate(serial);
                if (sc.isEmpty() || sc.get().issued().deviceId() == null) {
                    return Optional.empty(); // not a device's certificate (a signer's, a cloud verification certificate)
                }
                X509Certificate cert = sc.get().issued().certificate();
                body.put("deviceId", sc.get().issued().deviceId());
                body.put("serial", serial);
                body.put("ca", sc.get().issued().caName());
                body.put("profile", sc.get().issued().profile());
                body.put("subject", sc.get().issued().subject());
                body.put("notAfter", sc.get().issued().notAfter().toString());
                body.put("thumbprintSha1", Fingerprints.thumbprint("SHA-1", sc.get().issued().der()));
                body.put("thumbprintSha256", Fingerprints.thumbprint("SHA-256", sc.get().issued().der()));
                if (src.action().equals("certificate.revoke")) {
                    body.put("reason", detail.path("reason").asText(null));
                }
                body.put("certificatePem", Pem.encode("CERTIFICATE", sc.get().issued().der()));
                body.put("issuerSubject", cert.getIssuerX500Principal().getName());
            }
            case "device.revoke" -> {
                body.put("deviceId", src.target().replaceFirst("^device:", ""));
                body.put("reason", detail.path("reason").asText(null));
                String list = detail.path("certificates").asText("");
                body.put("serials", list.isEmpty() ? List.of() : List.of(list.split(",")));
            }
            default -> body.put("deviceId", src.target().replaceFirst("^device:", ""));
        }
        try {
            return Optional.of(new Event(id, type, JSON.writeValueAsBytes(body)));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** HMAC-SHA256 of the body with the endpoint's secret, lower-case hex. */
    static String hmac(char[] secret, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(new String(secret).getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpClient client(Webhook h) throws IOException, GeneralSecurityException {
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(h.timeout()).followRedirects(HttpClient.Redirect.NEVER);
        if (h.trust() != null) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            try (InputStream in = Files.newInputStream(h.trust())) {
                for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    ks.setCertificateEntry("ca-" + i++, c);
                }
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            b.sslContext(ctx);
        }
        return b.build();
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    /**
     * At most {@code perMinute} requests a minute, as a token bucket holding a tenth of a minute's
     * worth (at least one): a burst after a quiet time is bounded too.
     */
    static final class PerMinute {
        private final double perNano;
        private final double capacity;
        private final LongSupplier nanos;
        private double tokens;
        private long last;

        PerMinute(int perMinute, LongSupplier nanos) {
            this.perNano = perMinute / 60e9;
            this.capacity = Math.max(1, perMinute / 10.0);
            this.nanos = nanos;
            this.tokens = capacity;
            this.last = nanos.getAsLong();
        }

        /** How long to wait before the next request may go, taking its token if it may go now (0). */
        synchronized long nanosToWait() {
            long now = nanos.getAsLong();
            tokens = Math.min(capacity, tokens + (now - last) * perNano);
            last = now;
            if (tokens >= 1) {
                tokens -= 1;
                return 0;
            }
            return (long) Math.ceil((1 - tokens) / perNano);
        }

        void acquire() throws InterruptedException {
            long wait;
            while ((wait = nanosToWait()) > 0) {
                Thread.sleep(Duration.ofNanos(wait));
            }
        }
    }
}
