package dev.fleetpki.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs the real CLI in-process, capturing what it prints. Tests using it must not run in parallel. */
public final class Cli {
    public record Result(int exit, String out, String err) {
        public String all() {
            return out + err;
        }
    }

    private Cli() {}

    public static synchronized Result run(Path home, String... args) {
        List<String> a = new ArrayList<>(List.of(args));
        if (home != null) {
            a.add("--home");
            a.add(home.toString());
        }
        return capture(() -> Main.run(a.toArray(new String[0])));
    }

    /**
     * Runs the CLI on {@code home} in a child JVM with this environment (SoftHSM2 reads
     * SOFTHSM2_CONF from it, so token work cannot run in-process); asserts it exits 0 and returns
     * what it printed.
     */
    public static String inChildJvm(Path home, Map<String, String> env, String... args) {
        List<String> cmd = Proc.java(List.of("--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED"), Main.class, args);
        cmd.addAll(List.of("--home", home.toString()));
        Proc.Result r = Proc.run(home, env, cmd.toArray(new String[0]));
        assertThat(r.exit()).as(String.join(" ", args) + "\n" + r.output()).isZero();
        return r.output();
    }

    /** Runs a command's entry point in-process (fleetpki or fleetpki-device), capturing what it prints. */
    public static synchronized Result capture(java.util.function.IntSupplier command) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = command.getAsInt();
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
