package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.Actor;
import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import dev.fleetpki.server.FleetServer;
import dev.fleetpki.server.ServerIdentity;
import dev.fleetpki.server.Services;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/** A CA home after the ceremony, with the HTTPS server on a free loopback port and an HttpClient trusting only its root. */
final class TestServer implements AutoCloseable {
    static final String HOST = "pki.fleet.example";

    final Path home;
    final Fleet fleet;
    final Services services;
    final FleetServer server;
    final HttpClient http;
    /** {@code https://127.0.0.1:PORT} */
    final String base;

    private TestServer(Path home, Fleet fleet, Services services, FleetServer server, HttpClient http) {
        this.home = home;
        this.fleet = fleet;
        this.services = services;
        this.server = server;
        this.http = http;
        this.base = "https://127.0.0.1:" + server.port();
    }

    /** @param profiles extra profiles for fleetpki.yaml (YAML under {@code profiles:}), or null */
    static TestServer start(Path dir, String profiles) throws Exception {
        return start(dir, profiles, null);
    }

    /** @param topLevel more top-level YAML for fleetpki.yaml (an {@code enrollment:} section), or null */
    static TestServer start(Path dir, String profiles, String topLevel) throws Exception {
        return start(dir, profiles, topLevel, FleetServer.Limits.DEFAULT);
    }

    static TestServer start(Path dir, String profiles, String topLevel, FleetServer.Limits limits) throws Exception {
        return start(dir, profiles, topLevel, limits, yaml -> yaml);
    }

    /** @param editConfig rewrites fleetpki.yaml before the ceremony (the URL templates, say) */
    static TestServer start(Path dir, String profiles, String topLevel, FleetServer.Limits limits,
                            java.util.function.UnaryOperator<String> editConfig) throws Exception {
        return start(dir, profiles, topLevel, limits, editConfig, Duration.ZERO);
    }

    /** @param caAge how long ago the CAs were made (so that a short-lived certificate can already have expired) */
    static TestServer start(Path dir, String profiles, String topLevel, FleetServer.Limits limits,
                            java.util.function.UnaryOperator<String> editConfig, Duration caAge) throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, profiles);
        Path yaml = home.resolve("fleetpki.yaml");
        Files.writeString(yaml, editConfig.apply(Files.readString(yaml)));
        if (topLevel != null) {
            Files.writeString(home.resolve("fleetpki.yaml"), "\n" + topLevel, java.nio.file.StandardOpenOption.APPEND);
        }
        if (caAge.isZero()) {
            TestHome.init(home);
        } else {
            try (Fleet past = Fleet.open(home, Clock.offset(Clock.systemUTC(), caAge.negated()))) {
                Certs.writeCaFiles(home, past.ceremony(Actor.operator("test")).init(false));
            }
        }
        Fleet fleet = Fleet.open(home, Clock.systemUTC());
        try {
            Services s = Services.of(fleet.config(), fleet.store(), fleet.cas(), fleet.pipeline(), fleet.clock());
            FleetServer server = FleetServer.start(s, ServerIdentity.ensure(s, HOST, Actor.operator("test")), "127.0.0.1", 0, limits);
            HttpClient http = HttpClient.newBuilder().sslContext(ServerTest.trusting(fleet.store().ca("root").orElseThrow().certificate())).build();
            return new TestServer(home, fleet, s, server, http);
        } catch (Exception | Error e) {
            fleet.close();
            throw e;
        }
    }

    /**
     * A device as the SDK makes one: registered with a one-time secret, an encrypted key file in
     * {@code folder}, enrolled over EST (at {@code /.well-known/est/<label>}, or the default without a label).
     */
    DeviceIdentity enrolledDevice(Path folder, String id, String label) throws Exception {
        Cli.Result added = Cli.run(home, "device", "add", id, "--enrollment-secret");
        assertThat(added.exit()).as(added.all()).isZero();
        String[] lines = added.out().trim().split("\n");
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("passphrase"), id + " device passphrase\n");
        DeviceIdentity me = DeviceIdentity.create(folder, id, KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256,
                SecretSource.parse("file:passphrase", folder), DeviceIdentity.certificate(Files.readAllBytes(home.resolve("ca/root.pem"))));
        me.enroll(new EstClient(URI.create(base + "/.well-known/est" + (label == null ? "" : "/" + label)), me.anchor(), Duration.ofSeconds(10)),
                lines[lines.length - 1].toCharArray(), Clock.systemUTC());
        return me;
    }

    /** An HttpClient presenting this certificate and key (PEM files made by openssl) and trusting only the fleet root. */
    HttpClient clientWith(Path cert, Path key) throws Exception {
        Path p12 = Files.createTempFile(home, "client", ".p12");
        Proc.ok(home, "openssl", "pkcs12", "-export", "-in", cert.toString(), "-inkey", key.toString(), "-out", p12.toString(), "-passout", "pass:test");
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(p12)) {
            ks.load(in, "test".toCharArray());
        }
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "test".toCharArray());
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("root", fleet.store().ca("root").orElseThrow().certificate());
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).build();
    }

    @Override
    public void close() {
        server.close();
        fleet.close();
    }
}
