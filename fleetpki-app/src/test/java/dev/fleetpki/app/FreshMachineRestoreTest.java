package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.cli.Cli;
import dev.fleetpki.cli.Proc;
import dev.fleetpki.cli.TestHome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restore on another machine: the old machine's folder is made unreachable (a private mount
 * namespace with an empty file system mounted over it, and an empty HOME), and all that crosses over
 * is what an operator carries: the backup file (keys included, encrypted) and the key passphrase.
 * There, {@code fleetpki restore} makes a home that verifies, registers a device, issues to it from an
 * openssl CSR, revokes it and publishes a CRL.
 */
class FreshMachineRestoreTest {
    @TempDir Path dir;

    @Test
    void aBackupRestoredWhereTheOldHomeCannotBeReachedIssuesAndRevokes() throws Exception {
        Path old = dir.resolve("old-machine");
        Path home = TestHome.write(old.resolve("home"), "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "before-1").exit()).isZero();
        Path carried = Files.createDirectories(dir.resolve("carried"));
        Cli.Result b = Cli.run(home, "backup", "--out", carried.resolve("fleet.fpbackup").toString(), "--include-keys");
        assertThat(b.exit()).as(b.all()).isZero();
        Files.copy(home.resolve("secrets/passphrase"), carried.resolve("passphrase"));

        Path fresh = Files.createDirectories(dir.resolve("fresh-machine"));
        Path emptyHome = Files.createDirectories(dir.resolve("empty-user-home"));
        String fleetpki = String.join(" ", Proc.java(List.of(), Main.class).stream().map(a -> "'" + a + "'").toList());
        String script = """
                set -e
                mount -t tmpfs tmpfs %1$s            # the old machine: gone
                test -z "$(ls -A %1$s)"
                cd %2$s
                fp() { %3$s "$@"; }
                fp restore %4$s/fleet.fpbackup --home home
                mkdir -m 700 home/secrets && cp %4$s/passphrase home/secrets/passphrase
                fp audit verify --home home
                fp device show before-1 --home home
                fp device add after-1 --home home
                openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout after.key -subj /CN=after-1 -out after.csr 2>/dev/null
                fp sign --csr after.csr --device after-1 --out after.pem --home home
                openssl verify -CAfile home/ca/root.pem -untrusted home/ca/issuing.pem after.pem
                serial=$(openssl x509 -in after.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
                fp revoke "$serial" --reason key-compromise --home home
                fp crl show --home home
                echo FRESH-MACHINE-DONE
                """.formatted(old, fresh, fleetpki, carried);
        Path file = dir.resolve("fresh.sh");
        Files.writeString(file, script);
        Proc.Result r = Proc.run(dir, Map.of("HOME", emptyHome.toString()), "timeout", "240", "unshare", "--mount", "--", "bash", file.toString());
        String o = r.output();
        assertThat(r.exit()).as(o).isZero();
        assertThat(o).contains("FRESH-MACHINE-DONE").contains("Audit log intact").contains("after.pem: OK").contains("Revoked");
        assertThat(o).containsPattern("issuing\\s+0/1\\s+\\d{4,}"); // the CRL number jumped past what the old machine may have used
        assertThat(home.resolve("fleetpki.db")).as("outside the namespace the old home is untouched").exists();
    }
}
