package dev.fleetpki.server;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.revocation.RevocationObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
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
        return registry.scrape();
    }
}
