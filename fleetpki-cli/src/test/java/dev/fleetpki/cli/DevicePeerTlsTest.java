package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.EstClient;
import dev.fleetpki.device.PeerTls;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509CRL;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two devices with device-peer certificates talk over mutual TLS, each checking the other's chain
 * to the fleet's anchor and its revocation status in the fleet's CRLs; once one is revoked, the
 * other (with the refreshed CRLs) refuses it.
 */
class DevicePeerTlsTest {
    @TempDir Path dir;

    private DeviceIdentity enroll(TestServer ts, String id) throws Exception {
        Cli.Result added = Cli.run(ts.home, "device", "add", id, "--enrollment-secret");
        String[] lines = added.out().trim().split("\n");
        Path d = Files.createDirectories(dir.resolve(id));
        Files.writeString(d.resolve("passphrase"), "peer device passphrase\n");
        DeviceIdentity me = DeviceIdentity.create(d, id, KeyRef.parse("file:device.p8"), KeyAlgorithm.EC_P256, SecretSource.parse("file:passphrase", d),
                DeviceIdentity.certificate(Files.readAllBytes(ts.home.resolve("ca/root.pem"))));
        me.enroll(new EstClient(URI.create(ts.base + "/.well-known/est/device-peer"), me.anchor(), Duration.ofSeconds(10)),
                lines[lines.length - 1].toCharArray(), Clock.systemUTC());
        assertThat(me.chain().orElseThrow().getFirst().getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        return me;
    }

    private List<X509CRL> crls(TestServer ts) {
        Path bundle = dir.resolve("crls.pem");
        assertThat(Cli.run(ts.home, "crl", "export", "--bundle", "--out", bundle.toString(), "--generate").exit()).isZero();
        return PeerTls.crls(bundle);
    }

    /** A listens for one connection and answers "hello <peer id>"; returns what B read and who B found on the other end. */
    private static String talk(DeviceIdentity a, DeviceIdentity b, List<X509CRL> aCrls, List<X509CRL> bCrls) throws Exception {
        try (SSLServerSocket server = (SSLServerSocket) PeerTls.context(a, aCrls).getServerSocketFactory().createServerSocket(0, 1,
                InetAddress.getLoopbackAddress())) {
            server.setNeedClientAuth(true);
            CompletableFuture<String> served = CompletableFuture.supplyAsync(() -> {
                try (SSLSocket s = (SSLSocket) server.accept()) {
                    s.startHandshake();
                    String peer = PeerTls.peerId(s);
                    new PrintWriter(s.getOutputStream(), true, StandardCharsets.UTF_8).println("hello " + peer);
                    return peer;
                } catch (Exception e) {
                    return "refused: " + e.getMessage();
                }
            });
            try (SSLSocket s = (SSLSocket) PeerTls.context(b, bCrls).getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                s.startHandshake();
                String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                return PeerTls.peerId(s) + " said " + line + " / " + served.get(10, TimeUnit.SECONDS);
            } finally {
                served.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void peersCheckEachOthersChainAndRevocation() throws Exception {
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            DeviceIdentity a = enroll(ts, "peer-a");
            DeviceIdentity b = enroll(ts, "peer-b");
            List<X509CRL> crls = crls(ts);
            assertThat(talk(a, b, crls, crls)).isEqualTo("peer-a said hello peer-b / peer-b");

            String serial = b.chain().orElseThrow().getFirst().getSerialNumber().toString(16);
            assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "key-compromise").exit()).isZero();
            List<X509CRL> fresh = crls(ts);
            // A, with the refreshed CRLs, refuses B; B still trusts A
            assertThatThrownBy(() -> talk(a, b, fresh, fresh)).hasMessageContaining("certificate");
            // control: with the old CRLs A lets B in, so the refusal came from the CRL
            assertThat(talk(a, b, crls, fresh)).isEqualTo("peer-a said hello peer-b / peer-b");
            // a device with no CRLs cannot establish revocation status and refuses
            assertThatThrownBy(() -> talk(a, b, List.of(), List.of())).hasMessageContaining("certificate");
        }
    }
}
