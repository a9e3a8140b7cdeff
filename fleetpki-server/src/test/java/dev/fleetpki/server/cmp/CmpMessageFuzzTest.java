package dev.fleetpki.server.cmp;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.time.Instant;

/**
 * Fuzzes CMP's message reader and MAC check: whatever bytes arrive, {@code CmpMessage.read}
 * returns a request or throws its {@link CmpMessage.Failure}, and a request's MAC is checked
 * within the iteration bound; any other exception, a hang or an out-of-memory is a finding.
 * {@code scripts/fuzz SECONDS CmpMessageFuzzTest} runs it coverage-guided (JAZZER_FUZZ=1); a
 * plain test run replays the corpus in
 * {@code src/test/resources/dev/fleetpki/server/cmp/CmpMessageFuzzTestInputs/read}.
 */
class CmpMessageFuzzTest {
    private static final char[] SECRET = "fpe_0123456789abcdef_fuzz".toCharArray();

    @FuzzTest(maxDuration = "5m")
    void read(byte[] data) {
        try {
            CmpMessage.Request r = CmpMessage.read(data, Instant.now());
            if (r.protection() == CmpMessage.Protection.SIGNATURE) {
                var chain = r.extraCertificates();
                if (!chain.isEmpty()) {
                    CmpMessage.signatureValid(r, chain.getFirst());
                }
            } else {
                CmpMessage.macValid(r, SECRET);
            }
        } catch (CmpMessage.Failure expected) {
            // the protocol's own answer
        }
    }
}
