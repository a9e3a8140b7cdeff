package dev.fleetpki.core.enrollment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.Actor;
import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.EnrollmentRequest;
import dev.fleetpki.core.EnrollmentSecret;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IssuanceObserver;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.enrollment.Enrollment.Conflict;
import dev.fleetpki.core.enrollment.Enrollment.Issued;
import dev.fleetpki.core.enrollment.Enrollment.Pending;
import dev.fleetpki.core.enrollment.Enrollment.RateLimited;
import dev.fleetpki.core.testkit.Csrs;
import dev.fleetpki.core.testkit.TestCa;
import dev.fleetpki.core.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Enrollment's typed outcomes without HTTP: what a protocol adapter gets for a request kept for an
 * operator, the same CSR sent again, another CSR while one waits, approval, rejection, and rates.
 * The fleet rule here accepts only tokens, so a device's one-time secret makes a pending request.
 */
class EnrollmentTest {
    @TempDir Path dir;
    TestClock clock = new TestClock(Instant.parse("2026-12-06T10:00:00Z"));
    TestCa ca;
    Enrollment enrollment;
    final List<String> refusals = new ArrayList<>();

    @BeforeEach
    void setUp() {
        ca = TestCa.builder().clock(clock).enrollment("""
                fleets:
                  "*":
                    accept: [token]
                    otherwise: pending
                deviceRate: 3
                ratePeriod: 1m
                """).build(dir);
        ca.ledger().register("dev-1", null);
        enrollment = new Enrollment(ca.config(), ca.ledger(), ca.ledger(), ca.ledger(), ca.pipeline(), ca.authorizer(), clock,
                new IssuanceObserver() {
                    @Override
                    public void refused(String reason, String profile, String protocol) {
                        refusals.add(reason);
                    }
                });
    }

    private EnrollmentCredential secret(String device) {
        return new EnrollmentCredential.Secret(new EnrollmentSecret("s-" + device, device, "hash", clock.instant(), Actor.operator("op"),
                clock.instant().plus(Duration.ofDays(1)), null, null));
    }

    private Enrollment.Outcome enroll(UntrustedCsr csr) {
        return enrollment.enroll(secret("dev-1"), csr, "device", null, "est", false);
    }

    @Test
    void aRequestNoRuleAcceptsIsKeptAndTheSameCsrFindsIt() {
        UntrustedCsr csr = Csrs.forCn("dev-1");
        Pending first = (Pending) enroll(csr);
        assertThat(first.request().status()).isEqualTo(EnrollmentRequest.Status.PENDING);
        assertThat(ca.ledger().request(first.request().id())).isPresent();
        assertThat(ca.ledger().audited(AuditAction.REQUEST_PENDING)).hasSize(1);

        assertThat(enroll(csr)).isInstanceOfSatisfying(Pending.class, p -> assertThat(p.request().id()).isEqualTo(first.request().id()));
        assertThat(ca.ledger().audited(AuditAction.REQUEST_PENDING)).as("the same CSR again makes no new request").hasSize(1);
    }

    @Test
    void anotherCsrWhileOneWaitsIsAConflictNamingThePendingRequest() {
        Pending first = (Pending) enroll(Csrs.forCn("dev-1"));
        assertThat(enroll(Csrs.forCn("dev-1"))).isInstanceOfSatisfying(Conflict.class, c -> {
            assertThat(c.pendingId()).contains(first.request().id());
            assertThat(c.detail()).contains(first.request().id(), "dev-1");
        });
        assertThat(ca.ledger().pendingCount()).isEqualTo(1);
    }

    @Test
    void anApprovedRequestIsIssuedAndTheSameCsrGetsThatCertificate() {
        UntrustedCsr csr = Csrs.forCn("dev-1");
        Pending p = (Pending) enroll(csr);
        IssuedCertificate issued = enrollment.approve(p.request().id(), Actor.operator("alice"));
        assertThat(ca.ledger().request(p.request().id()).orElseThrow().status()).isEqualTo(EnrollmentRequest.Status.ISSUED);

        assertThat(enroll(csr)).isInstanceOfSatisfying(Issued.class, i -> assertThat(i.certificate().serialHex()).isEqualTo(issued.serialHex()));
        assertThat(ca.ledger().certificateCount()).as("sending it again issues nothing new").isEqualTo(1);
        assertThatThrownBy(() -> enrollment.approve(p.request().id(), Actor.operator("bob")))
                .isInstanceOfSatisfying(PkiException.class, e -> assertThat(e.kind()).isEqualTo(ErrorKind.CONFLICT));
    }

    @Test
    void aRejectedRequestIsRefusedWhenTheSameCsrComesBack() {
        UntrustedCsr csr = Csrs.forCn("dev-1");
        Pending p = (Pending) enroll(csr);
        enrollment.reject(p.request().id(), "not ours", Actor.operator("alice"));
        assertThatThrownBy(() -> enroll(csr)).isInstanceOfSatisfying(PkiException.class, e -> {
            assertThat(e.kind()).isEqualTo(ErrorKind.NOT_AUTHORIZED);
            assertThat(e.detail()).contains("rejected", "not ours");
        });
    }

    @Test
    void overTheDeviceRateTheAnswerSaysWhenToComeBackAndNothingIsRead() {
        UntrustedCsr csr = Csrs.forCn("dev-1");
        for (int i = 0; i < 3; i++) {
            assertThat(enroll(csr)).isInstanceOf(Pending.class);
        }
        clock.advance(Duration.ofSeconds(20));
        assertThat(enroll(csr)).isInstanceOfSatisfying(RateLimited.class, r -> {
            assertThat(r.retryAfterSeconds()).isEqualTo(40);
            assertThat(r.detail()).contains("device:dev-1", "3 enrollment requests", "retry after 40 s");
        });
        assertThat(refusals).containsExactly("rate-limited");
        clock.advance(Duration.ofSeconds(40));
        assertThat(enroll(csr)).as("a new window").isInstanceOf(Pending.class);
    }

    @Test
    void aSourceSendingMalformedRequestsIsLimitedForAMinute() {
        for (int i = 0; i < Enrollment.MALFORMED_PER_MINUTE; i++) {
            assertThat(enrollment.sourceLimited("192.0.2.7", "est")).isEmpty();
            enrollment.malformed("192.0.2.7");
        }
        assertThat(enrollment.sourceLimited("192.0.2.7", "est")).hasValueSatisfying(r -> assertThat(r.retryAfterSeconds()).isEqualTo(60));
        assertThat(enrollment.sourceLimited("192.0.2.8", "est")).as("another address").isEmpty();
        clock.advance(Duration.ofMinutes(1));
        assertThat(enrollment.sourceLimited("192.0.2.7", "est")).isEmpty();
    }
}
