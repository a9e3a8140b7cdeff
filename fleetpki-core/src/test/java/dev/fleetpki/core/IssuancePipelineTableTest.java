package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.testkit.Csrs;
import dev.fleetpki.core.testkit.InMemoryLedger;
import dev.fleetpki.core.testkit.TestCa;
import dev.fleetpki.kms.KeyAlgorithm;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The pipeline's refusals as a table: each row is a request an operator is authorized to make for
 * device {@code dev-1}, and the refusal it must get. Every refusal stores no certificate and is
 * audited once with its kind. No database, no server: a {@link TestCa} over an {@link InMemoryLedger}.
 */
class IssuancePipelineTableTest {
    @TempDir static Path dir;
    static TestCa ca;

    @BeforeAll
    static void setUp() {
        ca = TestCa.builder().profiles("""
                device:
                  validity: 30d
                tiny:
                  kind: device
                  validity: 30d
                  maxDerSize: 300
                ec-only:
                  kind: device
                  validity: 30d
                  keyAlgorithms: [ecdsa-p256]
                forever:
                  kind: device
                  validity: 11y
                server-tls:
                  validity: 90d
                """).build(dir);
        ca.ledger().register("dev-1", null);
        ca.ledger().register("dev-off", null);
        ca.ledger().setDeviceStatus("dev-off", Device.Status.DISABLED, new AuditEvent(ca.clock().instant(), Actor.operator("test"),
                AuditAction.DEVICE_DISABLE, "device:dev-off", java.util.Map.of()));
    }

    /** A row: what is asked (device and profile the operator is authorized for), the request, and the refusal. */
    record Row(String name, String device, String profile, Function<String, IssuanceRequest> request, ErrorKind kind, String says) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static IssuanceRequest csr(UntrustedCsr csr, String device, String profile) {
        return IssuanceRequest.fromCsr(csr, device, profile, "test");
    }

    static Stream<Row> refusals() {
        return Stream.of(
                new Row("refuse/rsa-1024", "dev-1", "device", p -> csr(Csrs.csr(Csrs.rsa(1024), "CN=dev-1"), "dev-1", p),
                        ErrorKind.KEY_POLICY, "1024"),
                new Row("refuse/wrong-cn", "dev-1", "device", p -> csr(Csrs.forCn("dev-2"), "dev-1", p),
                        ErrorKind.NAME_MISMATCH, "dev-2"),
                new Row("refuse/dns-san-on-device-profile", "dev-1", "device", p -> csr(Csrs.csr(Csrs.keyPair(KeyAlgorithm.EC_P256), "CN=dev-1",
                        "dns:evil.example"), "dev-1", p), ErrorKind.NAME_MISMATCH, "evil.example"),
                new Row("refuse/key-not-in-profile", "dev-1", "ec-only", p -> csr(Csrs.csr(Csrs.keyPair(KeyAlgorithm.ED25519), "CN=dev-1"), "dev-1", p),
                        ErrorKind.KEY_POLICY, "ecdsa-p256"),
                new Row("refuse/over-size-budget", "dev-1", "tiny", p -> csr(Csrs.forCn("dev-1"), "dev-1", p),
                        ErrorKind.POLICY_VIOLATION, "300"),
                new Row("refuse/outlives-issuer", "dev-1", "forever", p -> csr(Csrs.forCn("dev-1"), "dev-1", p),
                        ErrorKind.POLICY_VIOLATION, "after its issuer"),
                new Row("refuse/unregistered-device", "ghost", "device", p -> csr(Csrs.forCn("ghost"), "ghost", p),
                        ErrorKind.NOT_FOUND, "ghost"),
                new Row("refuse/disabled-device", "dev-off", "device", p -> csr(Csrs.forCn("dev-off"), "dev-off", p),
                        ErrorKind.DEVICE_NOT_ACTIVE, "dev-off"),
                new Row("refuse/other-device-than-authorized", "dev-1", "device", p -> csr(Csrs.forCn("dev-off"), "dev-off", p),
                        ErrorKind.NOT_AUTHORIZED, "this authorization is for device 'dev-1'"),
                new Row("refuse/other-profile-than-authorized", "dev-1", "device", p -> csr(Csrs.forCn("dev-1"), "dev-1", "ec-only"),
                        ErrorKind.NOT_AUTHORIZED, "not 'ec-only'"),
                new Row("refuse/bare-key-from-operator", "dev-1", "device",
                        p -> IssuanceRequest.fromBareKey(Csrs.keyPair(KeyAlgorithm.EC_P256).getPublic(), "dev-1", p, "test"),
                        ErrorKind.NOT_AUTHORIZED, "bare public key"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refuses(Row row) {
        InMemoryLedger ledger = ca.ledger();
        long stored = ledger.certificateCount();
        int refusals = ledger.audited(AuditAction.CERTIFICATE_REFUSE).size();
        Authorization auth = ca.authorizer().operator(Actor.operator("alice"), row.device(), row.profile(), "test");

        assertThatThrownBy(() -> ca.pipeline().issue(row.request().apply(row.profile()), auth))
                .isInstanceOfSatisfying(PkiException.class, e -> {
                    assertThat(e.kind()).as(row.name()).isEqualTo(row.kind());
                    assertThat(e.detail()).as(row.name()).contains(row.says());
                });
        assertThat(ledger.certificateCount()).as("nothing stored").isEqualTo(stored);
        var audited = ledger.audited(AuditAction.CERTIFICATE_REFUSE);
        assertThat(audited).hasSize(refusals + 1);
        assertThat(audited.getLast().detail()).containsEntry("kind", row.kind().name());
    }

    @Test
    void aTamperedCsrIsNotProofOfPossession() {
        byte[] der = Csrs.der(Csrs.keyPair(KeyAlgorithm.EC_P256), "CN=dev-1");
        assertThatThrownBy(() -> UntrustedCsr.parse(Csrs.tampered(der))).isInstanceOfSatisfying(PkiException.class,
                e -> assertThat(e.kind()).isEqualTo(ErrorKind.BAD_SIGNATURE));
    }

    @Test
    void theRowsDifferFromAnIssuedRequestOnlyInWhatTheyBreak() throws Exception {
        // the control row: the same request, right, is issued and chains to the issuing CA
        Authorization auth = ca.authorizer().operator(Actor.operator("alice"), "dev-1", "device", "test");
        IssuedCertificate c = ca.pipeline().issue(csr(Csrs.forCn("dev-1"), "dev-1", "device"), auth);
        X509Certificate issuing = ca.cas().get("issuing").certificate();
        c.certificate().verify(issuing.getPublicKey());
        assertThat(c.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=dev-1");
        assertThat(ca.ledger().certificate(c.serialHex())).isPresent();
        assertThat(ca.ledger().audited(AuditAction.CERTIFICATE_ISSUE).getLast().detail()).containsEntry("serial", c.serialHex());
    }
}
