package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.core.Actor;
import dev.fleetpki.server.ServerIdentity;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the server and the store refuse or protect, checked with real clients (openssl s_client)
 * whose requests could succeed if the server allowed them: TLS 1.1 offered by a client that can
 * speak it, client-initiated renegotiation, a revoked server certificate, the key store's work
 * factor, the store file's permissions, and inputs (device ids, secret lifetimes) that must be
 * refused before anything is written.
 */
class ServerHardeningTest {
    @TempDir Path dir;
    private TestServer ts;

    @AfterEach
    void stop() {
        if (ts != null) {
            ts.close();
        }
    }

    private String sClient(String stdin, String... args) {
        String cmd = "(printf '" + stdin + "'; sleep 2) | timeout 10 openssl s_client -connect 127.0.0.1:" + ts.server.port() + " -servername "
                + TestServer.HOST + " " + String.join(" ", args) + " 2>&1";
        return Proc.run(dir, Map.of(), "sh", "-c", cmd).output();
    }

    @Test
    void tlsOneOneAndRenegotiationAreRefusedByTheServer() throws Exception {
        ts = TestServer.start(dir, null);
        Path root = EstCurl.of(ts, dir).root();
        // OpenSSL at security level 0 really offers TLS 1.1, so the refusal is the server's: alert 70, protocol_version
        assertThat(sClient("", "-tls1_1", "-cipher", "'DEFAULT:@SECLEVEL=0'")).contains("alert protocol version");
        String tls12 = sClient("", "-tls1_2", "-CAfile", root.toString());
        assertThat(tls12).contains("Protocol  : TLSv1.2").contains("Verify return code: 0 (ok)");
        // 'R' asks s_client to renegotiate; a server that allowed it would run a second handshake (its verify lines again)
        String renegotiate = sClient("R\\n", "-tls1_2", "-CAfile", root.toString());
        assertThat(renegotiate).contains("RENEGOTIATING");
        assertThat(renegotiate.substring(renegotiate.indexOf("RENEGOTIATING"))).doesNotContain("verify return:1");
    }

    @Test
    void aRevokedServerCertificateIsReplacedWhileTheServerRunsAndTheKeyStoreIsSlowToGuess() throws Exception {
        ts = TestServer.start(dir, null);
        Path root = EstCurl.of(ts, dir).root();
        BigInteger served = servedSerial(root);
        Cli.Result revoke = Cli.run(ts.home, "revoke", served.toString(16));
        assertThat(revoke.exit()).as(revoke.all()).isZero();
        assertThat(ts.server.refreshIdentity(ts.services, TestServer.HOST, Actor.operator("test"))).isTrue();
        BigInteger now = servedSerial(root);
        assertThat(now).isNotEqualTo(served);
        assertThat(ts.fleet.store().certificates().certificate(now.toString(16)).orElseThrow().revoked()).isFalse();
        assertThat(ts.server.refreshIdentity(ts.services, TestServer.HOST, Actor.operator("test"))).as("nothing to replace").isFalse();
        String info = Proc.run(dir, Map.of(), "openssl", "pkcs12", "-info", "-noout", "-in", ts.home.resolve(ServerIdentity.FILE).toString(),
                "-passin", "file:" + ts.home.resolve("secrets/passphrase")).output();
        assertThat(info).contains("MAC: sha256, Iteration 600000").contains("Iteration 600000, PRF hmacWithSHA256").doesNotContain("Iteration 10000");
    }

    private BigInteger servedSerial(Path root) throws Exception {
        String out = sClient("", "-CAfile", root.toString(), "-showcerts");
        Path pem = dir.resolve("served.pem");
        Files.writeString(pem, out.substring(out.indexOf("-----BEGIN CERTIFICATE-----"), out.indexOf("-----END CERTIFICATE-----") + 25) + "\n");
        X509Certificate c = ServerTest.parse(Files.readAllBytes(pem));
        return c.getSerialNumber();
    }

    @Test
    void theStoreIsReadableByItsOwnerOnlyAndBadInputWritesNothing() throws Exception {
        Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.resolve("fleetpki.db")))).isEqualTo("rw-------");
        for (String id : new String[] {"acme/../line-3", "acme/./x", "acme//x", "acme/", "../etc", "d".repeat(65)}) {
            Cli.Result r = Cli.run(home, "device", "add", id);
            assertThat(r.exit()).as(id).isEqualTo(65);
        }
        assertThat(Cli.run(home, "device", "add", "d".repeat(64)).exit()).as("64 characters: RFC 5280's ub-common-name").isZero();
        Cli.Result longSecret = Cli.run(home, "device", "add", "s-1", "--enrollment-secret", "--secret-expires-in", "100y");
        assertThat(longSecret.exit()).as(longSecret.all()).isEqualTo(65);
        assertThat(longSecret.err()).contains("--secret-expires-in").contains("90d");
        assertThat(Cli.run(home, "device", "show", "s-1").exit()).as("nothing written").isEqualTo(66);
        assertThat(Cli.run(home, "device", "add", "s-1").exit()).isZero();
        assertThat(Cli.run(home, "device", "secret", "s-1", "--expires-in", "91d").exit()).isEqualTo(65);
        assertThat(Cli.run(home, "device", "disable", "s-1").exit()).isZero();
        Cli.Result disabled = Cli.run(home, "device", "secret", "s-1");
        assertThat(disabled.exit()).isEqualTo(77);
        assertThat(disabled.err()).contains("disabled");
        assertThat(Cli.run(home, "audit", "verify").exit()).isZero();
    }
}
