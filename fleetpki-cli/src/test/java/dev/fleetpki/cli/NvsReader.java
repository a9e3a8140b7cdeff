package dev.fleetpki.cli;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads an ESP-IDF NVS partition image as Espressif's "NVS internals" documentation describes the
 * format, written for the tests without looking at {@link NvsImage}: every page header's and
 * entry's CRC32 checked, entries taken only where the state bitmap says "written", strings and
 * blob chunks checked against their data CRC32, blobs put together from their index. Anything
 * that does not hold is an {@link IllegalStateException} saying where.
 */
final class NvsReader {
    /** namespace -> key -> String or byte[] */
    final Map<String, Map<String, Object>> values = new LinkedHashMap<>();
    int pagesUsed;

    static NvsReader read(byte[] image) {
        NvsReader r = new NvsReader();
        r.parse(image);
        return r;
    }

    private static long u32(byte[] b, int at) {
        return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
    }

    /** CRC-32 (reflected, polynomial 0xEDB88320) as zlib.crc32(data, 0xFFFFFFFF) computes it, bit by bit. */
    static long crc(byte[] b, int from, int to) {
        long c = 0xFFFFFFFFL ^ 0xFFFFFFFFL;
        for (int i = from; i < to; i++) {
            c ^= b[i] & 0xFF;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) == 1 ? (c >>> 1) ^ 0xEDB88320L : c >>> 1;
            }
        }
        return c ^ 0xFFFFFFFFL;
    }

    private void parse(byte[] img) {
        if (img.length % 4096 != 0) {
            throw new IllegalStateException("not a whole number of 4096-byte pages");
        }
        Map<Integer, String> namespaces = new LinkedHashMap<>();
        record Chunk(int ns, String key, int index) {}
        Map<Chunk, byte[]> chunks = new LinkedHashMap<>();
        record Index(int ns, String key, long size, int count, int start) {}
        java.util.List<Index> indexes = new java.util.ArrayList<>();
        Map<Long, Integer> seqs = new TreeMap<>();
        for (int p = 0; p < img.length / 4096; p++) {
            int base = p * 4096;
            long state = u32(img, base);
            if (state == 0xFFFFFFFFL) {
                continue; // an erased page
            }
            if (state != 0xFFFFFFFEL && state != 0xFFFFFFFCL) {
                throw new IllegalStateException("page " + p + ": state " + Long.toHexString(state) + " is neither active nor full");
            }
            pagesUsed++;
            if (crc(img, base + 4, base + 28) != u32(img, base + 28)) {
                throw new IllegalStateException("page " + p + ": header CRC32 does not match");
            }
            if ((img[base + 8] & 0xFF) != 0xFE) {
                throw new IllegalStateException("page " + p + ": version " + (img[base + 8] & 0xFF) + ", not 0xfe (version 2)");
            }
            seqs.put(u32(img, base + 4), p);
            int e = 0;
            while (e < 126) {
                int stateBits = (img[base + 32 + e / 4] >> ((e % 4) * 2)) & 3;
                if (stateBits != 2) {
                    e++;
                    continue;
                }
                int at = base + 64 + e * 32;
                byte[] forCrc = new byte[28];
                System.arraycopy(img, at, forCrc, 0, 4);
                System.arraycopy(img, at + 8, forCrc, 4, 24);
                if (crc(forCrc, 0, 28) != u32(img, at + 4)) {
                    throw new IllegalStateException("page " + p + " entry " + e + ": CRC32 does not match");
                }
                int ns = img[at] & 0xFF;
                int type = img[at + 1] & 0xFF;
                int span = img[at + 2] & 0xFF;
                int chunkIndex = img[at + 3] & 0xFF;
                int keyEnd = at + 8;
                while (keyEnd < at + 24 && img[keyEnd] != 0) {
                    keyEnd++;
                }
                String key = new String(img, at + 8, keyEnd - at - 8, StandardCharsets.US_ASCII);
                if (span < 1 || e + span > 126) {
                    throw new IllegalStateException("page " + p + " entry " + e + ": span " + span + " runs past the page");
                }
                if (ns == 0) {
                    namespaces.put(img[at + 24] & 0xFF, key);
                } else if (type == 0x21 || type == 0x42) {
                    int size = u16(img, at + 24);
                    ByteArrayOutputStream data = new ByteArrayOutputStream();
                    for (int k = 1; k < span; k++) {
                        if (((img[base + 32 + (e + k) / 4] >> (((e + k) % 4) * 2)) & 3) != 2) {
                            throw new IllegalStateException("page " + p + " entry " + (e + k) + ": part of '" + key + "' is not marked written");
                        }
                        data.write(img, base + 64 + (e + k) * 32, 32);
                    }
                    byte[] bytes = java.util.Arrays.copyOf(data.toByteArray(), size);
                    if (size > (span - 1) * 32 || crc(bytes, 0, size) != u32(img, at + 28)) {
                        throw new IllegalStateException("'" + key + "': data CRC32 or size does not match");
                    }
                    if (type == 0x21) {
                        if (size == 0 || bytes[size - 1] != 0) {
                            throw new IllegalStateException("string '" + key + "' is not NUL-terminated");
                        }
                        values.computeIfAbsent(String.valueOf(ns), x -> new LinkedHashMap<>())
                                .put(key, new String(bytes, 0, size - 1, StandardCharsets.UTF_8));
                    } else {
                        chunks.put(new Chunk(ns, key, chunkIndex), bytes);
                    }
                } else if (type == 0x48) {
                    indexes.add(new Index(ns, key, u32(img, at + 24), img[at + 28] & 0xFF, img[at + 29] & 0xFF));
                } else {
                    throw new IllegalStateException("'" + key + "': type " + Integer.toHexString(type) + " is not expected here");
                }
                e += span;
            }
        }
        int seq = 0;
        for (long s : seqs.keySet()) {
            if (s != seq++) {
                throw new IllegalStateException("page sequence numbers are not 0, 1, 2...: " + seqs.keySet());
            }
        }
        for (Index ix : indexes) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (int i = ix.start(); i < ix.start() + ix.count(); i++) {
                byte[] part = chunks.remove(new Chunk(ix.ns(), ix.key(), i));
                if (part == null) {
                    throw new IllegalStateException("blob '" + ix.key() + "': chunk " + i + " is missing");
                }
                all.writeBytes(part);
            }
            if (all.size() != ix.size()) {
                throw new IllegalStateException("blob '" + ix.key() + "': " + all.size() + " bytes where the index says " + ix.size());
            }
            values.computeIfAbsent(String.valueOf(ix.ns()), x -> new LinkedHashMap<>()).put(ix.key(), all.toByteArray());
        }
        if (!chunks.isEmpty()) {
            throw new IllegalStateException("blob chunks without an index: " + chunks.keySet());
        }
        // name the namespaces
        Map<String, Map<String, Object>> named = new LinkedHashMap<>();
        values.forEach((ns, m) -> {
            String name = namespaces.get(Integer.parseInt(ns));
            if (name == null) {
                throw new IllegalStateException("values in namespace index " + ns + ", which no namespace entry names");
            }
            named.put(name, m);
        });
        values.clear();
        values.putAll(named);
    }
}
