package dev.fleetpki.core.revocation;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.CaRecord;
import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.config.RevocationSettings;
import dev.fleetpki.core.revocation.CrlPublisher.CrlRun;
import dev.fleetpki.core.revocation.OcspResponder.OcspAnswer;
import dev.fleetpki.core.revocation.RevocationLedger.StoredCrl;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Publishes revocation: CRLs per CA (and per shard) signed through the KeyManager
 * ({@link CrlPublisher}), and OCSP answers, pre-signed for every live certificate and signed live
 * only for nonces, unusual hash algorithms and misses ({@link OcspResponder}). A revocation made
 * through this service re-signs the certificate's OCSP response at once and regenerates its CA's
 * CRL within a second; revocations made elsewhere (the CLI, another node) are seen by OCSP at once
 * (the revoking transaction deletes the pre-signed "good" answer) and by the CRL on the CLI's own
 * regeneration or the schedule. It owns no threads: the server's RevocationScheduler runs the
 * periodic work of both halves.
 *
 * <p>A read-only service (a replica of the store) only serves: it never writes, and signs OCSP
 * answers live where no fresh pre-signed one is stored.
 */
public final class RevocationService implements IssuanceObserver {
    /** OCSP requests larger than this are refused; a normal one is about 100 bytes. */
    public static final int MAX_OCSP_REQUEST = OcspResponder.MAX_OCSP_REQUEST;
    /** How long after issuance a certificate's pre-signed answer is stored, at most. */
    public static final Duration ISSUED_PRESIGN_DELAY = OcspResponder.ISSUED_PRESIGN_DELAY;
    /** How often a responder polls the store's revocation epoch. */
    public static final Duration EPOCH_POLL = OcspResponder.EPOCH_POLL;

    private final FleetConfig config;
    private final Clock clock;
    private final boolean writable;
    private final CrlPublisher crls;
    private final OcspResponder ocsp;
    /** The revocation thread of the scheduler running this service's periodic work (fleetpki-server), or null when none runs it. */
    private volatile ScheduledExecutorService worker;

    /**
     * @param store the CA records (read for the issuers and their revocation)
     * @param rs the revocation ledger: CRLs, pre-signed answers, certificate statuses
     * @param writable false on a read-only store (a replica): only serves, never writes
     */
    public RevocationService(FleetConfig config, CaRegistry store, RevocationLedger rs, StoredCaDirectory cas, Clock clock, boolean writable) {
        this.config = config;
        this.clock = clock;
        this.writable = writable;
        this.crls = new CrlPublisher(config, store, rs, cas, clock, writable);
        this.ocsp = new OcspResponder(config, store, rs, cas, clock, writable);
    }

    /** The CRL half. */
    public CrlPublisher crls() {
        return crls;
    }

    /** The OCSP half. */
    public OcspResponder ocsp() {
        return ocsp;
    }

    /** The clock this service answers by (injected; tests and the HTTP caching headers read the same one). */
    public Clock clock() {
        return clock;
    }

    private RevocationObserver observer;

    /**
     * Reports to {@code m} from now on (the server's metrics). Asking again for the same observer
     * changes nothing (the HTTPS server and the plain-HTTP revocation listener share one service,
     * and a gauge registered twice is a warning at every start).
     */
    public synchronized void observe(RevocationObserver m) {
        if (m == observer) {
            return;
        }
        observer = m;
        crls.observe(m);
        ocsp.observe(m);
    }

    public RevocationSettings settings() {
        return config.revocation();
    }

    public boolean writable() {
        return writable;
    }

    /**
     * The scheduler that runs this service's periodic work (fleetpki-server's RevocationScheduler)
     * hands it its revocation thread: from now on the CRLs due after a revocation are generated
     * there, after any run already queued, and the certificates this process issues are queued for
     * pre-signing (see {@link #issued}). Null: neither.
     */
    public void attach(ScheduledExecutorService revocationThread) {
        this.worker = revocationThread;
    }

    /**
     * A certificate this process just issued: once a scheduler runs the service on a writable store,
     * its "good" answer is pre-signed and stored within {@link #ISSUED_PRESIGN_DELAY} (in batches, on
     * the revocation thread), so the first OCSP request for it is a lookup and the periodic pass does
     * not find it missing (those still queued when the scheduler closes are signed as it closes).
     * The cost of pre-signing is paid while issuing, not minutes later in a burst.
     */
    @Override
    public void issued(IssuedCertificate c, String protocol, long nanos) {
        if (writable && worker != null) {
            ocsp.queueIssued(c);
        }
    }

    /**
     * Called after revocations this process committed: re-signs their OCSP answers at once and
     * regenerates their CAs' CRLs shortly (several revocations within the debounce share one run).
     */
    public void revoked(List<String> serials) {
        if (!writable) {
            return;
        }
        ocsp.reSign(serials).forEach(crls::markDue);
        ScheduledExecutorService w = worker;
        if (w != null) { // on the revocation thread, after any CRL run already there: one CA's CRLs are never generated twice at once
            w.schedule(crls::generateDue, 200, TimeUnit.MILLISECONDS);
        } else { // not run by a scheduler (a caller that only answers and revokes): debounce on a thread of its own
            Thread.ofVirtual().name("fleetpki-crl-after-revocation").start(() -> {
                try {
                    Thread.sleep(200);
                    crls.generateDue();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
    }

    /** Writes what waits in memory: OCSP answers signed on demand, and the answers of certificates issued in the last moments. */
    public void flush() {
        ocsp.saveQueued();
        ocsp.presignIssuedQuietly(); // what the last 200 ms issued (the periodic pass would sign it after a restart)
    }

    // ---- the operations callers use, by half ----

    public CrlRun generateCrl(String caName, Actor actor) {
        return crls.generateCrl(caName, actor);
    }

    public CrlRun generateCrl(String caName, Actor actor, Duration validity) {
        return crls.generateCrl(caName, actor, validity);
    }

    public StoredCrl importCrl(byte[] data, Actor actor) {
        return crls.importCrl(data, actor);
    }

    public List<CrlRun> generateAll(Actor actor, Map<String, String> skipped) {
        return crls.generateAll(actor, skipped);
    }

    public Optional<StoredCrl> crl(String ca, int shard) {
        return crls.crl(ca, shard);
    }

    public List<CaRecord> crlIssuers() {
        return crls.crlIssuers();
    }

    public OcspAnswer answer(byte[] request) {
        return ocsp.answer(request);
    }

    public long presign() {
        return ocsp.presign();
    }

    public List<CaRecord> maintainOcspSigners() {
        return ocsp.maintainOcspSigners();
    }

    public int keptAnswers() {
        return ocsp.keptAnswers();
    }

    public Set<String> reSign(List<String> serials) {
        return ocsp.reSign(serials);
    }

    public Duration presignInterval() {
        return ocsp.presignInterval();
    }
}
