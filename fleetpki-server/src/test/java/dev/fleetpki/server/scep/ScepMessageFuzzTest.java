package dev.fleetpki.server.scep;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Fuzzes SCEP's message reader: whatever bytes arrive, {@code ScepMessage.read} returns a request
 * or throws its {@link ScepMessage.Failure}; any other exception, a hang or an out-of-memory is a
 * finding. {@code scripts/fuzz} runs it coverage-guided (JAZZER_FUZZ=1); a plain test run replays
 * the corpus in {@code src/test/resources/dev/fleetpki/server/scep/ScepMessageFuzzTestInputs/read},
 * where every finding is kept as a regression input.
 */
class ScepMessageFuzzTest {
    private static KeyPair raKey;
    private static X509Certificate ra;

    private static synchronized void init() throws Exception {
        if (raKey == null) {
            raKey = ScepMessageTest.rsa();
            ra = ScepMessageTest.selfSigned("CN=fuzz RA", raKey.getPublic(), new JcaContentSignerBuilder("SHA256withRSA").build(raKey.getPrivate()));
        }
    }

    @FuzzTest(maxDuration = "5m")
    void read(byte[] data) throws Exception {
        init();
        try {
            ScepMessage.read(data, ra, raKey.getPrivate(), null);
        } catch (ScepMessage.Failure expected) {
            // the protocol's own answer
        }
    }
}
