package dev.fleetpki.app;

import dev.fleetpki.cli.Fleet;
import dev.fleetpki.cli.HomeOption;
import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAnchor;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.revocation.RevocationService;
import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.Metrics;
import dev.fleetpki.server.RevocationHttp;
import dev.fleetpki.server.RevocationScheduler;
import dev.fleetpki.server.ServerIdentity;
import dev.fleetpki.server.Services;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the HTTPS server on this CA home until stopped (Ctrl-C).",
            "On first start the server issues itself a TLS certificate from the 'server-tls' profile (its host name is registered "
                + "as a device with model fleetpki-server) and keeps key and chain in server/tls.p12, encrypted with the issuing CA's "
                + "passphrase. Clients trust it through the root: fleetpki export trust-bundle.",
            "Serves /healthz, /readyz, /metrics (Prometheus), /api/v1/openapi.json, the CA certificates under /api/v1/cas, and with an API token (fleetpki token "
                + "create) devices, certificate requests and certificates under /api/v1; EST cacerts and csrattrs under /.well-known/est.",
            "On plain HTTP (--http-port) it serves revocation: CRLs at /crl/<ca>.crl and /crl/<ca>/<shard>.crl, OCSP at /ocsp (POST, or GET "
                + "/ocsp/<base64>), CA certificates at /ca/<ca>.crt; it generates CRLs on schedule and after revocations and pre-signs OCSP "
                + "answers (docs/revocation.md).",
            "--revocation-only serves only that HTTP side; with --read-only on a read-only view of the store (a replica): nothing is "
                + "written, OCSP answers missing from the store are signed live with the OCSP signer's key."})
