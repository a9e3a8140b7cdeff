package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SCEP and CMP with the issuing CA's key in a real SoftHSM2 token: {@code fleetpki serve} makes the
 * registration authority's RSA key in the same token (non-extractable), opens SCEP envelopes and
 * signs SCEP and CMP answers with it through SunPKCS11. micromdm's scepclient enrolls with a
 * one-time secret; openssl cmp, signing with that certificate, gets a genp signed by the RA and
 * checks it against the root. Child JVMs, because SoftHSM reads SOFTHSM2_CONF from the environment.
 */
class ScepCmpPkcs11Test {
    static final String MODULE = TestHome.SOFTHSM_MODULE;
    static final String PKCS11_EXPORTS = "--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED";

    @TempDir Path home;

    @Test
    void theRaKeyIsMadeInTheTokenAndOpensAndSignsThere() throws Exception {
        Map<String, String> env = TestHome.withIssuingKeyOnToken(home);
        Cli.inChildJvm(home, env, "init");
        String[] added = Cli.inChildJvm(home, env, "device", "add", "p11-router", "--enrollment-secret").trim().split("\n");
        String secret = added[added.length - 1];

        int port = Proc.freePort();
        ProcessBuilder pb = new ProcessBuilder(Proc.java(List.of(PKCS11_EXPORTS), Main.class, "serve", "--home", home.toString(), "--port",
                String.valueOf(port), "--http-port", "-1", "--hostname", "pki.fleet.example")).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            assertThat(String.join("\n", Proc.awaitLine(p, "fleetpki serving https://"))).contains("fleetpki serving https://");
            Map<String, String> trust = new HashMap<>(env);
            trust.put("SSL_CERT_FILE", home.resolve("ca/root.pem").toString());
            Proc.Result scep = Proc.run(home, trust, "scepclient", "-server-url", "https://127.0.0.1:" + port + "/scep", "-challenge", secret,
                    "-cn", "p11-router", "-private-key", home.resolve("router.key").toString(), "-certificate", home.resolve("router.pem").toString());
            assertThat(scep.exit()).as(scep.output()).isZero();
            assertThat(Proc.ok(home, "openssl", "x509", "-in", "router.pem", "-noout", "-subject")).contains("CN = p11-router");

            Proc.Result genm = Proc.run(home, env, "openssl", "cmp", "-cmd", "genm", "-server", "https://127.0.0.1:" + port + "/.well-known/cmp",
                    "-tls_used", "-tls_trusted", "ca/root.pem", "-tls_host", "pki.fleet.example", "-trusted", "ca/root.pem", "-untrusted", "ca/issuing.pem",
                    "-cert", "router.pem", "-key", "router.key", "-msg_timeout", "20");
            assertThat(genm.exit()).as(genm.output()).isZero();
            assertThat(genm.output()).contains("received GENP").contains("id-it-caCerts");
        } finally {
            Proc.stop(p);
        }
        assertThat(home.resolve("keys")).isDirectoryNotContaining("glob:**/scep-ra*");
        Proc.Result objects = Proc.run(home, env, "pkcs11-tool", "--module", MODULE, "--token-label", "fleet", "--login", "--pin", "1234",
                "--list-objects", "--type", "privkey");
        assertThat(objects.output()).contains(HexFormat.of().formatHex("scep-ra-issuing".getBytes())).contains("never extractable");
    }
}
