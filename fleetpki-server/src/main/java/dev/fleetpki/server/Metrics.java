package dev.fleetpki.server;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.revocation.RevocationObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Prometheus metrics (served at {@code /metrics}): issuances and their latency by profile and
 * protocol ({@code fleetpki_issuance_seconds}, a histogram), refusals by reason, profile and
 * protocol ({@code fleetpki_refusals_total}), pending requests ({@code fleetpki_pending_requests}). Issuances made by other processes on the same
 * store (the CLI) are not counted here. Label values come only from known sets (the configured
 * profile names, the protocols fleetpki speaks); anything else is counted as {@code other}, so a
 * client cannot add series by sending made-up profile names.
 */
public final class Metrics implements IssuanceObserver, RevocationObserver {
    /** The protocols that issue or refuse; a request names one of these or is counted as other. */
    static final Set<String> PROTOCOLS = Set.of("cli", "rest", "est", "est-reenroll", "est-serverkeygen", "serve", "scep", "scep-renewal", "cmp", "batch");

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Set<String> profiles;

    /** @param profiles the configured profile names: the only profile label values */
    public Metrics(Set<String> profiles) {
        this.profiles = Set.copyOf(profiles);
    }

    private String profile(String p) {
        return p != null && profiles.contains(p) ? p : "other";
    }

    private static String protocol(String p) {
        return p != null && PROTOCOLS.contains(p) ? p : "other";
    }

    @Override
    public void issued(IssuedCertificate certificate, String protocol, long nanos) {
        Timer.builder("fleetpki.issuance").description("certificates issued and committed, and how long each took")
                .tags("profile", profile(certificate.profile()), "protocol", protocol(protocol))
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry).record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void refused(ErrorKind kind, String profile, String protocol) {
        refused(kind.name().toLowerCase(Locale.ROOT).replace('_', '-'), profile, protocol);
    }

    @Override
    public void refused(String reason, String profile, String protocol) {
        Counter.builder("fleetpki.refusals").description("issuance requests refused, by reason")
                .tags("reason", reason, "profile", profile(profile), "protocol", protocol(protocol))
                .register(registry).increment();
    }

    /** Exposes the number of pending enrollment requests (read from the store at each scrape) as {@code fleetpki_pending_requests}. */
    void watchPending(Supplier<Number> pending) {
        Gauge.builder("fleetpki.pending.requests", pending)
                .description("enrollment requests waiting for an operator").register(registry);
    }

    /** The windows certificates are counted in as they near their end. */
    public static final List<Duration> EXPIRY_WINDOWS = List.of(Duration.ofDays(7), Duration.ofDays(30), Duration.ofDays(90));
    /** How often the store is asked again for the expiry gauges (a scrape in between gets the last answer). */
    static final Duration EXPIRY_REFRESH = Duration.ofSeconds(60);

    /** What the expiry gauges show: unrevoked certificates nearing their end, each CA's end (OCSP signers too), each CRL's next update. */
    public record Expiry(List<dev.fleetpki.core.store.CertificateStore.Expiring> certificates, List<dev.fleetpki.core.CaRecord> cas,
                         List<dev.fleetpki.core.revocation.RevocationLedger.StoredCrl> crls) {}

    private Supplier<Expiry> expirySource;
    private long expiryReadAt;
    private MultiGauge expiringGauge;
    private MultiGauge caEndGauge;
    private MultiGauge crlNextGauge;

    /**
     * Exposes {@code fleetpki_certificates_expiring{ca,profile,within="7d|30d|90d"}},
     * {@code fleetpki_ca_not_after_seconds{ca,role}} and {@code fleetpki_crl_next_update_seconds{ca,shard}}
     * (Unix times, for alert rules such as {@code fleetpki_ca_not_after_seconds - time() < 180 * 86400}),
     * read from {@code source} at most every {@link #EXPIRY_REFRESH}.
     */
    synchronized void watchExpiry(Supplier<Expiry> source) {
        expirySource = source;
        expiringGauge = MultiGauge.builder("fleetpki.certificates.expiring")
                .description("unrevoked certificates that end within the window (7d, 30d, 90d), by CA and profile").register(registry);
        caEndGauge = MultiGauge.builder("fleetpki.ca.not.after.seconds")
                .description("when each CA certificate (root, issuing, code-signing, OCSP signer, SCEP RA) ends, as a Unix time").register(registry);
        crlNextGauge = MultiGauge.builder("fleetpki.crl.next.update.seconds")
                .description("the nextUpdate of each stored CRL (shard), as a Unix time").register(registry);
    }

