package dev.fleetpki.kms;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/** PEM text and careful file writes (owner-only, atomic, never half-written). */
public final class Pem {
    private Pem() {}

    public static String encode(String type, byte[] der) {
        // RFC 7468: base64 in lines of 64 characters between the BEGIN and END lines (as BouncyCastle's PemWriter
        // writes it, without its 8 KiB buffer per call: a factory batch encodes a certificate per device)
        String body = der.length == 0 ? "" : LINES.encodeToString(der) + "\n";
        return "-----BEGIN " + type + "-----\n" + body + "-----END " + type + "-----\n";
    }

    private static final java.util.Base64.Encoder LINES = java.util.Base64.getMimeEncoder(64, new byte[] {'\n'});

    /** Writes a secret file with mode 0600 through a temporary file and an atomic rename. */
    public static void writePrivateFile(Path file, byte[] content) {
        writeAtomically(file, content, true);
    }

    /** Writes a public file (certificates, bundles) atomically. */
    public static void writePublicFile(Path file, byte[] content) {
        writeAtomically(file, content, false);
    }

    private static void writeAtomically(Path file, byte[] content, boolean secret) {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = secret
                    ? Files.createTempFile(dir, ".tmp-", ".part", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
                    : Files.createTempFile(dir, ".tmp-", ".part");
            Files.write(tmp, content);
            try (var ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            if (!secret) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file);
            }
            tmp = null;
        } catch (IOException e) {
            throw FileFailure.write(file, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the temporary file never held a finished key
                }
            }
        }
    }
}
