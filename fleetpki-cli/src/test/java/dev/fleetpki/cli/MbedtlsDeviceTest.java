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
        Proc.Result build = Proc.run(example, Map.of(), "make", "-s", "OUT=" + bin);
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
}
