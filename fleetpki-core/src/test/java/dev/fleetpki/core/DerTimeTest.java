package dev.fleetpki.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.x509.Time;
import org.junit.jupiter.api.Test;

/**
 * The validity times certificates and CRLs are written with, against BouncyCastle's
 * {@code Time(Date)} (which they replaced): byte for byte the same DER for the edges of the
 * UTCTime range (1950 and 2050, GeneralizedTime outside it), leap days, sub-second parts
 * (dropped) and many random instants up to the year 9999.
 */
class DerTimeTest {
    @Test
    void sameBytesAsBouncyCastle() throws Exception {
        List<Long> instants = new ArrayList<>();
        for (String s : List.of("1900-03-01T00:00:00Z", "1949-12-31T23:59:59Z", "1950-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
                "1999-12-31T23:59:59Z", "2000-02-29T12:00:00Z", "2026-11-30T19:30:00.999Z", "2049-12-31T23:59:59.999Z",
                "2050-01-01T00:00:00Z", "2100-02-28T23:59:59Z", "2400-02-29T00:00:01Z", "9999-12-31T23:59:59Z")) {
            instants.add(Instant.parse(s).toEpochMilli());
        }
        SplittableRandom random = new SplittableRandom(20261130);
        long from = Instant.parse("1900-01-01T00:00:00Z").toEpochMilli();
        long to = Instant.parse("9999-12-31T23:59:59Z").toEpochMilli();
        for (int i = 0; i < 20_000; i++) {
            instants.add(random.nextLong(from, to));
        }
        for (long millis : instants) {
            byte[] expected = new Time(new Date(millis)).toASN1Primitive().getEncoded(ASN1Encoding.DER);
            assertThat(HexFormat.of().formatHex(Der.time(millis))).as(Instant.ofEpochMilli(millis).toString())
                    .isEqualTo(HexFormat.of().formatHex(expected));
        }
        assertThat(Der.time(Instant.parse("2049-12-31T23:59:59Z").toEpochMilli())[0]).as("UTCTime through 2049").isEqualTo((byte) 0x17);
        assertThat(Der.time(Instant.parse("2050-01-01T00:00:00Z").toEpochMilli())[0]).as("GeneralizedTime from 2050").isEqualTo((byte) 0x18);
    }
}