    private synchronized void refreshExpiry() {
        long now = System.nanoTime();
        if (expirySource == null || expiryReadAt != 0 && now - expiryReadAt < EXPIRY_REFRESH.toNanos()) {
            return;
        }
        Expiry e;
        try {
            e = expirySource.get();
        } catch (RuntimeException ex) {
            return; // the store is unreachable: the last values stay (the health endpoint says why)
        }
        expiryReadAt = now;
        expiringGauge.register(e.certificates().stream().map(x -> MultiGauge.Row.of(Tags.of("ca", x.ca(), "profile", profile(x.profile()),
                "within", x.within().toDays() + "d"), x.count())).toList(), true);
        caEndGauge.register(e.cas().stream().map(c -> MultiGauge.Row.of(Tags.of("ca", c.name(), "role", c.role().configName()),
                c.certificate().getNotAfter().getTime() / 1000.0)).toList(), true);
        crlNextGauge.register(e.crls().stream().map(c -> MultiGauge.Row.of(Tags.of("ca", c.ca(), "shard", Integer.toString(c.shard())),
                c.nextUpdate().getEpochSecond())).toList(), true);
    }

    /** An OCSP answer given: its status (good, revoked, unknown, unauthorized) and whether it was pre-signed or signed live. */
    private final Map<String, Counter> ocspCounters = new ConcurrentHashMap<>();

    /** Called for every OCSP answer, so the counter is looked up in a map of its own rather than built each time. */
    @Override
    public void ocspAnswered(String status, boolean presigned) {
        String source = presigned ? "presigned" : "live";
        ocspCounters.computeIfAbsent(status + "/" + source, k -> Counter.builder("fleetpki.ocsp.responses")
                .description("OCSP answers given, by status and by source (pre-signed or signed live)")
                .tags("status", status, "source", source).register(registry)).increment();
    }

    /**
     * OCSP answers pre-signed and stored by this process, by what made them ({@code issuance}: a
     * certificate it issued; {@code pass}: the periodic pass; {@code revocation}: re-signed after a
     * revocation), as {@code fleetpki_ocsp_presigned_total}.
     */
    @Override
    public void ocspPresigned(String trigger, long answers) {
        if (answers > 0) {
            Counter.builder("fleetpki.ocsp.presigned").description("OCSP answers pre-signed and stored, by what made them")
                    .tags("trigger", trigger).register(registry).increment(answers);
        }
    }

    /** Certificates issued here whose OCSP answers wait to be pre-signed, as {@code fleetpki_ocsp_presign_queue}. */
    @Override
    public void watchPresignQueue(Supplier<Number> queued) {
        Gauge.builder("fleetpki.ocsp.presign.queue", queued)
                .description("issued certificates whose OCSP answers wait to be pre-signed").register(registry);
    }

    private final Map<String, long[]> crls = new ConcurrentHashMap<>();

    /** A CRL published by this process: entries and number as gauges {@code fleetpki_crl_entries} and {@code fleetpki_crl_number}. */
    @Override
    public void crlPublished(String ca, int shard, long entries, long number) {
        String key = ca + "/" + shard;
        long[] v = crls.computeIfAbsent(key, k -> {
            long[] cell = new long[2];
            Gauge.builder("fleetpki.crl.entries", cell, c -> c[0]).tags("ca", ca, "shard", Integer.toString(shard))
                    .description("entries on the newest CRL this server published").register(registry);
            Gauge.builder("fleetpki.crl.number", cell, c -> c[1]).tags("ca", ca, "shard", Integer.toString(shard))
                    .description("number of the newest CRL this server published").register(registry);
            return cell;
        });
        v[0] = entries;
        v[1] = number;
    }

    /** The Prometheus text exposition. */
    public String scrape() {
        refreshExpiry();
        return registry.scrape();
    }
}
