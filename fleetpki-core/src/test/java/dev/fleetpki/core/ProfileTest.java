package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A profile built in code is refused for what the configuration file would be refused for. */
class ProfileTest {
    record Row(String name, ProfileKind kind, Duration validity, Duration backdate, String uriTemplate, int maxDerSize, int pathLength, String says) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Row> refusals() {
        String uri = "urn:fleetpki:device:{id}";
        return Stream.of(
                new Row("refuse/server-tls-399d", ProfileKind.SERVER_TLS, Duration.ofDays(399), Duration.ofMinutes(5), uri, 1200, 0,
                        "validity: 399d is too long for a server-tls certificate; the most allowed is 398d"),
                new Row("refuse/ocsp-signer-91d", ProfileKind.OCSP_SIGNING, Duration.ofDays(91), Duration.ofMinutes(5), uri, 1200, 0,
                        "the most allowed is 90d"),
                new Row("refuse/validity-4m", ProfileKind.DEVICE, Duration.ofMinutes(4), Duration.ofMinutes(5), uri, 1200, 0, "too short"),
                new Row("refuse/backdate-2d", ProfileKind.DEVICE, Duration.ofDays(30), Duration.ofDays(2), uri, 1200, 0, "backdate: 2d"),
                new Row("refuse/uri-without-id", ProfileKind.DEVICE, Duration.ofDays(30), Duration.ofMinutes(5), "urn:acme:device", 1200, 0,
                        "must contain {id}"),
                new Row("refuse/uri-without-scheme", ProfileKind.DEVICE, Duration.ofDays(30), Duration.ofMinutes(5), "dev-{id}", 1200, 0,
                        "has no scheme"),
                new Row("refuse/size-budget-299", ProfileKind.DEVICE, Duration.ofDays(30), Duration.ofMinutes(5), uri, 299, 0,
                        "maxDerSize: 299 is outside 300..65536"),
                new Row("refuse/path-length-4", ProfileKind.SUB_CA, Duration.ofDays(30), Duration.ofMinutes(5), uri, 4096, 4, "pathLength: 4"));
    }

    private static Profile build(Row r) {
        return new Profile("p", r.kind(), r.validity(), r.backdate(), Profile.SubjectSource.CN, r.uriTemplate(), null, Profile.DEFAULT_KEY_ALGORITHMS,
                r.maxDerSize(), null, List.of(), List.of(), r.pathLength(), false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refuses(Row r) {
        assertThatThrownBy(() -> build(r)).isInstanceOfSatisfying(PkiException.class, e -> {
            assertThat(e.kind()).isEqualTo(ErrorKind.CONFIG);
            assertThat(e.detail()).startsWith("profile 'p': ").contains(r.says());
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void theSameSettingsOneStepInsideAreAccepted(Row r) {
        Row inside = new Row(r.name(), r.kind(), r.validity().compareTo(r.kind().maxValidity()) > 0 ? r.kind().maxValidity()
                : r.validity().compareTo(Profile.MIN_VALIDITY) < 0 ? Profile.MIN_VALIDITY : r.validity(),
                r.backdate().compareTo(Profile.MAX_BACKDATE) > 0 ? Profile.MAX_BACKDATE : r.backdate(), "urn:fleetpki:device:{id}",
                Math.max(r.maxDerSize(), Profile.MIN_DER_SIZE), Math.min(r.pathLength(), 3), r.says());
        assertThat(build(inside).name()).isEqualTo("p");
    }
}
