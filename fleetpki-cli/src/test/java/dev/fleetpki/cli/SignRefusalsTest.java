package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.fleetpki.store.Database;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Base64;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * openssl-made CSRs are signed; every bad request is refused with its own message, a non-zero
 * exit, and no certificate or serial stored (the refusal itself is audited).
 */
class SignRefusalsTest {
    @TempDir static Path home;
    static Path goodP256;

    @BeforeAll
    static void setUp() throws Exception {
        TestHome.write(home, "ecdsa-p256", null, null);
        TestHome.init(home);
        for (String id : new String[] {"dev-ok", "dev-revoked", "dev-disabled"}) {
            assertThat(Cli.run(home, "device", "add", id, "--model", "m1").exit()).isZero();
        }
        goodP256 = TestHome.opensslCsr(home, "good-p256", "ec", "/CN=dev-ok", "-pkeyopt", "ec_paramgen_curve:P-256");
        Path revokedCsr = TestHome.opensslCsr(home, "revoked-first", "ec", "/CN=dev-revoked", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(home, "sign", "--csr", revokedCsr.toString(), "--device", "dev-revoked").exit()).isZero();
        assertThat(Cli.run(home, "device", "revoke", "dev-revoked").out()).contains("and 1 certificate");
        assertThat(Cli.run(home, "device", "disable", "dev-disabled").exit()).isZero();
    }

    @ParameterizedTest(name = "sign/{0}")
    @MethodSource("opensslKeys")
    void opensslCsrsAreSigned(String name, String newkey, String[] opts) {
        Path csr = TestHome.opensslCsr(home, name, newkey, "/CN=dev-ok", opts);
        Cli.Result r = Cli.run(home, "sign", "--csr", csr.toString(), "--device", "dev-ok");
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("BEGIN CERTIFICATE");
    }

    static Stream<Arguments> opensslKeys() {
        return Stream.of(
                Arguments.of("p256", "ec", new String[] {"-pkeyopt", "ec_paramgen_curve:P-256"}),
                Arguments.of("p384", "ec", new String[] {"-pkeyopt", "ec_paramgen_curve:P-384"}),
                Arguments.of("ed25519", "ed25519", new String[0]),
                Arguments.of("rsa2048", "rsa:2048", new String[0]));
    }

    record Refusal(String name, int exit, String message) {}

