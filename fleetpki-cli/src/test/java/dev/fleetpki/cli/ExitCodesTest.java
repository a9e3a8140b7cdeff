package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exit codes docs/cli.md promises (sysexits), one case per code, and error lines a person can
 * act on: they name the file and the operating system's reason, never a Java class; a command that
 * could not do its job (publish a CRL) never exits 0.
 */
class ExitCodesTest {
    @TempDir Path home;

    /** What a Java class name or exception looks like in an error line. */
    static final java.util.regex.Pattern JAVA = java.util.regex.Pattern.compile(
            "(Exception|Error)\\b|\\bjava\\.|\\bjavax\\.|\\borg\\.bouncycastle|\\bX509CertificateHolder\\b|\\$\\w");

    @Test
    void usageErrorsExit64WithTheUsageHint() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        Cli.Result unknownOption = Cli.run(home, "device", "list", "--bogus");
        assertThat(unknownOption.exit()).as(unknownOption.all()).isEqualTo(64);
        assertThat(unknownOption.err()).contains("Unknown option: '--bogus'");
        Cli.Result missing = Cli.run(home, "sign", "--device", "d1");
        assertThat(missing.exit()).as(missing.all()).isEqualTo(64);
        assertThat(missing.err()).contains("Missing required option");
        Cli.Result badValue = Cli.run(home, "cloud", "export", "--for", "gcp");
        assertThat(badValue.exit()).isEqualTo(64);
        Cli.Result noCommand = Cli.run(home, "frobnicate");
        assertThat(noCommand.exit()).as(noCommand.all()).isEqualTo(64);
        Cli.Result device = DeviceCommandTest.device("enroll", "--bogus");
        assertThat(device.exit()).as("fleetpki-device too: " + device.all()).isEqualTo(64);
    }

    @Test
    void aFileThatCannotBeReadIsNamedWithTheReason() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "d1").exit()).isZero();
        Path absent = home.resolve("se-0044.csr");
        Cli.Result r = Cli.run(home, "sign", "--device", "d1", "--csr", absent.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(66);
        assertThat(r.err()).contains("cannot read CSR " + absent + ": no such file or folder");
        assertThat(r.err()).doesNotContainPattern(JAVA);
        Path dir = Files.createDirectories(home.resolve("a-folder.csr"));
        Cli.Result folder = Cli.run(home, "sign", "--device", "d1", "--csr", dir.toString());
        assertThat(folder.exit()).isEqualTo(66);
        assertThat(folder.err()).contains("cannot read CSR " + dir + ": it is a folder").doesNotContainPattern(JAVA);
    }

    @Test
    void aFileOfTheWrongKindIsNamedByWhatItHoldsNotByAJavaClass() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "se-1").exit()).isZero();
        assertThat(Cli.run(home, "station", "add", "line-1", "--fleet", "*").exit()).isZero();
        Cli.Result cert = Cli.run(home, "issue", "--public-key", home.resolve("ca/root.pem").toString(), "--device", "se-1", "--station", "line-1");
        assertThat(cert.exit()).as(cert.all()).isEqualTo(65);
        assertThat(cert.err()).contains("holds a certificate, not a PUBLIC KEY").doesNotContainPattern(JAVA);
        Cli.Result certAsCsr = Cli.run(home, "sign", "--device", "se-1", "--csr", home.resolve("ca/root.pem").toString());
        assertThat(certAsCsr.exit()).isEqualTo(65);
        assertThat(certAsCsr.err()).contains("holds a certificate, not a CERTIFICATE REQUEST").doesNotContainPattern(JAVA);
        java.nio.file.Files.write(home.resolve("junk.der"), new byte[] {0x30, 0x03, 0x02, 0x01});
        Cli.Result junk = Cli.run(home, "issue", "--public-key", home.resolve("junk.der").toString(), "--device", "se-1", "--station", "line-1");
        assertThat(junk.exit()).isEqualTo(65);
        assertThat(junk.err()).contains("not a PEM or DER public key").doesNotContainPattern(JAVA);

        // and done right, with --json: the certificate object and its chain (sign and issue alike)
        Proc.ok(home, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "se-1.key");
        Proc.ok(home, "openssl", "pkey", "-in", "se-1.key", "-pubout", "-out", "se-1.pub");
        Cli.Result issued = Cli.run(home, "issue", "--public-key", home.resolve("se-1.pub").toString(), "--device", "se-1", "--station", "line-1", "--json");
        assertThat(issued.exit()).as(issued.all()).isZero();
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(issued.out());
        assertThat(json.get("device").asText()).isEqualTo("se-1");
        assertThat(json.get("status").asText()).isEqualTo("valid");
        assertThat(json.get("proofOfPossession").asBoolean()).isFalse();
        assertThat(json.get("chainPem").asText()).startsWith(json.get("certificatePem").asText()).contains("BEGIN CERTIFICATE");
        assertThat(Cli.run(home, "cert", "show", json.get("serial").asText()).out()).contains("se-1");
    }

    @Test
    void aFileThatCannotBeWrittenExits73NamingItAndTheReason() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Path notAFolder = Files.writeString(home.resolve("plain-file"), "x");
        Cli.Result r = Cli.run(home, "export", "trust-bundle", "--out", notAFolder.resolve("bundle.pem").toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(73);
        assertThat(r.err()).contains(notAFolder.resolve("bundle.pem").toString()).doesNotContainPattern(JAVA);
    }

    @Test
    void revokingOrPublishingWithAKeyThatCannotBeOpenedIsNotSuccess() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        assertThat(Cli.run(home, "device", "add", "d1").exit()).isZero();
        Proc.ok(home, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "d1.key", "-out",
                "d1.csr", "-subj", "/CN=d1");
        Cli.Result signed = Cli.run(home, "sign", "--device", "d1", "--csr", home.resolve("d1.csr").toString(), "--out", home.resolve("d1.pem").toString());
        assertThat(signed.exit()).as(signed.all()).isZero();
        String serial = Proc.ok(home, "openssl", "x509", "-in", "d1.pem", "-noout", "-serial").strip().substring("serial=".length()).toLowerCase();
        Files.writeString(home.resolve("secrets/passphrase"), "not the passphrase\n");

        Cli.Result crl = Cli.run(home, "crl", "generate");
        assertThat(crl.exit()).as(crl.all()).isEqualTo(78);
        assertThat(crl.err()).contains("not published").doesNotContainPattern(JAVA);
        Cli.Result revoke = Cli.run(home, "revoke", serial);
        assertThat(revoke.exit()).as(revoke.all()).isEqualTo(78);
        assertThat(revoke.out()).contains("Revoked " + serial);
        assertThat(revoke.err()).contains("the revocation is recorded").contains("not published").doesNotContainPattern(JAVA);
    }
}
