package dev.fleetpki.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Last-Modified and Expires on CRL and OCSP answers are RFC 9110 IMF-fixdates. */
class HttpDateTest {
    @Test
    void aOneDigitDayIsWrittenWithTwoDigitsAndTheZoneIsGmt() {
        assertThat(RevocationHttp.HTTP_DATE.format(Instant.parse("2026-12-06T08:04:05Z"))).isEqualTo("Sun, 06 Dec 2026 08:04:05 GMT");
        assertThat(RevocationHttp.HTTP_DATE.format(Instant.parse("1994-11-06T08:49:37Z"))).isEqualTo("Sun, 06 Nov 1994 08:49:37 GMT");
        assertThat(RevocationHttp.HTTP_DATE.format(Instant.parse("2027-01-31T23:59:59Z"))).isEqualTo("Sun, 31 Jan 2027 23:59:59 GMT");
    }
}
