package dev.fleetpki.cli;

import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.ServerIdentity;
import dev.fleetpki.server.Services;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the HTTPS server on this CA home until stopped (Ctrl-C).",
            "On first start the server issues itself a TLS certificate from the 'server-tls' profile (its host name is registered "
                + "as a device with model fleetpki-server) and keeps key and chain in server/tls.p12, encrypted with the issuing CA's "
                + "passphrase. Clients trust it through the root: fleetpki export trust-bundle.",
            "Serves /healthz, /readyz, /metrics (Prometheus), /api/v1/openapi.json, the CA certificates under /api/v1/cas, and with an API token (fleetpki token "
                + "create) devices, certificate requests and certificates under /api/v1; EST cacerts and csrattrs under /.well-known/est."})
final class ServeCommand implements Callable<Integer> {
    @Mixin HomeOption home;
    @Option(names = "--bind", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all)") String bind;
    @Option(names = "--port", defaultValue = "8443", description = "HTTPS port (default: ${DEFAULT-VALUE}; 0 picks a free one)") int port;
    @Option(names = "--hostname", defaultValue = "localhost",
            description = "the name clients use, put in the server certificate (default: ${DEFAULT-VALUE})") String hostname;

    @Override
    public Integer call() throws Exception {
        try (Fleet f = home.open()) {
            serveUntilStopped(f, home.actor(), bind, port, hostname, java.util.List.of());
        }
        return 0;
    }

    /** Starts the server on an open fleet, prints where it is (and {@code extraLines}), and blocks until the JVM is asked to stop. */
    static void serveUntilStopped(Fleet f, dev.fleetpki.core.Actor actor, String bind, int port, String hostname, java.util.List<String> extraLines)
            throws InterruptedException {
        Services s = Services.of(f.config(), f.store(), f.cas(), f.pipeline(), f.clock());
        ServerIdentity.Loaded tls = ServerIdentity.ensure(s, hostname, actor);
        CountDownLatch stopped = new CountDownLatch(1);
        try (FleetServer server = FleetServer.start(s, tls, bind, port)) {
            String home = f.config().home().toString();
            System.out.println("fleetpki serving https://" + (bind.equals("0.0.0.0") ? hostname : bind) + ":" + server.port() + "/  (Ctrl-C stops it)");
            System.out.println("  TLS certificate: CN=" + hostname + ", serial " + tls.certificate().getSerialNumber().toString(16)
                    + (tls.issued() ? " (issued now)" : "") + ", expires " + tls.certificate().getNotAfter().toInstant());
            System.out.println("  trust it:  ./fleetpki export trust-bundle --root-only --home " + home + " > root.pem");
            System.out.println("  try:       curl --cacert root.pem https://" + hostname + ":" + server.port() + "/api/v1/cas");
            extraLines.forEach(System.out::println);
            System.out.flush();
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
            stopped.await();
        }
    }
}
