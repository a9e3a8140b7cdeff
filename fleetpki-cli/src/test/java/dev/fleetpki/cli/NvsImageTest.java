package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.fleetpki.core.PkiException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * NVS partition images read back by {@link NvsReader}, written from Espressif's documentation of
 * the format rather than from the writer: strings and blobs, a blob over several pages, a
 * corrupted byte caught, and values that do not fit refused.
 */
class NvsImageTest {
    @Test
    void theCrcIsZlibsStartedAtAllOnes() {
        byte[] data = "123456789".getBytes(StandardCharsets.US_ASCII);
        // zlib.crc32(data, 0xFFFFFFFF) relates to the standard CRC-32 (Java's, 0xCBF43926 for "123456789") as follows:
        // both run the same register; one starts from 0, the other from 0xFFFFFFFF, and both invert at the end
        CRC32 standard = new CRC32();
        standard.update(data);
        assertThat(standard.getValue()).isEqualTo(0xCBF43926L);
        assertThat(NvsReader.crc(data, 0, data.length)).isEqualTo(NvsImage.crc(data, 0, data.length) & 0xFFFFFFFFL);
        assertThat(NvsReader.crc(data, 0, data.length)).isNotEqualTo(standard.getValue());
        // the values Python's zlib.crc32(data, 0xFFFFFFFF) gives, as nvs_partition_gen.py computes them
        assertThat(NvsReader.crc(data, 0, data.length)).isEqualTo(0xD202D277L);
        assertThat(NvsReader.crc(new byte[0], 0, 0)).as("nothing: the start value itself").isEqualTo(0xFFFFFFFFL);
    }

    @Test
    void stringsAndBlobsComeBackEntryByEntry() {
        byte[] big = new byte[9000];
        new Random(7).nextBytes(big);
        String pem = "-----BEGIN CERTIFICATE-----\nMIIB" + "A".repeat(700) + "\n-----END CERTIFICATE-----\n";
        byte[] image = new NvsImage("fleetpki").string("device_id", "esp-0001").blob("cert", (pem + "\0").getBytes(StandardCharsets.US_ASCII))
                .blob("big", big).blob("empty", new byte[0]).build(0x6000);
        assertThat(image).hasSize(0x6000);
        NvsReader r = NvsReader.read(image);
        assertThat(r.values).containsOnlyKeys("fleetpki");
        assertThat(r.values.get("fleetpki").get("device_id")).isEqualTo("esp-0001");
        assertThat(new String((byte[]) r.values.get("fleetpki").get("cert"), StandardCharsets.US_ASCII)).isEqualTo(pem + "\0");
        assertThat((byte[]) r.values.get("fleetpki").get("big")).isEqualTo(big);
        assertThat((byte[]) r.values.get("fleetpki").get("empty")).isEmpty();
        assertThat(r.pagesUsed).as("a 9000-byte blob spans three pages").isGreaterThanOrEqualTo(3).isLessThan(6);

        byte[] bad = image.clone();
        bad[4096 + 64 + 5 * 32 + 3] ^= 1; // a byte inside an entry of the second page
        assertThatThrownBy(() -> NvsReader.read(bad)).isInstanceOf(IllegalStateException.class).hasMessageContaining("does not match");
    }

    @Test
    void whatDoesNotFitIsRefused() {
        assertThatThrownBy(() -> new NvsImage("fleetpki").blob("big", new byte[20_000]).build(0x6000)).isInstanceOf(PkiException.class)
                .hasMessageContaining("--nvs-size");
        assertThatThrownBy(() -> new NvsImage("a-namespace-too-long")).isInstanceOf(PkiException.class).hasMessageContaining("1 to 15");
        assertThatThrownBy(() -> new NvsImage("fleetpki").string("k", "v").build(0x2000)).isInstanceOf(PkiException.class)
                .hasMessageContaining("0x3000");
    }
}