    @ParameterizedTest(name = "refuse/{0}")
    @MethodSource("refusals")
    void badRequestsAreRefusedAndNothingIsStored(String name, int exit, String message) throws Exception {
        Path csr = csrFor(name);
        String device = switch (name) {
            case "unregistered-device" -> "dev-unknown";
            case "revoked-device" -> "dev-revoked";
            case "disabled-device" -> "dev-disabled";
            default -> "dev-ok";
        };
        long[] before = counts();
        Cli.Result r = Cli.run(home, "sign", "--csr", csr.toString(), "--device", device);
        assertThat(r.exit()).as(r.all()).isEqualTo(exit);
        assertThat(r.err()).contains(message);
        assertThat(r.out()).doesNotContain("BEGIN CERTIFICATE");
        assertThat(counts()).as("certificates and serial reservations unchanged").containsExactly(before);
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("tampered-signature", 65, "signature does not verify"),
                Arguments.of("rsa-1024", 65, "RSA key of 1024 bits is too weak"),
                Arguments.of("malformed-der", 65, "not valid DER-encoded PKCS#10: it is truncated: its outer SEQUENCE announces 256 bytes and 5 follow"),
                Arguments.of("not-a-request", 65, "not valid DER-encoded PKCS#10: the SEQUENCE is not a CertificationRequest"),
                Arguments.of("trailing-bytes", 65, "not valid DER-encoded PKCS#10: 2 bytes follow the outer SEQUENCE"),
                Arguments.of("garbage-pem", 65, "PEM is damaged"),
                Arguments.of("certificate-not-csr", 65, "not a CERTIFICATE REQUEST"),
                Arguments.of("wrong-cn", 65, "CN 'someone-else' is not the device id 'dev-ok'"),
                Arguments.of("unexpected-san", 65, "names the device by its CN only"),
                Arguments.of("unregistered-device", 66, "device 'dev-unknown' is not registered"),
                Arguments.of("revoked-device", 77, "device 'dev-revoked' is revoked"),
                Arguments.of("disabled-device", 77, "device 'dev-disabled' is disabled"),
                Arguments.of("empty-file", 65, "the CSR is empty"));
    }

    private static Path csrFor(String name) throws Exception {
        Path p = home.resolve("refuse-" + name + ".csr");
        switch (name) {
            case "tampered-signature" -> {
                byte[] der = derOf(goodP256);
                der[der.length - 5] ^= 0x01; // inside the signature value
                Files.write(p, der);
            }
            case "rsa-1024" -> p = TestHome.opensslCsr(home, "rsa1024", "rsa:1024", "/CN=dev-ok");
            case "malformed-der" -> Files.write(p, new byte[] {0x30, (byte) 0x82, 0x01, 0x00, 0x02, 0x01, 0x00, 0x13, 0x37});
            case "not-a-request" -> Files.write(p, new byte[] {0x30, 0x03, 0x02, 0x01, 0x05});
            case "trailing-bytes" -> {
                byte[] der = derOf(goodP256);
                byte[] longer = java.util.Arrays.copyOf(der, der.length + 2);
                Files.write(p, longer);
            }
            case "garbage-pem" -> Files.writeString(p, "-----BEGIN CERTIFICATE REQUEST-----\nnot*base64*at all!!\n-----END CERTIFICATE REQUEST-----\n");
            case "certificate-not-csr" -> p = home.resolve("ca/issuing.pem");
            case "wrong-cn" -> p = TestHome.opensslCsr(home, "wrongcn", "ec", "/CN=someone-else", "-pkeyopt", "ec_paramgen_curve:P-256");
            case "unexpected-san" -> p = TestHome.opensslCsr(home, "san", "ec", "/CN=dev-ok", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-addext", "subjectAltName=DNS:bank.example");
            case "empty-file" -> Files.write(p, new byte[0]);
            default -> p = TestHome.opensslCsr(home, name, "ec", "/CN=" + (name.equals("unregistered-device") ? "dev-unknown"
                    : name.equals("revoked-device") ? "dev-revoked" : "dev-disabled"), "-pkeyopt", "ec_paramgen_curve:P-256");
        }
        return p;
    }

    private static byte[] derOf(Path pem) throws Exception {
        String s = Files.readString(pem, StandardCharsets.US_ASCII).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(s);
    }

    private static long[] counts() throws Exception {
        try (Database db = Database.open("jdbc:sqlite:fleetpki.db", null, null, home); Connection c = db.read(); Statement s = c.createStatement()) {
            long[] out = new long[2];
            try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM certificate")) {
                rs.next();
                out[0] = rs.getLong(1);
            }
            try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM serial_reservation")) {
                rs.next();
                out[1] = rs.getLong(1);
            }
            return out;
        }
    }

    @Test
    void refusalsAreAuditedAndTheChainStaysIntact() throws Exception {
        Path csr = TestHome.opensslCsr(home, "audited", "ec", "/CN=nobody", "-pkeyopt", "ec_paramgen_curve:P-256");
        assertThat(Cli.run(home, "sign", "--csr", csr.toString(), "--device", "dev-ok").exit()).isEqualTo(65);
        Cli.Result list = Cli.run(home, "audit", "list", "--last", "1");
        assertThat(list.out()).contains("certificate.refuse").contains("NAME_MISMATCH");
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run(home, "audit", "list", "--last", "2", "--json").out()).get("events");
        assertThat(json).hasSize(2);
        assertThat(json.get(1).get("action").asText()).isEqualTo("certificate.refuse");
        assertThat(json.get(1).get("seq").asLong()).isEqualTo(json.get(0).get("seq").asLong() + 1).as("oldest first");
        assertThat(json.get(1).get("detail").isObject()).as("the detail as JSON, not a string of it").isTrue();
        assertThat(json.get(1).get("detail").toString()).contains("NAME_MISMATCH");
        assertThat(Cli.run(home, "audit", "verify").out()).contains("Audit log intact");
        var verified = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Cli.run(home, "audit", "verify", "--json").out());
        assertThat(verified.get("intact").asBoolean()).isTrue();
        assertThat(verified.get("events").asLong()).isEqualTo(json.get(1).get("seq").asLong());
        assertThat(verified.get("head").asText()).hasSize(64);
        assertThat(verified.get("problems")).isEmpty();
    }
}
