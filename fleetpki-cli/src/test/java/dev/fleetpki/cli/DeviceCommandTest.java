package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.device.DeviceMain;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code fleetpki-device} command against a real server: init, enroll, show, renew with a new key, and its refusals. */
class DeviceCommandTest {
    @TempDir Path dir;

    static Cli.Result device(String... args) {
        return Cli.capture(() -> DeviceMain.run(args));
    }

    @Test
    void initEnrollShowRenewAndRefusals() throws Exception {
        try (TestServer ts = TestServer.start(dir, null)) {
            Cli.Result added = Cli.run(ts.home, "device", "add", "cmd-1", "--enrollment-secret");
            String[] lines = added.out().trim().split("\n");
            Path secret = dir.resolve("secret.txt");
            Files.writeString(secret, lines[lines.length - 1] + "\n");
            Path pass = dir.resolve("pass.txt");
            Files.writeString(pass, "device command passphrase\n");
            String d = dir.resolve("dev").toString();
            String server = ts.base + "/.well-known/est";
            String anchor = ts.home.resolve("ca/root.pem").toString();

            Cli.Result noPass = device("init", "--dir", d, "--id", "cmd-1", "--server", server, "--anchor", anchor);
            assertThat(noPass.exit()).isEqualTo(65);
            assertThat(noPass.err()).contains("a file key needs --passphrase");
            Cli.Result badPass = device("init", "--dir", d, "--id", "cmd-1", "--server", server, "--anchor", anchor, "--passphrase", "file:" + dir.resolve("none"));
            assertThat(badPass.exit()).isEqualTo(65);
            assertThat(badPass.err()).contains("cannot read secret file");
            assertThat(Path.of(d)).as("nothing half-made").doesNotExist();

            Cli.Result init = device("init", "--dir", d, "--id", "cmd-1", "--server", server, "--anchor", anchor, "--passphrase", "file:" + pass);
            assertThat(init.exit()).as(init.err()).isZero();
            assertThat(init.out()).contains("Device cmd-1: ecdsa-p256 key made").contains("encrypted");
            assertThat(device("init", "--dir", d, "--id", "cmd-1", "--server", server, "--anchor", anchor, "--passphrase", "file:" + pass).err())
                    .contains("already holds a device");

            Cli.Result enroll = device("enroll", "--dir", d, "--secret", "file:" + secret);
            assertThat(enroll.exit()).as(enroll.err()).isZero();
            assertThat(enroll.out()).contains("Enrolled: CN=cmd-1").contains("checked: own key, own id, chain to the anchor");
            Cli.Result again = device("enroll", "--dir", d, "--secret", "file:" + secret);
            assertThat(again.exit()).isEqualTo(65);
            assertThat(again.err()).contains("HTTP 401: this enrollment secret was already used").doesNotContain("{\"type\"");

            Cli.Result show = device("show", "--dir", d);
            assertThat(show.out()).contains("id:          cmd-1").contains("certificate: serial").contains("renews at:");

            Cli.Result renew = device("renew", "--dir", d, "--rekey");
            assertThat(renew.exit()).as(renew.err()).isZero();
            assertThat(renew.out()).contains("Renewed: CN=cmd-1");
            assertThat(device("show", "--dir", d).out()).doesNotContain(show.out().lines().filter(l -> l.startsWith("certificate:")).findFirst().orElseThrow());

            assertThat(device("show", "--dir", dir.resolve("nothing").toString()).err()).contains("no device in");

            // a root rollover: the device learns the new root from cacerts, through the cross certificate from its anchor
            Cli.Result nothing = device("anchors", "--dir", d);
            assertThat(nothing.out()).contains("Nothing new to learn.").contains("anchor:  CN=Test Root CA,O=fleetpki test");
            assertThat(Cli.run(ts.home, "ca", "rollover", "--name", "root").exit()).isZero();
            Cli.Result learned = device("anchors", "--dir", d);
            assertThat(learned.exit()).as(learned.err()).isZero();
            assertThat(learned.out()).contains("Learned through a cross certificate from a trusted anchor: [CN=Test Root CA G2,O=fleetpki test]")
                    .contains("learned: CN=Test Root CA G2,O=fleetpki test");
            assertThat(device("show", "--dir", d).out()).contains("learned:     CN=Test Root CA G2,O=fleetpki test (root rollover)");
            assertThat(device("anchors", "--dir", d).out()).contains("Nothing new to learn.");
        }
    }
}
