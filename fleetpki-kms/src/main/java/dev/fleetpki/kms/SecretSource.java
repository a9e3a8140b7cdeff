package dev.fleetpki.kms;

import java.io.Console;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a passphrase or PIN comes from: {@code env:NAME}, {@code file:PATH} or {@code prompt}.
 * Never a literal on the command line (it would land in shell history and {@code ps}).
 */
public sealed interface SecretSource {
    record Env(String name) implements SecretSource {}
    record File(Path path) implements SecretSource {}
    record Prompt(String label) implements SecretSource {}

    static SecretSource parse(String text, Path base) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty secret source; write env:NAME, file:PATH or prompt");
        }
        String t = text.trim();
        if (t.startsWith("env:") && t.length() > 4) {
            return new Env(t.substring(4));
        }
        if (t.startsWith("file:") && t.length() > 5) {
            Path p = Path.of(t.substring(5));
            return new File(p.isAbsolute() || base == null ? p : base.resolve(p));
        }
        if (t.equals("prompt")) {
            return new Prompt("passphrase");
        }
        throw new IllegalArgumentException("the secret source is not env:NAME, file:PATH or prompt (its value is not shown); "
                + "secrets are never written inline");
    }

    /** Reads the secret; the message on failure names the source, never the value. */
    default char[] read() {
        return switch (this) {
            case Env e -> {
                String v = System.getenv(e.name());
                if (v == null || v.isEmpty()) {
                    throw new KeyStoreFailure("environment variable " + e.name() + " is not set; export it with the passphrase");
                }
                yield v.toCharArray();
            }
            case File f -> {
                try {
                    String v = Files.readString(f.path(), StandardCharsets.UTF_8).strip();
                    if (v.isEmpty()) {
                        throw new KeyStoreFailure("secret file " + f.path() + " is empty");
                    }
                    yield v.toCharArray();
                } catch (IOException ex) {
                    throw new KeyStoreFailure("cannot read secret file " + f.path() + ": " + ex.getMessage(), ex);
                }
            }
            case Prompt p -> {
                Console c = System.console();
                if (c == null) {
                    throw new KeyStoreFailure("a " + p.label() + " prompt needs a terminal; use env:NAME or file:PATH instead");
                }
                char[] v = c.readPassword("%s: ", p.label());
                if (v == null || v.length == 0) {
                    throw new KeyStoreFailure("no " + p.label() + " entered");
                }
                yield v;
            }
        };
    }

    default String describe() {
        return switch (this) {
            case Env e -> "env:" + e.name();
            case File f -> "file:" + f.path();
            case Prompt p -> "prompt";
        };
    }
}
