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
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, profiles);
        Path yaml = home.resolve("fleetpki.yaml");
        Files.writeString(yaml, editConfig.apply(Files.readString(yaml)));
        if (topLevel != null) {
            Files.writeString(home.resolve("fleetpki.yaml"), "\n" + topLevel, java.nio.file.StandardOpenOption.APPEND);
        }
        TestHome.init(home);
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

    @Override
    public void close() {
        server.close();
        fleet.close();
    }
}
