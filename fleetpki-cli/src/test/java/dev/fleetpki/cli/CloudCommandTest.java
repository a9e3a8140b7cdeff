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

    @Test
    void exportWritesEachCloudsFilesWithThumbprintsOpensslAgreesWith() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        Cli.Result azure = Cli.run(home, "cloud", "export", "--for", "azure", "--out", home.resolve("az").toString());
        assertThat(azure.exit()).as(azure.all()).isZero();
        assertThat(azure.out()).contains("Wrote root.pem, root.cer, device-chain.pem, thumbprints.txt, README.txt");
        String sha1 = Proc.ok(home, "openssl", "x509", "-in", "ca/root.pem", "-noout", "-fingerprint", "-sha1").replaceAll("(?s).*=", "")
                .replace(":", "").strip();
        String sha256 = Proc.ok(home, "openssl", "x509", "-in", "ca/root.pem", "-noout", "-fingerprint", "-sha256").replaceAll("(?s).*=", "")
                .replace(":", "").strip();
        assertThat(java.nio.file.Files.readString(home.resolve("az/thumbprints.txt"))).contains("SHA-1:   " + sha1).contains("SHA-256: " + sha256);
        assertThat(java.nio.file.Files.readString(home.resolve("az/root.pem"))).isEqualTo(java.nio.file.Files.readString(home.resolve("ca/root.pem")));
        assertThat(java.nio.file.Files.readString(home.resolve("az/device-chain.pem"))).as("the issuing CA, sent by devices after their own")
                .isEqualTo(java.nio.file.Files.readString(home.resolve("ca/issuing.pem")));
        assertThat(java.nio.file.Files.readString(home.resolve("az/README.txt"))).contains("az iot hub certificate create")
                .contains("fleetpki cloud verification-cert --code CODE --ca root");

        Cli.Result aws = Cli.run(home, "cloud", "export", "--for", "aws", "--out", home.resolve("aws").toString(), "--policy", "sensors");
        assertThat(aws.exit()).as(aws.all()).isZero();
        assertThat(aws.out()).contains("Wrote issuing.pem, jitp-template.json, thumbprints.txt, README.txt").doesNotContain("device-chain");
        String issuingSha256 = Proc.ok(home, "openssl", "x509", "-in", "ca/issuing.pem", "-noout", "-fingerprint", "-sha256")
                .replaceAll("(?s).*=", "").replace(":", "").strip();
        assertThat(java.nio.file.Files.readString(home.resolve("aws/README.txt"))).contains(issuingSha256.toLowerCase(java.util.Locale.ROOT))
                .contains("register-ca-certificate");
        // the template is JSON whose templateBody is JSON again (as AWS reads it): python parses both
        String parsed = Proc.ok(home, "python3", "-c", "import json,sys; t=json.load(open('aws/jitp-template.json')); "
                + "b=json.loads(t['templateBody']); print(b['Resources']['policy']['Properties']['PolicyName'], "
                + "b['Resources']['thing']['Properties']['ThingName']['Ref'])");
        assertThat(parsed.strip()).isEqualTo("sensors AWS::IoT::Certificate::CommonName");

        Cli.Result golioth = Cli.run(home, "cloud", "export", "--for", "golioth", "--out", home.resolve("go").toString());
        assertThat(golioth.exit()).as(golioth.all()).isZero();
        assertThat(java.nio.file.Files.readString(home.resolve("go/README.txt"))).contains("O=PROJECT");

        Cli.Result bad = Cli.run(home, "cloud", "export", "--for", "gcp");
        assertThat(bad.exit()).isEqualTo(64);
        assertThat(bad.err()).contains("azure, aws, golioth");
        Cli.Result ocsp = Cli.run(home, "cloud", "export", "--for", "aws", "--policy", "bad policy", "--out", home.resolve("x").toString());
        assertThat(ocsp.exit()).isEqualTo(65);
        assertThat(home.resolve("x")).doesNotExist();
    }
}