final class ServeCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)") String bind;
    @Option(names = "--port", defaultValue = "8443", description = "HTTPS port (default: ${DEFAULT-VALUE}; 0 picks a free one)") int port;
    @Option(names = "--hostname", defaultValue = "localhost",
            description = "the name clients use, put in the server certificate (default: ${DEFAULT-VALUE})") String hostname;
    @Option(names = "--http-port", defaultValue = "8080",
            description = "plain-HTTP port for CRLs, OCSP and CA certificates (default: ${DEFAULT-VALUE}; 0 picks a free one; -1 turns it off)") int httpPort;
    @Option(names = "--revocation-only", description = "serve only CRLs, OCSP and CA certificates over plain HTTP (no HTTPS API)") boolean revocationOnly;
    @Option(names = "--read-only", description = "open the store read-only (a replica); implies --revocation-only") boolean readOnly;
    @Option(names = "--tls-session-tickets", description = "send a TLS 1.3 session ticket after each handshake, so clients that connect again "
            + "can resume (off by default: devices enroll over a new connection and never resume, and each ticket costs both ends work)")
    boolean sessionTickets;

    @Override
    public Integer call() throws Exception {
        if (readOnly || revocationOnly) {
            if (httpPort < 0) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST,
                        "--revocation-only serves over plain HTTP; give it a port with --http-port");
            }
            try (Fleet f = readOnly ? Fleet.openReadOnly(home.home(), Clock.systemUTC()) : home.open()) {
                serveRevocationUntilStopped(f, bind, httpPort, hostname);
            }
            return 0;
        }
        FleetServer.sessionTickets(sessionTickets); // before anything loads the JDK's TLS classes
        try (Fleet f = home.open()) {
            serveUntilStopped(f, home.actor(), bind, port, httpPort, hostname, List.of());
        }
        return 0;
    }

    private static void serveRevocationUntilStopped(Fleet f, String bind, int httpPort, String hostname) throws InterruptedException {
        Metrics metrics = new Metrics(f.config().profiles().keySet());
        StopSignal stop = new StopSignal();
        RevocationService revocation = f.revocation();
        try (RevocationScheduler scheduler = RevocationScheduler.start(revocation);
             RevocationHttp http = RevocationHttp.start(revocation, f.store(), f.store().revocation(), metrics, bind, httpPort)) {
            String base = "http://" + (bind.equals("0.0.0.0") ? hostname : bind) + ":" + http.port();
            System.out.println("fleetpki serving revocation on " + base + "/  (" + (revocation.writable() ? "writable store: CRLs generated, OCSP pre-signed"
                    : "read-only store: serving what the writer published; OCSP misses signed live") + "; Ctrl-C stops it)");
            System.out.println("  CRLs: " + base + "/crl/<ca>.crl   OCSP: " + base + "/ocsp   CA certificates: " + base + "/ca/<ca>.crt");
            System.out.flush();
            stop.await();
        } finally {
            stop.closed();
        }
    }

    /** How often the server signs the audit chain's head when it moved (the events after the newest checkpoint are the ones a rewrite could hide). */
    static final Duration AUDIT_CHECKPOINT = Duration.ofMinutes(1);

    /** Signs the audit head at start, every {@link #AUDIT_CHECKPOINT} when it moved, and once more as the server stops (before the store closes). */
    static final class AuditCheckpoints implements AutoCloseable {
        private final Fleet f;
        private final AuditAnchor anchor;
        private final ScheduledExecutorService exec;
        /** The sequence number of the newest checkpoint: read from the file once, then what this checkpointer signed. */
        private long lastSigned;

        AuditCheckpoints(Fleet f) {
            this.f = f;
            this.anchor = f.auditAnchor();
            this.lastSigned = anchor.latest().map(AuditAnchor.Checkpoint::seq).orElse(-1L);
            this.exec = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "fleetpki-audit-checkpoint");
                t.setDaemon(true);
                return t;
            });
            exec.scheduleWithFixedDelay(this::sign, 0, AUDIT_CHECKPOINT.toMillis(), TimeUnit.MILLISECONDS);
        }

        private synchronized void sign() {
            try {
                var head = f.store().auditLog().auditHead();
                if (head.getKey() != lastSigned) {
                    lastSigned = anchor.checkpoint(head.getKey(), head.getValue(), f.clock().instant()).seq();
                }
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(ServeCommand.class).warn("cannot write an audit checkpoint: {}", e.getMessage());
            }
        }

        @Override
        public void close() {
            exec.shutdown(); // a checkpoint being written finishes (not interrupted mid-write)
            try {
                exec.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            sign();
        }
    }

    /**
     * Ctrl-C or SIGTERM: wakes the serving thread, then holds the JVM's exit (at most 15 s) until
     * that thread has closed what it opened: the server, the revocation service and the audit
     * checkpointer, whose last checkpoint would otherwise race the exit.
     */
    static final class StopSignal {
        private final CountDownLatch stopped = new CountDownLatch(1);
        private final CountDownLatch closed = new CountDownLatch(1);

        StopSignal() {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stopped.countDown();
                try {
                    closed.await(15, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "fleetpki-stop"));
        }

        void await() throws InterruptedException {
            stopped.await();
        }

        void closed() {
            closed.countDown();
        }
    }

    /** Starts the server on an open fleet, prints where it is (and {@code extraLines}), and blocks until the JVM is asked to stop. */
    static void serveUntilStopped(Fleet f, Actor actor, String bind, int port, int httpPort, String hostname,
                                  List<String> extraLines) throws InterruptedException {
        Services s = Services.of(f.config(), f.store(), f.cas(), f.pipeline(), f.clock());
        ServerIdentity.Loaded tls = ServerIdentity.ensure(s, hostname, actor);
        StopSignal stop = new StopSignal();
        RevocationService revocation = s.revocation();
        try (FleetServer server = FleetServer.start(s, tls, bind, port);
             RevocationScheduler scheduler = RevocationScheduler.start(revocation);
             RevocationHttp http = httpPort < 0 ? null
                     : RevocationHttp.start(revocation, f.store(), f.store().revocation(), s.metrics(), bind, httpPort);
             AuditCheckpoints checkpoints = new AuditCheckpoints(f)) {
            server.watchIdentity(s, hostname, actor);
            String home = f.config().home().toString();
            System.out.println("fleetpki serving https://" + (bind.equals("0.0.0.0") ? hostname : bind) + ":" + server.port() + "/  (Ctrl-C stops it)");
            System.out.println("  TLS certificate: CN=" + hostname + ", serial " + tls.certificate().getSerialNumber().toString(16)
                    + (tls.issued() ? " (issued now)" : "") + ", expires " + tls.certificate().getNotAfter().toInstant());
            System.out.println("  trust it:  ./fleetpki export trust-bundle --root-only --home " + home + " > root.pem");
            System.out.println("  try:       curl --cacert root.pem https://" + hostname + ":" + server.port() + "/api/v1/cas");
            int operators = f.store().operators().operators().size();
            System.out.println("  console:   https://" + hostname + ":" + server.port() + "/console  (" + (operators == 0
                    ? "no operator yet; add one: ./fleetpki operator add NAME --role admin --home " + home
                    : operators + " operator" + (operators == 1 ? "" : "s") + ": ./fleetpki operator list --home " + home) + ")");
            if (http != null) {
                System.out.println("  revocation (plain HTTP): http://" + (bind.equals("0.0.0.0") ? hostname : bind) + ":" + http.port()
                        + "/crl/<ca>.crl, /ocsp, /ca/<ca>.crt");
            }
            extraLines.forEach(System.out::println);
            System.out.flush();
            stop.await();
        } finally {
            stop.closed();
        }
    }
}
