package dev.fleetpki.cli;

import dev.fleetpki.core.AuditAnchor;
import dev.fleetpki.core.AuditVerification;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.PkiException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "audit", mixinStandardHelpOptions = true, description = {"The hash-chained audit log, anchored outside the database.",
    "The chain shows an edited or deleted event; signed checkpoints of its head (audit/checkpoints in the CA home, signed with "
        + "the audit key keys/audit.p8, which the database never holds) show a chain rewritten by someone who could write the "
        + "database. fleetpki serve writes a checkpoint every minute the log moved; 'audit checkpoint' writes one now."},
        subcommands = {AuditCommand.Verify.class, AuditCommand.Checkpoint.class, AuditCommand.Head.class, AuditCommand.ListEvents.class})
final class AuditCommand {
    /** The chain recomputed and the signed checkpoints checked against it, with every problem of both. */
    record Checked(AuditVerification chain, AuditAnchor.Result anchored, List<String> problems) {}

    /** What audit verify and restore both check: the hash chain, then the signed checkpoints against it. */
    static Checked check(Fleet f) {
        AuditVerification v = f.store().auditLog().verifyAudit();
        AuditAnchor.Result anchored = f.auditAnchor().check(f.store().auditLog()::auditHashAt);
        List<String> problems = new ArrayList<>(v.problems());
        problems.addAll(anchored.problems());
        return new Checked(v, anchored, List.copyOf(problems));
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Recompute the hash chain, check every signed checkpoint against it, and (with --expect-head) an event "
                + "recorded elsewhere; report any edited, deleted or rewritten event (exit 65 when broken)."})
    static final class Verify implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--expect-head", paramLabel = "FILE",
                description = "a file with 'SEQ HASH' as 'fleetpki audit head' printed it earlier: the chain must still have that hash at SEQ")
        Path expectHead;
        @Option(names = "--json", description = "one JSON object: {\"intact\", \"events\", \"head\", \"checkpoints\", \"problems\": [...]} "
                + "(exit 65 when not intact, as without it)") boolean json;

        @Override
        public Integer call() throws Exception {
            String[] expected = expectHead == null ? null : readHead(expectHead);
            try (Fleet f = home.open()) {
                Checked checked = check(f);
                AuditVerification v = checked.chain();
                AuditAnchor.Result anchored = checked.anchored();
                List<String> problems = new ArrayList<>(checked.problems());
                if (expected != null) {
                    long seq = Long.parseLong(expected[0]);
                    String now = f.store().auditLog().auditHashAt(seq).orElse(null);
                    if (now == null) {
                        problems.add("event " + seq + " named in " + expectHead + " is no longer in the log (deleted)");
                    } else if (!now.equals(expected[1])) {
                        problems.add("event " + seq + " no longer has the hash recorded in " + expectHead + ": the chain up to it was rewritten");
                    }
                }
                if (json) {
                    java.util.Map<String, Object> out = new java.util.LinkedHashMap<>();
                    out.put("intact", problems.isEmpty());
                    out.put("events", v.events());
                    out.put("head", v.headHash());
                    out.put("checkpoints", anchored.checkpoints());
                    out.put("problems", problems);
                    Certs.printJson(out);
                    return problems.isEmpty() ? 0 : 65;
                }
                if (problems.isEmpty()) {
                    System.out.println("Audit log intact: " + v.events() + " events, head " + v.headHash() + "; " + anchored.checkpoints()
                            + " signed checkpoint" + (anchored.checkpoints() == 1 ? "" : "s") + " match"
                            + (expected == null ? "" : "; event " + expected[0] + " as recorded in " + expectHead));
                    if (anchored.checkpoints() == 0) {
                        System.out.println("  (no checkpoints yet: a rewritten chain cannot be told from an intact one; "
                                + "run fleetpki audit checkpoint, or let fleetpki serve write them)");
                    }
                    return 0;
                }
                System.err.println("Audit log BROKEN (" + v.events() + " events, " + anchored.checkpoints() + " checkpoints checked):");
                problems.forEach(p -> System.err.println("  - " + p));
                return 65;
            }
        }

        private static String[] readHead(Path file) {
            try {
                String[] p = Files.readString(file).trim().split("\\s+");
                if (p.length != 2 || !p[0].matches("\\d+") || !p[1].matches("[0-9a-f]{64}")) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " does not hold 'SEQ HASH' as fleetpki audit head prints it");
                }
                return p;
            } catch (IOException e) {
                throw new PkiException(ErrorKind.NOT_FOUND, "cannot read " + file + ": " + e.getMessage());
            }
        }
    }

    @Command(name = "checkpoint", mixinStandardHelpOptions = true,
            description = "Sign the chain's head with the audit key now and append it to audit/checkpoints (the key is made on first use).")
    static final class Checkpoint implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Map.Entry<Long, String> head = f.store().auditLog().auditHead();
                AuditAnchor.Checkpoint c = f.auditAnchor().checkpoint(head.getKey(), head.getValue(), f.clock().instant());
                System.out.println("Checkpoint: event " + c.seq() + ", hash " + c.hash() + ", signed " + c.at() + " (" + AuditAnchor.CHECKPOINTS_FILE + ")");
            }
            return 0;
        }
    }

    @Command(name = "head", mixinStandardHelpOptions = true,
            description = "Print the chain's head as 'SEQ HASH', to keep somewhere the database's writers cannot reach (audit verify --expect-head).")
    static final class Head implements Callable<Integer> {
        @Mixin HomeOption home;

        @Override
        public Integer call() {
            try (Fleet f = home.open()) {
                Map.Entry<Long, String> head = f.store().auditLog().auditHead();
                System.out.println(head.getKey() + " " + head.getValue());
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the newest audit events.")
    static final class ListEvents implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--last", defaultValue = "20", description = "how many of the newest events, 1 to 100000 (default: ${DEFAULT-VALUE})") int last;
        @Option(names = "--json", description = "one JSON object: {\"events\": [{\"seq\", \"at\", \"actor\", \"action\", \"target\", \"detail\": {...}}]}, "
                + "oldest first") boolean json;

        @Override
        public Integer call() throws Exception {
            if (last < 1 || last > 100_000) {
                throw new dev.fleetpki.core.PkiException(dev.fleetpki.core.ErrorKind.MALFORMED_REQUEST, "--last must be 1 to 100000");
            }
            try (Fleet f = home.open()) {
                var events = f.store().auditLog().auditTail(last);
                if (json) {
                    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
                    java.util.List<Object> out = new java.util.ArrayList<>();
                    for (var e : events) {
                        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                        m.put("seq", e.get("seq"));
                        m.put("at", e.get("at").toString());
                        m.put("actor", e.get("actor"));
                        m.put("action", e.get("action"));
                        m.put("target", e.get("target"));
                        m.put("detail", mapper.readTree((String) e.get("detail")));
                        out.add(m);
                    }
                    Certs.printJson(java.util.Map.of("events", out));
                    return 0;
                }
                Table t = new Table("SEQ", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL");
                for (var e : events) {
                    t.row(e.get("seq").toString(), e.get("at").toString(), e.get("actor").toString(), e.get("action").toString(),
                            e.get("target").toString(), e.get("detail").toString());
                }
                System.out.print(t.render());
            }
            return 0;
        }
    }
}
