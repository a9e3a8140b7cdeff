package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAction;
import dev.fleetpki.core.AuditEvent;
import dev.fleetpki.core.Device;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Fingerprints;
import dev.fleetpki.core.Operator;
import dev.fleetpki.core.Passwords;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Role;
import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "operator", mixinStandardHelpOptions = true,
        description = {"Web console operators (fleetpki serve, /console): people who sign in with a password (argon2id-hashed; never "
            + "stored, shown or logged) or a registered TLS client certificate, and act with one role.",
            "Roles: admin (everything), issuer (devices, certificates, revocation, requests), approver (approve or reject requests; read), "
                + "auditor (read; the audit log), factory (the dashboard and CAs only).",
            "Five wrong passwords in a row lock an account for 15 minutes (operator unlock ends it sooner)."},
        subcommands = {OperatorCommand.Add.class, OperatorCommand.ListOperators.class, OperatorCommand.Disable.class, OperatorCommand.Enable.class,
            OperatorCommand.Password.class, OperatorCommand.Unlock.class})
final class OperatorCommand {
    /** Where a new password comes from: a file, standard input, or a prompt on the terminal (asked twice). */
    static final class PasswordSource {
        @Option(names = "--password-file", paramLabel = "FILE", description = "read the password from the first line of FILE") Path file;
        @Option(names = "--password-stdin", description = "read the password from the first line of standard input") boolean stdin;
    }

