package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issuing CA's key in a real SoftHSM2 token: the ceremony creates it there (non-extractable),
 * issuance signs through SunPKCS11, openssl verifies the result, and the token reports the key
 * sensitive and never extractable (the KMS test also shows SunPKCS11 hands out no key bytes).
 * Runs the CLI in a child JVM because SoftHSM reads SOFTHSM2_CONF from the environment.
 */
class Pkcs11CaTest {
    static final String MODULE = TestHome.SOFTHSM_MODULE;

    @TempDir Path home;

    @Test
    void issuingCaKeyLivesInTheTokenAndSigns() throws Exception {
        Map<String, String> env = TestHome.withIssuingKeyOnToken(home);

        assertThat(cli(env, "init")).contains("issuing");
        assertThat(home.resolve("keys/issuing.p8")).doesNotExist();
        cli(env, "device", "add", "hsm-dev-1");
        Path csr = TestHome.opensslCsr(home, "hsm-dev-1", "ec", "/CN=hsm-dev-1", "-pkeyopt", "ec_paramgen_curve:P-256");
        String chain = cli(env, "sign", "--csr", csr.toString(), "--device", "hsm-dev-1");
        Files.writeString(home.resolve("leaf.pem"), chain);
        assertThat(Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), home.resolve("leaf.pem"))
                .toArray(new String[0]))).contains("OK");

        Proc.Result objects = Proc.run(home, env, "pkcs11-tool", "--module", MODULE, "--token-label", "fleet", "--login", "--pin", "1234",
                "--list-objects", "--type", "privkey");
        assertThat(objects.output()).contains(HexFormat.of().formatHex("issuing-2026".getBytes()))
                .contains("never extractable").contains("always sensitive");
        assertThat(cli(env, "audit", "list")).contains("pkcs11:token=fleet;object=issuing-2026");
    }

    private String cli(Map<String, String> env, String... args) {
        return Cli.inChildJvm(home, env, args);
    }
}
