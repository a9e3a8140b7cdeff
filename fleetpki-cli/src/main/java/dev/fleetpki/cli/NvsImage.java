package dev.fleetpki.cli;

import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An ESP-IDF NVS partition image (what Espressif's nvs_partition_gen.py writes, format version 2),
 * for flashing a device's identity into its {@code nvs} partition: one namespace, string and blob
 * values. Layout (docs/factory.md): 4096-byte pages, each a 32-byte header (state, sequence number,
 * version 0xFE, CRC32 of bytes 4-27), a 32-byte entry state bitmap (2 bits an entry: 11 empty, 10
 * written) and 126 entries of 32 bytes (namespace index, type, span, chunk index, CRC32 of the
 * entry without that field, 16-byte key, 8 bytes of data). A string is a header entry (size, CRC32
 * of the data) followed by its bytes; a blob is stored as data chunks, each within one page, and a
 * blob index entry (total size, chunk count, first chunk index). Pages left over stay erased (0xFF),
 * as the NVS library needs a free page. CRC32 is zlib's with 0xFFFFFFFF as its starting value, as
 * ESP-IDF's {@code crc32_le(0xffffffff, ...)} computes it.
 */
final class NvsImage {
    static final int PAGE = 4096;
    static final int ENTRIES = 126;
    static final int ENTRY = 32;
    private static final int TYPE_U8 = 0x01;
    private static final int TYPE_SZ = 0x21;
    private static final int TYPE_BLOB_DATA = 0x42;
    private static final int TYPE_BLOB_INDEX = 0x48;
    private static final int STATE_ACTIVE = 0xFFFFFFFE;
    private static final int STATE_FULL = 0xFFFFFFFC;
    private static final int[] TABLE = new int[256];

    static {
        for (int n = 0; n < 256; n++) {
            int c = n;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
            }
            TABLE[n] = c;
        }
    }

    private final String namespace;
    private final Map<String, Object> values = new LinkedHashMap<>();

    NvsImage(String namespace) {
        checkKey(namespace, "namespace");
        this.namespace = namespace;
    }

    NvsImage string(String key, String value) {
        checkKey(key, "key");
        byte[] b = (value + "\0").getBytes(StandardCharsets.UTF_8);
        if (b.length > 4000) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "NVS strings hold at most 4000 bytes; '" + key + "' has " + b.length);
        }
        put(key, value);
        return this;
    }

    NvsImage blob(String key, byte[] value) {
        checkKey(key, "key");
        put(key, value.clone());
        return this;
    }

    private void put(String key, Object v) {
        if (values.putIfAbsent(key, v) != null) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "NVS key '" + key + "' is given twice");
        }
    }

    private static void checkKey(String key, String what) {
        if (key == null || key.isEmpty() || key.length() > 15 || !StandardCharsets.US_ASCII.newEncoder().canEncode(key)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an NVS " + what + " is 1 to 15 ASCII characters, not '" + key + "'");
        }
    }

    /** The partition image of {@code size} bytes (a multiple of 4096, at least 3 pages). */
    byte[] build(int size) {
        if (size % PAGE != 0 || size < 3 * PAGE) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "an NVS partition is a multiple of 4096 bytes and at least 0x3000; not " + size);
        }
        Writer w = new Writer(size / PAGE);
        w.entry(0, TYPE_U8, 1, 0xFF, namespace, new byte[] {1}); // namespace entry: namespace 0, value = the namespace's index
        for (var e : values.entrySet()) {
            if (e.getValue() instanceof String s) {
                byte[] data = (s + "\0").getBytes(StandardCharsets.UTF_8);
                w.variable(TYPE_SZ, 0xFF, e.getKey(), data);
            } else {
                w.blob(e.getKey(), (byte[]) e.getValue());
            }
        }
        // a free page must stay for the NVS library to work in
        if (w.page >= w.pages - 1) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the values do not fit in an NVS partition of " + size + " bytes with a page "
                    + "left free; give a larger --nvs-size");
        }
        return w.finish();
    }

    /** Lays out entries page by page. */
    private static final class Writer {
        final int pages;
        final byte[] image;
        int page = 0;
        int slot = 0;

        Writer(int pages) {
            this.pages = pages;
            this.image = new byte[pages * PAGE];
            Arrays.fill(image, (byte) 0xFF);
            header(0, STATE_ACTIVE);
        }

        private void header(int p, int state) {
            ByteBuffer b = ByteBuffer.wrap(image, p * PAGE, 32).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(state);
            b.putInt(p); // sequence number
            b.put((byte) 0xFE); // format version 2 (multi-page blobs)
            // bytes 9..27 stay 0xFF; the CRC covers bytes 4..27
            ByteBuffer.wrap(image, p * PAGE + 28, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(crc(image, p * PAGE + 4, 24));
        }

        private int free() {
            return ENTRIES - slot;
        }

        private void nextPage() {
            if (page + 1 >= pages) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the values do not fit in the NVS partition; give a larger --nvs-size");
            }
            ByteBuffer.wrap(image, page * PAGE, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(STATE_FULL);
            page++;
            slot = 0;
            header(page, STATE_ACTIVE);
        }

        /** Writes one entry on this page, or on the next when this one is full. */
        void entry(int ns, int type, int span, int chunk, String key, byte[] data) {
            if (free() < 1) {
                nextPage();
            }
            write(ns, type, span, chunk, key, data);
        }

        /** Writes an entry in the next slot of this page and marks it written; data is padded with 0xFF to 8 bytes. */
        private void write(int ns, int type, int span, int chunk, String key, byte[] data) {
            int at = page * PAGE + 64 + slot * ENTRY;
            image[at] = (byte) ns;
            image[at + 1] = (byte) type;
            image[at + 2] = (byte) span;
            image[at + 3] = (byte) chunk;
            Arrays.fill(image, at + 8, at + 24, (byte) 0);
            byte[] k = key.getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(k, 0, image, at + 8, k.length);
            Arrays.fill(image, at + 24, at + 32, (byte) 0xFF);
            System.arraycopy(data, 0, image, at + 24, Math.min(8, data.length));
            byte[] covered = new byte[28]; // the entry without its CRC field
            System.arraycopy(image, at, covered, 0, 4);
            System.arraycopy(image, at + 8, covered, 4, 24);
            ByteBuffer.wrap(image, at + 4, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(crc(covered, 0, 28));
            markWritten(slot);
            slot++;
        }

        private void markWritten(int s) {
            int bit = s * 2;
            int at = page * PAGE + 32 + bit / 8;
            image[at] &= (byte) ~(1 << (bit % 8)); // 11 (empty) -> 10 (written): the low bit of the pair cleared
        }

        /** A string or a blob data chunk: its header entry (size, CRC32 of the bytes), then its bytes in the entries after it, on one page. */
        void variable(int type, int chunk, String key, byte[] data) {
            int span = 1 + (data.length + ENTRY - 1) / ENTRY;
            if (span > free()) {
                nextPage();
            }
            if (span > free()) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + key + "' (" + data.length + " bytes) does not fit in one NVS page");
            }
            ByteBuffer d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            d.putShort((short) data.length);
            d.putShort((short) 0xFFFF);
            d.putInt(crc(data, 0, data.length));
            write(1, type, span, chunk, key, d.array());
            int off = 0;
            for (int i = 1; i < span; i++) {
                int dst = page * PAGE + 64 + slot * ENTRY;
                int n = Math.min(ENTRY, data.length - off);
                System.arraycopy(data, off, image, dst, n); // the rest of the last entry stays 0xFF
                off += n;
                markWritten(slot);
                slot++;
            }
        }

        /** A blob: data chunks that each fit in what is left of a page, then the index entry. */
        void blob(String key, byte[] data) {
            int chunks = 0;
            int off = 0;
            int chunkIndex = 0;
            do {
                if (free() < 2) {
                    nextPage();
                }
                int room = (free() - 1) * ENTRY;
                int n = Math.min(room, data.length - off);
                byte[] part = Arrays.copyOfRange(data, off, off + n);
                variable(TYPE_BLOB_DATA, chunkIndex, key, part);
                chunks++;
                off += n;
                chunkIndex++;
                if (chunkIndex > 127) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "'" + key + "' needs more than 127 NVS chunks");
                }
            } while (off < data.length);
            ByteBuffer d = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            d.putInt(data.length);
            d.put((byte) chunks);
            d.put((byte) 0); // chunk start: version 0
            d.putShort((short) 0xFFFF);
            entry(1, TYPE_BLOB_INDEX, 1, 0xFF, key, d.array());
        }

        byte[] finish() {
            return image;
        }
    }

    /** The size of an ESP-IDF {@code nvs_keys} partition image, and of the two XTS keys at its start. */
    static final int KEYS_PARTITION = 4096;
    static final int KEYS = 64;

    /**
     * An {@code nvs_keys} partition image, as nvs_partition_gen.py's {@code generate-key} writes it:
     * the XTS encryption key (32 bytes), the XTS tweak key (32 bytes), the CRC32 of those 64 bytes
     * (little-endian), and 0xFF to 4096 bytes.
     */
    static byte[] keysPartition(byte[] keys) {
        if (keys.length != KEYS) {
            throw new IllegalArgumentException("two 32-byte keys");
        }
        byte[] part = new byte[KEYS_PARTITION];
        Arrays.fill(part, (byte) 0xFF);
        System.arraycopy(keys, 0, part, 0, KEYS);
        ByteBuffer.wrap(part, KEYS, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(crc(keys, 0, KEYS));
        return part;
    }

    /** The two XTS keys of an {@code nvs_keys} partition image, its CRC32 checked. */
    static byte[] keysOf(byte[] part, String where) {
        if (part.length < KEYS + 4 || ByteBuffer.wrap(part, KEYS, 4).order(ByteOrder.LITTLE_ENDIAN).getInt() != crc(part, 0, KEYS)) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, where + " is not an nvs_keys partition image (two 32-byte XTS keys and "
                    + "their CRC32, as nvs_partition_gen.py generate-key writes)");
        }
        return Arrays.copyOf(part, KEYS);
    }

    /**
     * NVS encryption (ESP-IDF's {@code CONFIG_NVS_ENCRYPTION}, nvs_partition_gen.py {@code encrypt}):
     * every written entry (32 bytes) is encrypted on its own with AES-256-XTS, the encryption key
     * the first 32 bytes of {@code keys} and the tweak key the last 32, the tweak the entry's offset
     * in the partition as a 16-byte little-endian number. Page headers, entry state bitmaps and
     * empty entries stay in the clear; the CRCs are those of the plain entries.
     */
    static byte[] encrypt(byte[] image, byte[] keys) {
        try {
            javax.crypto.Cipher data = javax.crypto.Cipher.getInstance("AES/ECB/NoPadding");
            data.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(keys, 0, 32, "AES"));
            javax.crypto.Cipher tweak = javax.crypto.Cipher.getInstance("AES/ECB/NoPadding");
            tweak.init(javax.crypto.Cipher.ENCRYPT_MODE, new javax.crypto.spec.SecretKeySpec(keys, 32, 32, "AES"));
            byte[] out = image.clone();
            for (int p = 0; p < image.length / PAGE; p++) {
                for (int s = 0; s < ENTRIES; s++) {
                    int bit = s * 2;
                    int state = (image[p * PAGE + 32 + bit / 8] >> (bit % 8)) & 3;
                    if (state == 3) {
                        continue; // empty: left erased
                    }
                    int at = p * PAGE + 64 + s * ENTRY;
                    byte[] t = new byte[16];
                    ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN).putLong(at);
                    t = tweak.doFinal(t);
                    for (int block = 0; block < 2; block++) {
                        byte[] x = new byte[16];
                        for (int i = 0; i < 16; i++) {
                            x[i] = (byte) (image[at + block * 16 + i] ^ t[i]);
                        }
                        x = data.doFinal(x);
                        for (int i = 0; i < 16; i++) {
                            out[at + block * 16 + i] = (byte) (x[i] ^ t[i]);
                        }
                        t = timesAlpha(t);
                    }
                }
            }
            return out;
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("AES is part of every JDK", e);
        }
    }

    /** The next XTS tweak: multiplied by x in GF(2^128), little-endian (IEEE 1619). */
    private static byte[] timesAlpha(byte[] t) {
        byte[] r = new byte[16];
        int carry = 0;
        for (int i = 0; i < 16; i++) {
            int b = t[i] & 0xFF;
            r[i] = (byte) ((b << 1) | carry);
            carry = b >>> 7;
        }
        if (carry != 0) {
            r[0] ^= (byte) 0x87;
        }
        return r;
    }

    /** zlib's CRC32 with a starting value of 0xFFFFFFFF (ESP-IDF's crc32_le(0xffffffff, ...)). */
    static int crc(byte[] b, int off, int len) {
        int c = 0; // ~0xFFFFFFFF
        for (int i = off; i < off + len; i++) {
            c = TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
        }
        return ~c;
    }
}
