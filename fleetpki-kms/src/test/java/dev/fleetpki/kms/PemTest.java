package dev.fleetpki.kms;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.util.Random;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;
import org.junit.jupiter.api.Test;

/** {@link Pem#encode} writes what BouncyCastle's PemWriter writes, for every length around the line breaks. */
class PemTest {
    @Test
    void encodesAsBouncyCastlesPemWriter() throws Exception {
        Random r = new Random(7);
        for (int n = 0; n < 400; n++) {
            byte[] der = new byte[n];
            r.nextBytes(der);
            StringWriter sw = new StringWriter();
            try (PemWriter w = new PemWriter(sw)) {
                w.writeObject(new PemObject("CERTIFICATE", der));
            }
            assertThat(Pem.encode("CERTIFICATE", der)).as("%d bytes", n).isEqualTo(sw.toString());
        }
    }
}
