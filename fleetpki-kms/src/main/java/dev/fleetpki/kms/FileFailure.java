package dev.fleetpki.kms;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A file could not be read or written. The message names the file and the operating system's
 * reason in words ({@code cannot read se-0044.pub: no such file}), never a Java exception; the CLI
 * exits 66 for a file it could not read and 73 for one it could not write.
 */
public final class FileFailure extends KeyStoreFailure {
    private final boolean write;

    private FileFailure(String message, boolean write, Throwable cause) {
        super(message, cause);
        this.write = write;
    }

    /** A file that could not be read; {@code what} says what it should have held ("CSR", "certificate"). */
    public static FileFailure read(String what, Path file, IOException e) {
        return new FileFailure("cannot read " + (what == null ? "" : what + " ") + file + ": " + reason(e), false, e);
    }

    /** A file (or the folder it goes in) that could not be written. */
    public static FileFailure write(Path file, IOException e) {
        return new FileFailure("cannot write " + file + ": " + reason(e), true, e);
    }

    public boolean write() {
        return write;
    }

    /** The operating system's reason in a few words. */
    public static String reason(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or folder";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NotDirectoryException) {
            return "a part of the path is a file, not a folder";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "it exists already";
        }
        if (e instanceof DirectoryNotEmptyException) {
            return "the folder is not empty";
        }
        String r = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : e.getMessage();
        if (r == null) {
            return "input/output error";
        }
        String lower = r.toLowerCase(Locale.ROOT);
        if (lower.contains("is a directory")) {
            return "it is a folder";
        }
        if (lower.contains("not a directory")) {
            return "a part of the path is a file, not a folder";
        }
        if (lower.contains("no space left")) {
            return "no space left on the device";
        }
        if (lower.contains("read-only file system")) {
            return "the file system is read-only";
        }
        return lower;
    }
}
