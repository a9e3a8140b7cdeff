package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fleetpki cloud verification-cert}: the proof-of-possession certificate Azure IoT Hub / DPS
 * and AWS IoT ask for when a CA is registered, checked with openssl: CN = the code, signed by the
 * CA named (the issuing CA by default, or the root), chaining to the root; a malformed code or a
 * profile of another kind issues nothing.
 */
class CloudCommandTest {
    @TempDir Path home;

    @Test
    void aVerificationCertificateNamesTheCodeAndIsSignedByTheCaBeingRegistered() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Cli.Result r = Cli.run(home, "cloud", "verification-cert", "--code", "7F3C9A10E2B4", "--out", home.resolve("verif.pem").toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.err()).contains("Verification certificate for code 7F3C9A10E2B4, signed by CA 'issuing'");
        assertThat(r.out()).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(Proc.ok(home, "openssl", "x509", "-in", "verif.pem", "-noout", "-subject", "-issuer"))
                .contains("subject=CN = 7F3C9A10E2B4").contains("Issuing");
        assertThat(Proc.ok(home, Proc.opensslVerify(home.resolve("ca/root.pem"), home.resolve("ca/issuing.pem"), home.resolve("verif.pem"))
                .toArray(String[]::new))).contains(": OK");

        Cli.Result byRoot = Cli.run(home, "cloud", "verification-cert", "--code", "0a1b2c", "--ca", "root", "--out", home.resolve("root-verif.pem").toString());
        assertThat(byRoot.exit()).as(byRoot.all()).isZero();
        assertThat(Proc.ok(home, "openssl", "verify", "-CAfile", "ca/root.pem", "root-verif.pem")).contains(": OK");

        long before = Cli.run(home, "audit", "list").out().lines().filter(l -> l.contains("certificate.issue")).count();
        Cli.Result bad = Cli.run(home, "cloud", "verification-cert", "--code", "not a code!");
        assertThat(bad.exit()).isEqualTo(65);
        assertThat(bad.err()).contains("registration code must be 1 to 64 letters");
        assertThat(Cli.run(home, "cloud", "verification-cert", "--code", "ABC", "--profile", "sub-ca").exit()).isEqualTo(77);
        assertThat(Cli.run(home, "audit", "list").out().lines().filter(l -> l.contains("certificate.issue")).count()).as("nothing issued").isEqualTo(before);
        assertThat(Cli.run(home, "device", "list").out()).doesNotContain("7F3C9A10E2B4");
    }
}
