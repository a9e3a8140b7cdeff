package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceIdentity;
import dev.fleetpki.device.PeerTls;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509CRL;
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
        DeviceIdentity me = ts.enrolledDevice(dir.resolve(id), id, "device-peer");
        assertThat(me.chain().orElseThrow().getFirst().getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        return me;
    }

    private List<X509CRL> crls(TestServer ts) {
        Path bundle = dir.resolve("crls.pem");
        TestHome.exportCrls(ts.home, bundle);
        return PeerTls.crls(bundle);
    }

    /** What each side of one connection saw: B's line (or "refused: why") and A's peer (or "refused: why"). */
    private record Outcome(String client, String server) {}

    private static String refusal(Exception e) {
        return "refused: " + e.getMessage();
    }

    /** A listens for one connection and answers "hello <peer id>"; each side reports what it saw or why it refused. */
    private static Outcome talk(DeviceIdentity a, DeviceIdentity b, List<X509CRL> aCrls, List<X509CRL> bCrls) throws Exception {
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
                    return refusal(e);
                }
            });
            String client;
            try (SSLSocket s = (SSLSocket) PeerTls.context(b, bCrls).getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                s.startHandshake();
                String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
                client = line == null ? "refused: connection closed" : PeerTls.peerId(s) + " said " + line;
            } catch (Exception e) {
                // which error B sees when A aborts (alert, reset, broken pipe) depends on timing; A's reason is what counts
                client = refusal(e);
            }
            return new Outcome(client, served.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void peersCheckEachOthersChainAndRevocation() throws Exception {
        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            DeviceIdentity a = enroll(ts, "peer-a");
            DeviceIdentity b = enroll(ts, "peer-b");
            List<X509CRL> crls = crls(ts);
            assertThat(talk(a, b, crls, crls)).isEqualTo(new Outcome("peer-a said hello peer-b", "peer-b"));

            String serial = b.chain().orElseThrow().getFirst().getSerialNumber().toString(16);
            assertThat(Cli.run(ts.home, "revoke", serial, "--reason", "key-compromise").exit()).isZero();
            List<X509CRL> fresh = crls(ts);
            // A, with the refreshed CRLs, refuses B because B's certificate is revoked; B gets no greeting
            Outcome revoked = talk(a, b, fresh, fresh);
            assertThat(revoked.server()).startsWith("refused: ").containsIgnoringCase("revoked").contains("KEY_COMPROMISE");
            assertThat(revoked.client()).startsWith("refused: ");
            // control: with the old CRLs A lets B in, so the refusal came from the CRL
            assertThat(talk(a, b, crls, fresh)).isEqualTo(new Outcome("peer-a said hello peer-b", "peer-b"));
            // a device with no CRLs cannot establish revocation status and refuses: B refuses A's server certificate first
            Outcome blind = talk(a, b, List.of(), List.of());
            assertThat(blind.client()).startsWith("refused: ").containsIgnoringCase("revocation status");
            assertThat(blind.server()).startsWith("refused: ");
        }
    }
}