    static char[] readPassword(PasswordSource src, CommandSpec spec, boolean required) {
        char[] pw;
        if (src != null && src.file != null) {
            String text = new String(Certs.read(src.file, "password file"), StandardCharsets.UTF_8);
            pw = firstLine(text);
        } else if (src != null && src.stdin) {
            try {
                String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                pw = line == null ? new char[0] : line.toCharArray();
            } catch (IOException e) {
                throw new PkiException(ErrorKind.INTERNAL, "cannot read the password from standard input: " + e.getMessage(), e);
            }
        } else {
            Console console = System.console();
            if (console == null) {
                if (!required) {
                    return null;
                }
                throw new CommandLine.ParameterException(spec.commandLine(), "no terminal to ask for the password on; give it with "
                        + "--password-file FILE or --password-stdin");
            }
            pw = console.readPassword("New password for the console (at least %d characters): ", Passwords.MIN_LENGTH);
            char[] again = console.readPassword("Again: ");
            if (pw == null || again == null || !Arrays.equals(pw, again)) {
                Passwords.wipe(pw);
                Passwords.wipe(again);
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "the two passwords differ; nothing was changed");
            }
            Passwords.wipe(again);
        }
        String weak = Passwords.weakness(pw);
        if (weak != null) {
            Passwords.wipe(pw);
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, weak + "; nothing was changed");
        }
        return pw;
    }

    private static char[] firstLine(String text) {
        int end = text.indexOf('\n');
        String line = end < 0 ? text : text.substring(0, end);
        return (line.endsWith("\r") ? line.substring(0, line.length() - 1) : line).toCharArray();
    }

    static Role parseRole(String role) {
        Role r = TokenCommand.parseRole(role);
        if (r == Role.FIRMWARE_SIGNER) {
            throw new PkiException(ErrorKind.MALFORMED_REQUEST, "a console operator's role is admin, issuer, approver, auditor or factory; "
                    + "firmware is signed with a firmware-signer token (fleetpki token create NAME --role firmware-signer ...)");
        }
        return r;
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = {"Add a console operator. The password is asked for on the "
        + "terminal (twice) unless --password-file or --password-stdin gives it; with --client-cert the operator may also (or, without a "
        + "password, only) sign in with that TLS client certificate."})
    static final class Add implements Callable<Integer> {
        @Mixin HomeOption home;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME", description = "the operator's sign-in name, as the audit log shows it (operator:NAME)") String name;
        @Option(names = "--role", required = true, description = "admin, issuer, approver, auditor or factory") String role;
        @Option(names = "--client-cert", paramLabel = "FILE", description = "a TLS client certificate (PEM or DER) that signs this operator in") Path clientCert;
        @ArgGroup(exclusive = true) PasswordSource password;

        @Override
        public Integer call() {
            Device.checkId(name);
            Role r = parseRole(role);
            String cert = clientCert == null ? null : Fingerprints.of(Certs.readCertificate(clientCert));
            char[] pw = readPassword(password, spec, cert == null);
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                String hash = pw == null ? null : Passwords.hash(pw);
                Map<String, String> detail = new LinkedHashMap<>();
                detail.put("role", r.configName());
                detail.put("password", pw == null ? "none" : "set");
                if (cert != null) {
                    detail.put("certificateSha256", cert);
                }
                f.store().operators().addOperator(new Operator(name, r, hash, "active", 0, null, cert, now, home.actor()),
                        new AuditEvent(now, home.actor(), AuditAction.OPERATOR_ADD, "operator:" + name, detail));
                System.out.println("Operator '" + name + "' (role " + r.configName() + ") may sign in to the console"
                        + (pw == null ? " with the client certificate SHA-256 " + cert : cert == null ? " with the password"
                        : " with the password or the client certificate SHA-256 " + cert) + ".");
            } finally {
                Passwords.wipe(pw);
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List console operators (never a password or its hash).")
    static final class ListOperators implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--json", description = "one JSON object: {\"operators\": [{\"name\", \"role\", \"status\" (active, disabled or locked), "
                + "\"lockedUntil\", \"password\" (true when one is set), \"clientCertificateSha256\", \"createdBy\", \"createdAt\"}]}") boolean json;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                List<Operator> ops = f.store().operators().operators();
                if (json) {
                    List<Map<String, Object>> out = new ArrayList<>();
                    for (Operator o : ops) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("name", o.name());
                        m.put("role", o.role().configName());
                        m.put("status", o.state(now));
                        m.put("lockedUntil", o.lockedAt(now) ? o.lockedUntil().toString() : null);
                        m.put("password", o.passwordHash() != null);
                        m.put("clientCertificateSha256", o.certSha256());
                        m.put("createdBy", o.createdBy().toString());
                        m.put("createdAt", o.createdAt().toString());
                        out.add(m);
                    }
                    Certs.printJson(Map.of("operators", out));
                    return 0;
                }
                Table table = new Table("NAME", "ROLE", "STATUS", "SIGNS IN WITH", "CREATED BY", "CREATED");
                for (Operator o : ops) {
                    String with = (o.passwordHash() != null ? "password" : "") + (o.passwordHash() != null && o.certSha256() != null ? ", " : "")
                            + (o.certSha256() != null ? "cert:" + o.certSha256().substring(0, 12) : "");
                    table.row(o.name(), o.role().configName(), o.state(now) + (o.lockedAt(now) ? " until " + o.lockedUntil() : ""), with,
                            o.createdBy().toString(), o.createdAt().toString());
                }
                System.out.print(table.render());
                System.out.println(ops.size() + " operator" + (ops.size() == 1 ? "" : "s"));
            }
            return 0;
        }
    }

    @Command(name = "disable", mixinStandardHelpOptions = true, description = {"Disable an operator: their sessions end now and they "
        + "cannot sign in until enabled again.", "Disabling a disabled operator is fine."})
    static final class Disable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setStatus(home, name, "disabled", AuditAction.OPERATOR_DISABLE);
        }
    }

    @Command(name = "enable", mixinStandardHelpOptions = true, description = {"Enable a disabled operator again.", "Enabling an enabled operator is fine."})
    static final class Enable implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return setStatus(home, name, "active", AuditAction.OPERATOR_ENABLE);
        }
    }

    private static int setStatus(HomeOption home, String name, String status, AuditAction action) {
        try (Fleet f = home.open()) {
            Instant now = f.clock().instant();
            f.store().operators().setOperatorStatus(name, status, new AuditEvent(now, home.actor(), action, "operator:" + name, Map.of()));
            System.out.println("Operator '" + name + "' is " + status + (status.equals("disabled") ? "; their console sessions have ended." : "."));
        }
        return 0;
    }

    @Command(name = "password", mixinStandardHelpOptions = true, description = {"Set an operator's password anew (asked for on the terminal "
        + "unless --password-file or --password-stdin gives it). Their sessions end and a lock-out is lifted."})
    static final class Password implements Callable<Integer> {
        @Mixin HomeOption home;
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "NAME") String name;
        @ArgGroup(exclusive = true) PasswordSource password;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                if (f.store().operators().operator(name).isEmpty()) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "no console operator named '" + name + "'; list them with: fleetpki operator list");
                }
                char[] pw = readPassword(password, spec, true);
                try {
                    Instant now = f.clock().instant();
                    f.store().operators().setPassword(name, Passwords.hash(pw),
                            new AuditEvent(now, home.actor(), AuditAction.OPERATOR_PASSWORD, "operator:" + name, Map.of()));
                } finally {
                    Passwords.wipe(pw);
                }
                System.out.println("Operator '" + name + "' has a new password; their console sessions have ended.");
            }
            return 0;
        }
    }

    @Command(name = "unlock", mixinStandardHelpOptions = true, description = {"Lift a lock-out after repeated failed sign-ins now, rather "
        + "than when it runs out.", "Unlocking an operator who is not locked is fine."})
    static final class Unlock implements Callable<Integer> {
        @Mixin HomeOption home;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Instant now = f.clock().instant();
                f.store().operators().unlock(name, new AuditEvent(now, home.actor(), AuditAction.OPERATOR_UNLOCK, "operator:" + name, Map.of()));
                System.out.println("Operator '" + name + "' may sign in again.");
            }
            return 0;
        }
    }
}
