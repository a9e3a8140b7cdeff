package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fleetpki quickstart} sets up a demo CA whose device certificate openssl verifies, and issues a new one when run again. */
class QuickstartTest {
    @TempDir
    Path dir;

    static Cli.Result fleetpki(String... args) {
        return Cli.capture(() -> Main.run(args));
    }

    @Test
    void quickstartPrintsWhatItDidAndOpensslAgrees() throws Exception {
        Path demo = dir.resolve("demo");
        Cli.Result r = fleetpki("quickstart", "--dir", demo.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("Registering device demo-sensor-001").contains("openssl verify");
        Proc.ok(demo, Proc.opensslVerify(demo.resolve("ca/root.pem"), demo.resolve("ca/issuing.pem"),
                demo.resolve("devices/demo-sensor-001.crt")).toArray(new String[0]));
        Cli.Result again = fleetpki("quickstart", "--dir", demo.toString());
        assertThat(again.out()).contains("already set up");
        assertThat(Cli.run(demo, "cert", "list").out()).contains("2 certificates");
    }

    @Test
    void theHttpPortChosenIsTheOneTheCertificatesName() throws Exception {
        Path demo = dir.resolve("demo-port");
        Cli.Result r = fleetpki("quickstart", "--dir", demo.toString(), "--http-port", "18099");
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(Proc.ok(demo, "openssl", "x509", "-in", "devices/demo-sensor-001.crt", "-noout", "-ext", "crlDistributionPoints,authorityInfoAccess"))
                .contains("http://localhost:18099/crl/issuing.crl").contains("http://localhost:18099/ocsp").doesNotContain(":8080");
        Cli.Result other = fleetpki("quickstart", "--dir", demo.toString(), "--http-port", "18100");
        assertThat(other.exit()).as(other.all()).isEqualTo(64);
        assertThat(other.err()).contains("18099").contains("--http-port 18100");
    }

    @Test
    void theProgramHasTheOperatorCommandsAndTheTwoThatRunTheServer() {
        Cli.Result help = fleetpki("--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("quickstart", "serve", "init", "device", "revoke", "audit");
        Cli.Result operatorOnly = Cli.run(null, "--help");
        assertThat(operatorOnly.out()).contains("init", "device").doesNotContain("quickstart").doesNotContain("  serve");
        assertThat(Main.SUBCOMMANDS).hasSize(dev.fleetpki.cli.Main.SUBCOMMANDS.size() + 2)
                .containsAll(dev.fleetpki.cli.Main.SUBCOMMANDS).contains(QuickstartCommand.class, ServeCommand.class);
    }
}
