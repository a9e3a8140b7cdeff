package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.testkit.Csrs;
import dev.fleetpki.core.testkit.TestCa;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Under an issuing CA constrained to acme.example (but not bad.acme.example), the pipeline signs
 * only what verifiers accept: each row is issued and openssl verifies it, or is refused before
 * signing with the name that broke the constraint.
 */
class NameConstraintsLintTest {
    @TempDir static Path dir;
    static TestCa ca;

    @BeforeAll
    static void setUp() {
        ca = TestCa.builder().issuing("nameConstraints: {permittedDns: [acme.example], excludedDns: [bad.acme.example]}\n").profiles("""
                device:
                  validity: 30d
                server-tls:
                  validity: 30d
                """).build(dir);
    }

    /** A request: device id, profile, CSR subject and SANs; null {@code refusedFor}: issued. */
    record Row(String name, String device, String profile, String subject, List<String> sans, String refusedFor) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Row> rows() {
        return Stream.of(
                new Row("issue/server-dns-inside", "broker-1", "server-tls", "CN=broker-1", List.of("dns:broker.acme.example"), null),
                new Row("refuse/server-dns-outside", "broker-2", "server-tls", "CN=broker-2", List.of("dns:broker.other.example"),
                        "subjectAltName DNS:broker.other.example is outside the issuer's name constraints (permitted: DNS:acme.example; excluded: DNS:bad.acme.example)"),
                new Row("refuse/server-dns-excluded", "broker-3", "server-tls", "CN=broker-3", List.of("dns:x.bad.acme.example"),
                        "DNS:x.bad.acme.example is outside"),
                new Row("refuse/server-localhost", "localhost", "server-tls", "CN=localhost", List.of("dns:localhost"), "DNS:localhost is outside"),
                new Row("issue/device-cn-inside", "sensor-1.acme.example", "device", "CN=sensor-1.acme.example", List.of(), null),
                new Row("refuse/device-dotted-cn-outside", "sensor.evil.example", "device", "CN=sensor.evil.example", List.of(),
                        "the CN 'sensor.evil.example'"),
                new Row("refuse/device-plain-cn", "sensor-9", "device", "CN=sensor-9", List.of(), "the CN 'sensor-9'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void signsOnlyWhatVerifiersAccept(Row row) throws Exception {
        if (ca.ledger().device(row.device()).isEmpty()) {
            ca.ledger().register(row.device(), null);
        }
        var kp = Csrs.keyPair(KeyAlgorithm.EC_P256);
        UntrustedCsr csr = Csrs.csr(kp, row.subject(), row.sans().toArray(String[]::new));
        Authorization auth = ca.authorizer().operator(Actor.operator("alice"), row.device(), row.profile(), "test");
        long stored = ca.ledger().certificateCount();
        if (row.refusedFor() != null) {
            assertThatThrownBy(() -> ca.pipeline().issue(IssuanceRequest.fromCsr(csr, row.device(), row.profile(), "test"), auth))
                    .isInstanceOfSatisfying(PkiException.class, e -> {
                        assertThat(e.kind()).isEqualTo(ErrorKind.POLICY_VIOLATION);
                        assertThat(e.detail()).contains(row.refusedFor()).contains("RFC 5280 4.2.1.10");
                    });
            assertThat(ca.ledger().certificateCount()).isEqualTo(stored);
            return;
        }
        IssuedCertificate c = ca.pipeline().issue(IssuanceRequest.fromCsr(csr, row.device(), row.profile(), "test"), auth);
        Path work = Files.createDirectories(dir.resolve(row.device()));
        Files.writeString(work.resolve("root.pem"), Pem.encode("CERTIFICATE", ca.ledger().ca("root").orElseThrow().certificate().getEncoded()));
        Files.writeString(work.resolve("issuing.pem"), Pem.encode("CERTIFICATE", ca.ledger().ca("issuing").orElseThrow().certificate().getEncoded()));
        Files.writeString(work.resolve("leaf.pem"), Pem.encode("CERTIFICATE", c.der()));
        Process p = new ProcessBuilder("openssl", "verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "leaf.pem")
                .directory(work.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("openssl verify").contains("leaf.pem: OK");
    }
}
