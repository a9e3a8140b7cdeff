package dev.fleetpki.server;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.core.config.ConfigLoader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzzes the readers of untrusted input outside the protocol envelopes: a CSR as PEM or DER (what
 * REST, EST, SCEP and the CLI take, EST's base64 body decoded to it), a CRMF certificate request
 * (CMP), and a fleetpki.yaml. Each answers with a {@link PkiException} saying what was wrong, or a
 * value; any other exception, a hang or an out-of-memory is a finding. {@code scripts/fuzz SECONDS
 * ReadersFuzzTest} runs them coverage-guided; a plain test run replays the inputs in
 * {@code src/test/resources/dev/fleetpki/server/ReadersFuzzTestInputs/METHOD}.
 */
class ReadersFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void csr(byte[] data) {
        try {
            UntrustedCsr.parse(data);
        } catch (PkiException expected) {
            // MALFORMED_REQUEST or BAD_SIGNATURE, with the reason
        }
    }

    /** EST's body: base64 (with or without line breaks) of a DER CSR. */
    @FuzzTest(maxDuration = "5m")
    void estBody(byte[] data) {
        try {
            UntrustedCsr.parse(EstRoutes.csrFromBody(data));
        } catch (PkiException expected) {
            // the body is not base64, or not a CSR
        }
    }

    @FuzzTest(maxDuration = "5m")
    void certReqMsg(byte[] data) {
        try {
            UntrustedCsr.parseCertReqMsg(data);
        } catch (PkiException expected) {
            // not a CertReqMsg, or no valid proof of possession
        }
    }

    @FuzzTest(maxDuration = "5m")
    void config(byte[] data) throws IOException {
        Path dir = Files.createTempDirectory("fleetpki-fuzz-config");
        Path file = dir.resolve(ConfigLoader.FILE_NAME);
        try {
            Files.writeString(file, new String(data, StandardCharsets.UTF_8));
            ConfigLoader.load(file);
        } catch (PkiException expected) {
            // CONFIG, naming the setting
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }
}
