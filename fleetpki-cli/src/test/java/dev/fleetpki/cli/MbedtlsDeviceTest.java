package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/mbedtls-device, the C example against Debian's Mbed TLS: built with gcc, it makes a P-256
 * key and a CSR naming its device id; the CSR is enrolled over EST (curl, as a device's HTTP stack
 * would send it) against a real server; Mbed TLS itself then verifies the returned chain to the
 * pinned root, the device's name and its own key, and refuses another device's name and a foreign root.
 */
class MbedtlsDeviceTest {
    @TempDir Path dir;

    @Test
    void theCExampleEnrollsItsCsrAndMbedtlsVerifiesTheChain() throws Exception {
        Path example = Path.of("").toAbsolutePath().getParent().resolve("examples/mbedtls-device");
        assertThat(example.resolve("device.c")).exists();
        Path bin = dir.resolve("mbedtls-device");
        Proc.Result build = Proc.run(example, Map.of(), "make", "-s", "OUT=" + bin, bin.toString());
        assertThat(build.exit()).as("gcc + libmbedtls-dev (apt-get install gcc make libmbedtls-dev):\n" + build.output()).isZero();

        try (TestServer ts = TestServer.start(dir.resolve("server"), null)) {
            Cli.Result added = Cli.run(ts.home, "device", "add", "mbed-1", "--enrollment-secret");
            String[] lines = added.out().trim().split("\n");
            String secret = lines[lines.length - 1];

            assertThat(Proc.ok(dir, bin.toString(), "keygen", "key.pem")).contains("P-256 key made");
            assertThat(Proc.ok(dir, bin.toString(), "csr", "key.pem", "mbed-1", "csr.der")).contains("CSR for CN=mbed-1");
            Files.writeString(dir.resolve("csr.b64"), Base64.getMimeEncoder().encodeToString(Files.readAllBytes(dir.resolve("csr.der"))));
            Path root = ts.home.resolve("ca/root.pem");
            Proc.Result est = Proc.run(dir, Map.of(), "curl", "-sS", "--fail-with-body", "--cacert", root.toString(), "-u", "mbed-1:" + secret,
                    "-H", "Content-Type: application/pkcs10", "--data-binary", "@csr.b64", "-o", "issued.b64",
                    ts.base + "/.well-known/est/simpleenroll");
            assertThat(est.exit()).as(est.output()).isZero();
            Files.write(dir.resolve("issued.p7"), Base64.getMimeDecoder().decode(Files.readAllBytes(dir.resolve("issued.b64"))));
            String leaf = Proc.ok(dir, "openssl", "pkcs7", "-inform", "DER", "-in", "issued.p7", "-print_certs");
            Files.writeString(dir.resolve("chain.pem"), leaf + Files.readString(ts.home.resolve("ca/issuing.pem"))); // leaf, then the issuing CA

            Proc.Result ok = Proc.run(dir, Map.of(), bin.toString(), "verify", "chain.pem", root.toString(), "mbed-1", "key.pem");
            assertThat(ok.exit()).as(ok.output()).isZero();
            assertThat(ok.output()).contains("verified: CN=mbed-1, chain to the pinned root OK, certifies this device's key");

            Proc.Result otherName = Proc.run(dir, Map.of(), bin.toString(), "verify", "chain.pem", root.toString(), "mbed-2", "key.pem");
            assertThat(otherName.exit()).isEqualTo(2);
            assertThat(otherName.output()).contains("does not verify for mbed-2");
            Path foreignHome = TestHome.write(dir.resolve("foreign"), "ecdsa-p256", null, null);
            TestHome.init(foreignHome);
            Proc.Result foreign = Proc.run(dir, Map.of(), bin.toString(), "verify", "chain.pem", foreignHome.resolve("ca/root.pem").toString(), "mbed-1",
                    "key.pem");
            assertThat(foreign.exit()).isEqualTo(2);
            assertThat(Proc.ok(dir, bin.toString(), "keygen", "other.pem")).contains("key made");
            Proc.Result otherKey = Proc.run(dir, Map.of(), bin.toString(), "verify", "chain.pem", root.toString(), "mbed-1", "other.pem");
            assertThat(otherKey.exit()).isEqualTo(2);
            assertThat(otherKey.output()).contains("certifies another key");
        }
    }

    /**
     * Mbed TLS implements no name constraints: a chain through an issuing CA that carries them does
     * not even parse (-0x2562), although openssl verifies it; init and config check warn of this.
     */
    @Test
    void mbedtlsCannotReadAChainUnderANameConstrainedCaAndInitWarns() throws Exception {
        Path example = Path.of("").toAbsolutePath().getParent().resolve("examples/mbedtls-device");
        Path bin = dir.resolve("mbedtls-device");
        Proc.Result build = Proc.run(example, Map.of(), "make", "-s", "OUT=" + bin, bin.toString());
        assertThat(build.exit()).as(build.output()).isZero();
        Path home = dir.resolve("nc");
        Files.createDirectories(home.resolve("secrets"));
        Files.writeString(home.resolve("secrets/passphrase"), "a long enough passphrase\n");
        Files.writeString(home.resolve("fleetpki.yaml"), """
                passphrase: file:secrets/passphrase
                ceremony:
                  root: {subject: "CN=NC Root"}
                  issuing:
                    - name: issuing
                      subject: "CN=NC Issuing CA"
                      nameConstraints: {permittedDns: [fleet.example]}
                """);
        Cli.Result check = Cli.run(home, "config", "check");
        assertThat(check.out()).contains("warning: issuing CA 'issuing' has name constraints and signs device profiles [device");
        Cli.Result init = Cli.run(home, "init");
        assertThat(init.exit()).as(init.all()).isZero();
        assertThat(init.err()).contains("warning: issuing CA 'issuing' has name constraints", "Mbed TLS", "-0x2562");

        String id = "mbed-1.fleet.example"; // inside the constraints, so the CA signs it
        assertThat(Cli.run(home, "device", "add", id).exit()).isZero();
        Proc.ok(dir, bin.toString(), "keygen", "nc-key.pem");
        Proc.ok(dir, bin.toString(), "csr", "nc-key.pem", id, "nc-csr.der");
        Proc.ok(dir, "openssl", "req", "-inform", "DER", "-in", "nc-csr.der", "-out", "nc-csr.pem");
        Cli.Result signed = Cli.run(home, "sign", "--csr", dir.resolve("nc-csr.pem").toString(), "--device", id);
        assertThat(signed.exit()).as(signed.all()).isZero();
        Files.writeString(dir.resolve("nc-chain.pem"), signed.out());
        Path root = home.resolve("ca/root.pem");
        assertThat(Proc.run(dir, Map.of(), "openssl", "verify", "-CAfile", root.toString(), "-untrusted", home.resolve("ca/issuing.pem").toString(),
                dir.resolve("nc-chain.pem").toString()).output()).contains(": OK");

        Proc.Result mbed = Proc.run(dir, Map.of(), bin.toString(), "verify", "nc-chain.pem", root.toString(), id, "nc-key.pem");
        assertThat(mbed.exit()).isNotZero();
        assertThat(mbed.output()).contains("reading the chain (leaf first) failed"); // one of its two certificates did not parse
        // which one, and why: the issuing CA's certificate alone
        Proc.Result ca = Proc.run(dir, Map.of(), bin.toString(), "verify", home.resolve("ca/issuing.pem").toString(), root.toString(), id,
                "nc-key.pem");
        assertThat(ca.exit()).isNotZero();
        assertThat(ca.output()).contains("reading the chain").contains("-0x2562");
    }
}
