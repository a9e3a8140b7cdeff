package dev.fleetpki.cli;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAnchor;
import dev.fleetpki.core.Ceremony;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentSecrets;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.IssuancePipeline;
import dev.fleetpki.core.StoredCaDirectory;
import dev.fleetpki.core.config.ConfigLoader;
import dev.fleetpki.core.config.FleetConfig;
import dev.fleetpki.core.enrollment.Enrollment;
import dev.fleetpki.core.firmware.FirmwareSigning;
import dev.fleetpki.core.firmware.SignerRegistry;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.kms.DefaultKeyManager;
import dev.fleetpki.kms.KeyManager;
import dev.fleetpki.store.Database;
import dev.fleetpki.store.JdbcStore;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;

/**
 * The one place where fleetpki is wired together: configuration, store, keys, CAs and the
 * issuance pipeline. No container, no static locators.
 */
public final class Fleet implements AutoCloseable {
    private final FleetConfig config;
    private final JdbcStore store;
    private final KeyManager keys;
    private final StoredCaDirectory cas;
    private final Clock clock;
    private EnrollmentSecrets secrets;
    private IssuancePipeline pipeline;
    private EnrollmentAuthorizer authorizer;

    private Fleet(FleetConfig config, JdbcStore store, KeyManager keys, Clock clock) {
        this.config = config;
        this.store = store;
        this.keys = keys;
        this.clock = clock;
        this.cas = new StoredCaDirectory(config, keys, store);
    }

    public static Fleet open(Path home, Clock clock) {
        FleetConfig config = ConfigLoader.load(home.resolve(ConfigLoader.FILE_NAME));
        char[] pw = config.storePassword() == null ? null : config.storePassword().read();
        Database db = Database.open(config.storeUrl(), config.storeUser(), pw, config.home());
        return new Fleet(config, new JdbcStore(db), new DefaultKeyManager(config.home()), clock);
    }

    /** The fleet on a read-only view of its store (a replica): for serving CRLs and OCSP only. */
    public static Fleet openReadOnly(Path home, Clock clock) {
        FleetConfig config = ConfigLoader.load(home.resolve(ConfigLoader.FILE_NAME));
        char[] pw = config.storePassword() == null ? null : config.storePassword().read();
        Database db = Database.openReadOnly(config.storeUrl(), config.storeUser(), pw, config.home());
        return new Fleet(config, new JdbcStore(db), new DefaultKeyManager(config.home()), clock);
    }

    /** Revocation publishing on this fleet: CRL generation, OCSP answers (writable unless the store was opened read-only). */
    public RevocationService revocation() {
        return new RevocationService(config, store, store.revocation(), cas, clock, !store.database().readOnly());
    }

    public FleetConfig config() {
        return config;
    }

    public JdbcStore store() {
        return store;
    }

    public StoredCaDirectory cas() {
        return cas;
    }

    public Clock clock() {
        return clock;
    }

    public synchronized IssuancePipeline pipeline() {
        // one per fleet: a station CA's quota is counted by its pipeline, so every issuance of this process
        // (factory threads, EST and REST at once) must count in the same place
        if (pipeline == null) {
            pipeline = new IssuancePipeline(config, cas, store, clock);
        }
        return pipeline;
    }

    /** The one authorization step every issuing command takes before the pipeline. */
    public synchronized EnrollmentAuthorizer authorizer() {
        if (authorizer == null) {
            authorizer = new EnrollmentAuthorizer(config, store, clock);
        }
        return authorizer;
    }

    /** Enrollment decisions outside a server (approving and rejecting requests); refusals are audited, not counted. */
    public Enrollment enrollment() {
        IssuancePipeline pipeline = pipeline();
        return new Enrollment(config, store.requests(), store.certificates(), store.devices(), pipeline, authorizer(), clock, IssuanceObserver.NONE);
    }

    /** Signed checkpoints of the audit chain, kept in the CA home with the audit key (never in the database). */
    public AuditAnchor auditAnchor() {
        return new AuditAnchor(config.home(), keys, config.issuing().getFirst().passphrase());
    }

    /** The CA certificates above an issued certificate: its issuer, then up to the root. */
    public List<X509Certificate> chainAbove(IssuedCertificate issued) {
        return cas.chainFrom(store.ca(issued.caName()).orElseThrow());
    }

    /** Making one-time enrollment secrets (the key that derives them is opened once per fleet). */
    public synchronized EnrollmentSecrets enrollmentSecrets() {
        if (secrets == null) {
            secrets = EnrollmentSecrets.of(config, keys);
        }
        return secrets;
    }

    /** Making, rotating and revoking firmware signers. */
    public SignerRegistry signers() {
        return new SignerRegistry(store.signers(), authorizer(), pipeline(), keys, config.signerPassphrase(), clock);
    }

    /** Second-operator approval of the actions fleetpki.yaml puts under dualControl. */
    public dev.fleetpki.core.DualControl dualControl() {
        return new dev.fleetpki.core.DualControl(config.dualControl(), store.operators(), clock);
    }

    /**
     * Asks dualControl about an action: true to go ahead; false when this call was recorded as the
     * first approval (said on standard output), and then the command exits {@link #AWAITING_SECOND}.
     */
    static boolean secondOperator(dev.fleetpki.core.DualControl.Decision d) {
        if (d instanceof dev.fleetpki.core.DualControl.Decision.Recorded rec) {
            System.out.println("Recorded: " + rec.message() + ". Nothing was done yet (exit " + AWAITING_SECOND + ").");
            return false;
        }
        return true;
    }

    /** The exit code of a command recorded as a first approval and waiting for a second operator (EX_TEMPFAIL). */
    static final int AWAITING_SECOND = 75;

    /** Signing firmware with a signer's key. */
    public FirmwareSigning firmware() {
        return new FirmwareSigning(store.signers(), store.certificates(), store, keys, config.signerPassphrase(), store, clock);
    }

    public Ceremony ceremony(Actor actor) {
        return new Ceremony(config, keys, store, clock, actor);
    }

    @Override
    public void close() {
        store.close();
    }
}
