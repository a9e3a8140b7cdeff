package dev.fleetpki.server;

import dev.fleetpki.core.revocation.RevocationService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs a {@link RevocationService}'s periodic work while a server runs; the service decides what
 * each run does, this class only when. Every node: the store's revocation epoch polled every
 * {@link RevocationService#EPOCH_POLL} on a thread of its own (so a long CRL run never delays it),
 * which keeps the answers kept in memory honest. A writable node also, on one revocation thread:
 * delegated OCSP signers certified and replaced before they end (now and hourly; a read-only node
 * looks its signers up again hourly); CRLs generated now where missing or older than
 * {@code revocation.crl.refresh}, checked every minute; OCSP pre-signing now and every
 * {@link RevocationService#presignInterval()}, and for the certificates this process issues within
 * {@link RevocationService#ISSUED_PRESIGN_DELAY}; answers signed on demand saved in batches every
 * 200 ms; CRLs due after a revocation.
 */
public final class RevocationScheduler implements AutoCloseable {
    private final RevocationService service;
    private final ScheduledExecutorService poller;
    private final ScheduledExecutorService worker;

    private RevocationScheduler(RevocationService service) {
        this.service = service;
        this.poller = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("fleetpki-ocsp-poller").daemon(true).factory());
        this.worker = service.writable()
                ? Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("fleetpki-revocation").daemon(true).factory()) : null;
    }

    /** Starts running the service's periodic work; closing the scheduler stops it and writes what waits in memory. */
    public static RevocationScheduler start(RevocationService service) {
        RevocationScheduler s = new RevocationScheduler(service);
        s.schedule();
        return s;
    }

    private void schedule() {
        if (service.settings().ocspCacheEntries() > 0) {
            service.ocsp().beginEpochPolling();
            long poll = RevocationService.EPOCH_POLL.toMillis();
            poller.scheduleWithFixedDelay(service.ocsp()::pollEpoch, poll, poll, TimeUnit.MILLISECONDS);
        }
        if (worker == null) { // a read-only node looks for the writer's newer OCSP signers hourly
            poller.scheduleWithFixedDelay(service.ocsp()::forgetSigners, 1, 1, TimeUnit.HOURS);
            return;
        }
        service.attach(worker);
        worker.execute(service.ocsp()::maintainSignersQuietly);
        worker.scheduleWithFixedDelay(service.ocsp()::maintainSignersQuietly, 1, 1, TimeUnit.HOURS);
        worker.execute(service.crls()::refreshCrlsIfDue);
        worker.scheduleWithFixedDelay(service.crls()::refreshCrlsIfDue, 60, 60, TimeUnit.SECONDS);
        worker.scheduleWithFixedDelay(service.ocsp()::presignQuietly, 0, service.presignInterval().toMillis(), TimeUnit.MILLISECONDS);
        worker.scheduleWithFixedDelay(service.ocsp()::saveQueued, 200, 200, TimeUnit.MILLISECONDS);
        long issued = RevocationService.ISSUED_PRESIGN_DELAY.toMillis();
        worker.scheduleWithFixedDelay(service.ocsp()::presignIssuedQuietly, issued, issued, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        poller.shutdownNow();
        if (worker != null) {
            service.attach(null); // what happens after this (a revocation by a closing request) no longer goes to the stopped thread
            worker.shutdownNow();
            try {
                worker.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            service.flush();
        }
    }
}
