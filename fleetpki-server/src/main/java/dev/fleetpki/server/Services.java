package dev.fleetpki.server;

import dev.fleetpki.core.CaRegistry;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentSecrets;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.core.firmware.FirmwareSigning;
import dev.fleetpki.server.scep.ScepRa;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.core.store.CertificateStore;
import dev.fleetpki.core.store.CmpTransactionStore;
import dev.fleetpki.core.store.NonceStore;
import dev.fleetpki.core.store.CredentialStore;
import dev.fleetpki.core.store.DeviceStore;
import dev.fleetpki.core.store.AuditLog;
import dev.fleetpki.core.store.OperatorStore;
import dev.fleetpki.core.store.RequestStore;
import dev.fleetpki.store.JdbcStore;
import java.time.Clock;

/**
 * What the server works with, wired by the caller (the CLI's {@code Fleet}): the store as narrow
 * interfaces (each route asks for the aggregate it reads and writes), the pipeline reporting to
 * {@code metrics} and to {@code revocation} (which pre-signs the OCSP answers of new certificates
 * once started), the authorizer and enrollment of core. Revocations made through the API are
 * handed to {@code revocation}, which re-signs OCSP answers and regenerates CRLs.
 */
public record Services(FleetConfig config, DeviceStore devices, CredentialStore credentials, RequestStore requests, CertificateStore certificates,
                       CaRegistry caRecords, StoredCaDirectory cas, IssuancePipeline pipeline, Clock clock, Metrics metrics,
                       RevocationService revocation, EnrollmentAuthorizer authorizer, Enrollment enrollment, FirmwareSigning firmware,
                       ScepRa scepRa, EnrollmentSecrets secrets, CmpTransactionStore cmp,
                       NonceStore nonces, dev.fleetpki.core.store.WebhookStore webhooks, OperatorStore operators, AuditLog audit,
                       dev.fleetpki.core.store.SignerStore signers, dev.fleetpki.store.RevocationStore published,
                       dev.fleetpki.core.DualControl dualControl) {
    /** Services on one store with new metrics, observing the given pipeline. */
    public static Services of(FleetConfig config, JdbcStore store, StoredCaDirectory cas, IssuancePipeline pipeline, Clock clock) {
        Metrics metrics = new Metrics(config.profiles().keySet());
        metrics.watchPending(store.requests()::pendingCount);
        metrics.watchExpiry(() -> new Metrics.Expiry(store.certificates().expiring(clock.instant(), Metrics.EXPIRY_WINDOWS), store.cas(),
                store.revocation().crls()));
        RevocationService revocation = new RevocationService(config, store, store.revocation(), cas, clock, true);
        revocation.observe(metrics);
        IssuancePipeline observed = pipeline.observedBy(IssuanceObserver.all(metrics, revocation));
        EnrollmentAuthorizer authorizer = new EnrollmentAuthorizer(config, store, clock);
        return new Services(config, store.devices(), store.credentials(), store.requests(), store.certificates(), store, cas, observed, clock,
                metrics, revocation, authorizer, new Enrollment(config, store.requests(), store.certificates(), store.devices(), observed, authorizer,
                clock, metrics), new FirmwareSigning(store.signers(), store.certificates(), store, cas.keys(), config.signerPassphrase(), store, clock),
                new ScepRa(config, store, store.revocation(), cas, clock), EnrollmentSecrets.of(config, cas.keys()), store.cmp(), store.nonces(),
                store.webhooks(), store.operators(), store.auditLog(), store.signers(), store.revocation(),
                new dev.fleetpki.core.DualControl(config.dualControl(), store.operators(), clock));
    }
}
