package dev.fleetpki.cli;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real mosquitto for device tests, set up as docs/revocation.md wires one: TLS with a
 * certificate from the fleet's server-tls profile (broker.fleet.example), client certificates
 * required and chained to the fleet's CAs, the device id taken from the certificate, fleetpki's CRL
 * bundle as crlfile. {@link #refreshCrls()} is the operator's refresh loop: export, restart (mosquitto
 * reads its crlfile when the listener starts).
 */
final class TestBroker implements AutoCloseable {
    static final String NAME = "broker.fleet.example";
    final Path work;
    final int port;
    private final Path home;
    private final Path conf;
    private Process process;

    /** Uses {@code work}'s ca.pem and server.crt/key when a test made them already, else makes them from the fleet in {@code home}. */
    TestBroker(Path home, Path work) throws Exception {
        this.home = home;
        this.work = Files.createDirectories(work);
        if (!Files.exists(work.resolve("server.crt"))) {
            TestHome.serverCertificate(home, work, NAME);
        }
        port = Proc.freePort();
        conf = work.resolve("mosquitto.conf");
        Files.writeString(conf, """
                per_listener_settings false
                persistence false
                log_dest file %1$s/mosquitto.log
                log_type all
                user %3$s
                listener %2$d 127.0.0.1
                cafile %1$s/ca.pem
                certfile %1$s/server.crt
                keyfile %1$s/server.key
                require_certificate true
                use_identity_as_username true
                crlfile %1$s/crls.pem
                """.formatted(work, port, System.getProperty("user.name")));
        exportCrls();
        start();
    }

    InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    String log() throws Exception {
        return Files.readString(work.resolve("mosquitto.log"));
    }

    synchronized void refreshCrls() {
        try {
            exportCrls();
            stop();
            start();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The control: the same broker without its crlfile line, restarted. */
    synchronized void dropCrlFile() throws Exception {
        Files.writeString(conf, Files.readString(conf).replaceAll("(?m)^crlfile .*$", ""));
        stop();
        start();
    }

    private void exportCrls() {
        TestHome.exportCrls(home, work.resolve("crls.pem"));
    }

    private void start() throws Exception {
        process = new ProcessBuilder(Proc.program("mosquitto"), "-c", conf.toString()).redirectErrorStream(true)
                .redirectOutput(work.resolve("mosquitto.out").toFile()).start();
        Proc.awaitListening(port, work.resolve("mosquitto.out"));
    }

    private void stop() throws Exception {
        Proc.stop(process);
    }

    @Override
    public void close() throws Exception {
        stop();
    }
}
