package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a disabled or revoked device may still be given (nothing: no enrollment secret, no
 * enabling a revoked one), and the switches that may be flipped twice: disabling or enabling a
 * device, a station or a token a second time is fine both times; an unknown one is not found.
 */
class DeviceStatesTest {
    @TempDir Path home;

    @Test
    void aDisabledOrRevokedDeviceGetsNoSecretAndSwitchesAreIdempotent() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        for (String id : new String[] {"d-on", "d-off", "d-gone"}) {
            assertThat(Cli.run(home, "device", "add", id).exit()).isZero();
        }
        assertThat(Cli.run(home, "device", "disable", "d-off").exit()).isZero();
        assertThat(Cli.run(home, "device", "revoke", "d-gone", "--reason", "key-compromise").exit()).isZero();

        assertThat(Cli.run(home, "device", "secret", "d-on").exit()).isZero();
        Cli.Result off = Cli.run(home, "device", "secret", "d-off");
        assertThat(off.exit()).as(off.all()).isEqualTo(77);
        assertThat(off.err()).contains("d-off").contains("disabled").contains("fleetpki device enable d-off");
        Cli.Result gone = Cli.run(home, "device", "secret", "d-gone");
        assertThat(gone.exit()).as(gone.all()).isEqualTo(77);
        assertThat(gone.err()).contains("d-gone").contains("revoked");
        assertThat(Cli.run(home, "device", "secret", "d-none").exit()).isEqualTo(66);

        Cli.Result enableRevoked = Cli.run(home, "device", "enable", "d-gone");
        assertThat(enableRevoked.exit()).as(enableRevoked.all()).isEqualTo(65);
        assertThat(Cli.run(home, "device", "enable", "d-gone").exit()).as("refused both times").isEqualTo(65);
        for (String[] twice : new String[][] {{"device", "disable", "d-off"}, {"device", "enable", "d-on"}}) {
            assertThat(Cli.run(home, twice).exit()).as(String.join(" ", twice)).isZero();
            assertThat(Cli.run(home, twice).exit()).as(String.join(" ", twice) + " again").isZero();
        }
        assertThat(Cli.run(home, "device", "disable", "d-none").exit()).isEqualTo(66);

        assertThat(Cli.run(home, "station", "add", "line-1", "--fleet", "*").exit()).isZero();
        for (String op : new String[] {"disable", "disable", "enable", "enable"}) {
            Cli.Result r = Cli.run(home, "station", op, "line-1");
            assertThat(r.exit()).as("station " + op + ": " + r.all()).isZero();
        }
        Cli.Result noStation = Cli.run(home, "station", "disable", "line-9");
        assertThat(noStation.exit()).as(noStation.all()).isEqualTo(66);
        assertThat(Cli.run(home, "token", "create", "ci", "--role", "issuer").exit()).isZero();
        for (String op : new String[] {"disable", "disable", "enable", "enable"}) {
            assertThat(Cli.run(home, "token", op, "ci").exit()).as("token " + op).isZero();
        }
        assertThat(Cli.run(home, "token", "disable", "nope").exit()).isEqualTo(66);

        // both lists as JSON for scripts, and as tables
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var stations = mapper.readTree(Cli.run(home, "station", "list", "--json").out()).get("stations");
        assertThat(stations.get(0).get("name").asText()).isEqualTo("line-1");
        assertThat(stations.get(0).get("status").asText()).isEqualTo("active");
        assertThat(stations.get(0).get("fleet").asText()).isEqualTo("*");
        assertThat(stations.get(0).get("clientCertificateSha256").isNull()).isTrue();
        var tokens = mapper.readTree(Cli.run(home, "token", "list", "--json").out()).get("tokens");
        assertThat(tokens.get(0).get("name").asText()).isEqualTo("ci");
        assertThat(tokens.get(0).get("role").asText()).isEqualTo("issuer");
        assertThat(tokens.get(0).get("status").asText()).isEqualTo("active");
        assertThat(tokens.get(0).toString()).doesNotContain("secret").doesNotContain("fpt_");
        assertThat(Cli.run(home, "station", "list").out()).startsWith("NAME    STATUS  FLEET  CLIENT CERTIFICATE SHA-256\n");
        assertThat(Cli.run(home, "token", "list").out().lines().skip(1).findFirst().orElseThrow()).startsWith("ci    issuer  ");
    }
}
