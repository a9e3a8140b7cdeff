package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.revocation.OcspResponder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;

/**
 * Fuzzes two more readers of untrusted input: the OCSP responder's request reader (anyone on the
 * network sends it DER) and the certificate reader behind {@code trust add-manufacturer}, {@code ca
 * import}, {@code ca rollover --signed} and {@code station add} (files an operator was handed). The
 * responder answers every input with an OCSP response (malformedRequest, unauthorized or a status),
 * never an exception; the certificate reader returns certificates or a {@link PkiException} saying
 * what the file held. {@code scripts/fuzz SECONDS CliReadersFuzzTest#METHOD} runs them
 * coverage-guided; a plain test run replays the inputs in
 * {@code src/test/resources/dev/fleetpki/cli/CliReadersFuzzTestInputs/METHOD}.
 */
class CliReadersFuzzTest {
    /** One CA home for the whole run (the ceremony takes a second): its OCSP responder answers the inputs. */
    private static final class Responder {
        static final OcspResponder OCSP;
        static {
            try {
                Path dir = Files.createTempDirectory("fleetpki-fuzz-ocsp");
                Path home = TestHome.write(dir.resolve("home"), "ecdsa-p256", null, null);
                TestHome.init(home);
                OCSP = Fleet.open(home, Clock.systemUTC()).revocation().ocsp();
            } catch (Exception e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    @FuzzTest(maxDuration = "5m")
    void ocspRequest(byte[] data) {
        OcspResponder.OcspAnswer a = Responder.OCSP.answer(data);
        assertThat(a.der()).isNotEmpty();
    }

    @FuzzTest(maxDuration = "5m")
    void certificates(byte[] data) {
        try {
            assertThat(Certs.parseCertificates(data, "input.pem")).isNotEmpty();
        } catch (PkiException expected) {
            // MALFORMED_REQUEST: what the file held
        }
    }
}
