package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The docs' example sessions, run as written. In a doc, HTML comments (invisible on the page) tell
 * this test what to do with the fenced block that follows them:
 * <ul>
 *   <li>{@code <!-- doc-test: run -->}: run every {@code $ command} line of the block with bash in
 *       the doc's sandbox and compare what it prints with the lines under it;
 *   <li>{@code <!-- doc-test: file PATH -->}: write the block to PATH in the sandbox (a fleetpki.yaml shown in the doc);
 *       {@code append PATH}: add it to the end of PATH;
 *   <li>{@code <!-- doc-test: skip REASON -->}: leave the block (the reason is the doc's own, e.g. a second machine);
 * </ul>
 * and, on their own: {@code <!-- doc-test: sandbox NAME -->} (docs naming the same sandbox continue
 * each other's sessions, in {@link #DOCS} order), {@code <!-- doc-test: env K=V ... -->},
 * {@code <!-- doc-test: cd DIR -->}, {@code <!-- doc-test: await-crls HOME CA... -->} (a server just started
 * has published those CAs' CRLs, so the audit log's tail is settled), {@code <!-- doc-test: setup COMMAND -->} (a step the doc
 * states in words) and {@code <!-- doc-test: background COMMAND -->} (a server the doc says is
 * running: started, and waited for until it prints its first line). {@code fleetpki} and {@code ./fleetpki} are the program under test;
 * {@code fleetpki serve} runs in the background until the sandbox closes (its first output lines
 * are compared when they come).
 *
 * <p>Output is compared by shape: serials and other long hex, times, durations in ms, sizes in bytes, the sandbox's
 * path (the docs say /tmp/doc) and the ports (the docs say 8443 and 8080) are placeholders; runs of
 * spaces are one; blank lines do not count; a PEM block matches any PEM block of its kind; a line
 * {@code ...} matches any number of lines, and a line ending in {@code ...} any line that starts as it does. A doc with {@code $ } lines must be in {@link #DOCS} or {@link #NOT_YET}.
 */
class DocsSessionsTest {
    /** The docs whose sessions run, in order. */
    static final List<String> DOCS = List.of("docs/ceremony.md", "docs/cli.md", "docs/console.md", "docs/profiles.md", "docs/keys.md",
            "docs/architecture.md", "docs/devices.md", "docs/est.md", "docs/cmp.md",
            "docs/scep.md", "docs/store.md", "docs/security.md",
            "docs/server.md", "docs/revocation.md", "docs/rest.md",
            "docs/firmware.md", "docs/factory.md", "docs/credentials.md",
            "docs/device-sdk.md", "docs/cloud.md", "docs/rollover.md", "docs/backup.md", "docs/deploy.md", "docs/c-client.md");
    /** Docs with sessions not yet run by this test (each to move to DOCS, with its directives). */
    static final Set<String> NOT_YET = Set.of();
    static final Path ROOT = findRoot();
    private static final Pattern DIRECTIVE = Pattern.compile("<!-- doc-test: ([\\w-]+) ?(.*?) -->");

    @TempDir static Path tmp;
    static final Map<String, Sandbox> sandboxes = new LinkedHashMap<>();

    static Path findRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("mvnw"))) {
            p = p.getParent();
        }
        return p;
    }

    /** A folder the sessions run in, with the program on PATH, its environment and its background processes. */
    static final class Sandbox {
        final Path dir;
        final Map<String, String> env = new LinkedHashMap<>();
        final Map<String, String> ports = new LinkedHashMap<>(); // the doc's port -> the one used here
        final List<Process> background = new ArrayList<>();
        Path cwd;

        Sandbox(Path dir) throws IOException {
            this.dir = dir;
            this.cwd = dir;
            Files.createDirectories(dir);
            launcher("fleetpki", "dev.fleetpki.app.Main");
            launcher("fleetpki-device", "dev.fleetpki.device.DeviceMain");
            env.put("PATH", dir + ":" + System.getenv("PATH"));
            env.put("HOME", dir.toString());
            env.put("FLEETPKI_SRC", ROOT.toString()); // for a setup that copies something of the repository (an example)
            for (String port : List.of("8443", "8080")) {
                ports.put(port, String.valueOf(freePort()));
            }
        }

        /** A command on the sandbox's PATH running a main class of the classes under test. */
        private void launcher(String name, String mainClass) throws IOException {
            Path launcher = dir.resolve(name);
            Launch l = Launch.get();
            Files.writeString(launcher, "#!/bin/sh\nexec " + l.javaCommand + " -XX:TieredStopAtLevel=1 " + l.aotFlags + String.join(" ", Launch.FLAGS)
                    + " -cp '" + l.classpath + "' " + mainClass + " \"$@\"\n");
            Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
        }

        private static final Pattern PORT = Pattern.compile("(localhost:|127\\.0\\.0\\.1:|--port |--http-port )(\\d{2,5})\\b");

        /**
         * A command of the doc as it runs here: ./fleetpki is the sandbox's, /tmp/doc is the sandbox, and
         * every port the doc names (after localhost:, 127.0.0.1:, --port, --http-port) is a free one of ours.
         */
        String command(String line) {
            String c = line.replace("./fleetpki", dir.resolve("fleetpki").toString()).replace("/tmp/doc", dir.toString());
            Matcher m = PORT.matcher(c);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                if (m.group(2).equals("5432")) { // the machine's PostgreSQL, which the docs use as it is
                    continue;
                }
                String ours = ports.computeIfAbsent(m.group(2), k -> {
                    try {
                        return String.valueOf(freePort());
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                m.appendReplacement(out, Matcher.quoteReplacement(m.group(1) + ours));
            }
            m.appendTail(out);
            c = out.toString();
            if (c.matches(".*fleetpki serve.*")) { // a port the doc leaves to the default is a free one too
                c = c.replace("fleetpki serve", "fleetpki serve" + (c.contains("--port") ? "" : " --port " + ports.get("8443"))
                        + (c.contains("--http-port") ? "" : " --http-port " + ports.get("8080")));
            }
            return c;
        }

        /** Output as the doc would show it. */
        String undo(String out) {
            String o = out.replace(dir.toString(), "/tmp/doc");
            for (var e : ports.entrySet()) {
                o = o.replace(":" + e.getValue(), ":" + e.getKey());
            }
            return o;
        }

        void close() {
            background.forEach(p -> {
                p.destroy();
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                p.destroyForcibly();
            });
        }
    }

    /**
     * How the sandboxes start the program: the test's class path with its folders packed into jars,
     * and a JDK AOT cache made once by a training run (a quickstart), as ./fleetpki does; it maps the
     * classes every command loads, about 0.4 s off each of the few hundred commands the docs run.
     * Without a cache (the training failed) the commands just start slower.
     */
    record Launch(String javaCommand, String classpath, String aotFlags) {
        static final List<String> FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
                "--add-exports=jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED");
        private static Launch launch;

        static synchronized Launch get() throws IOException {
            if (launch == null) {
                launch = make(Files.createDirectories(tmp.resolve(".launch")));
            }
            return launch;
        }

        private static Launch make(Path dir) throws IOException {
            String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cp = new ArrayList<>();
            int n = 0;
            for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
                Path p = Path.of(entry);
                if (p.getFileName().toString().equals("test-classes")) {
                    continue; // the tests' own classes: not the program
                }
                if (Files.isDirectory(p)) { // an AOT cache takes jars only
                    Path jar = dir.resolve("classes-" + n++ + ".jar");
                    jar(p, jar);
                    cp.add(jar.toString());
                } else if (p.getFileName().toString().startsWith("fleetpki-device")) {
                    // the device jar's manifest puts slf4j-simple on the class path (lib/, beside it in a build), a second
                    // logging provider beside the CA's logback that SLF4J warns about on every command: its classes only
                    Path jar = dir.resolve("device-" + n++ + ".jar");
                    withoutManifest(p, jar);
                    cp.add(jar.toString());
                } else {
                    cp.add(entry);
                }
            }
            String classpath = String.join(File.pathSeparator, cp);
            Path aot = dir.resolve("fleetpki.aot");
            List<String> train = new ArrayList<>(List.of(javaCommand, "-XX:TieredStopAtLevel=1", "-XX:AOTCacheOutput=" + aot, "-Xlog:aot=off,cds=off"));
            train.addAll(FLAGS);
            train.addAll(List.of("-cp", classpath, "dev.fleetpki.app.Main", "quickstart", "--dir", dir.resolve("train").toString()));
            try {
                Process p = new ProcessBuilder(train).redirectErrorStream(true).redirectOutput(dir.resolve("train.log").toFile()).start();
                boolean done = p.waitFor(2, TimeUnit.MINUTES);
                if (!done) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            String flags = Files.isRegularFile(aot) && Files.size(aot) > 0 ? "-XX:AOTCache=" + aot + " -Xlog:aot=off,cds=off " : "";
            return new Launch(javaCommand, classpath, flags);
        }

        private static void withoutManifest(Path from, Path to) throws IOException {
            try (var in = new java.util.zip.ZipInputStream(Files.newInputStream(from));
                 var out = new java.util.zip.ZipOutputStream(Files.newOutputStream(to))) {
                for (var e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                    if (!e.isDirectory() && !e.getName().equals("META-INF/MANIFEST.MF")) {
                        out.putNextEntry(new java.util.zip.ZipEntry(e.getName()));
                        in.transferTo(out);
                        out.closeEntry();
                    }
                }
            }
        }

        private static void jar(Path folder, Path jar) throws IOException {
            try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar)); Stream<Path> files = Files.walk(folder)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    out.putNextEntry(new java.util.jar.JarEntry(folder.relativize(f).toString().replace('\\', '/')));
                    Files.copy(f, out);
                    out.closeEntry();
                }
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @AfterAll
    static void closeAll() {
        sandboxes.values().forEach(Sandbox::close);
    }

    @Test
    void everyDocWithSessionsIsRunOrListed() throws IOException {
        Set<String> withSessions = new TreeSet<>();
        try (Stream<Path> docs = Stream.concat(Stream.of(ROOT.resolve("README.md")), Files.list(ROOT.resolve("docs")))) {
            for (Path p : docs.filter(x -> x.toString().endsWith(".md")).toList()) {
                if (Files.readAllLines(p).stream().anyMatch(l -> l.startsWith("$ "))) {
                    withSessions.add(ROOT.relativize(p).toString());
                }
            }
        }
        Set<String> listed = new TreeSet<>(DOCS);
        listed.addAll(NOT_YET);
        assertThat(listed).as("docs with $ sessions: each must be run (DOCS) or listed as not yet (NOT_YET)").isEqualTo(withSessions);
    }

    /** The docs to run, in order (docs naming one sandbox continue each other's sessions); -Ddocs.only=docs/cmp.md,... picks some. */
    static List<String> docs() {
        String only = System.getProperty("docs.only", "");
        return DOCS.stream().filter(d -> only.isEmpty() || List.of(only.split(",")).contains(d)).toList();
    }

    /** One doc at a time, each with its own time limit, in {@link #DOCS} order. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("docs")
    void theDocsSessionsPrintWhatTheDocsSay(String doc) throws Exception {
        List<String> wrong = new ArrayList<>();
        try {
            run(doc, wrong);
        } finally { // a sandbox no later doc continues is closed now: its servers would only hold memory and ports
            Set<String> later = new TreeSet<>();
            List<String> all = docs();
            for (String next : all.subList(all.indexOf(doc) + 1, all.size())) {
                Matcher m = Pattern.compile("<!-- doc-test: sandbox (\\S+) -->").matcher(Files.readString(ROOT.resolve(next)));
                while (m.find()) {
                    later.add(m.group(1));
                }
            }
            sandboxes.entrySet().removeIf(e -> {
                if (later.contains(e.getKey())) {
                    return false;
                }
                e.getValue().close();
                return true;
            });
        }
        assertThat(wrong).as("sessions of " + doc + " that do not print what the doc says").isEmpty();
    }

    static void run(String doc, List<String> wrong) throws Exception {
        List<String> lines = Files.readAllLines(ROOT.resolve(doc));
        Sandbox sb = null;
        String pending = null; // the directive for the next fenced block
        String pendingArg = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            Matcher d = DIRECTIVE.matcher(line.strip());
            if (d.matches()) {
                String what = d.group(1);
                String arg = d.group(2).strip();
                switch (what) {
                    case "sandbox" -> sb = sandboxes.computeIfAbsent(arg, n -> {
                        try {
                            return new Sandbox(tmp.resolve(n));
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
                    case "env" -> {
                        for (String kv : arg.split("\\s+")) {
                            String[] p = kv.split("=", 2);
                            sb.env.put(p[0], p[1].replace("/tmp/doc", sb.dir.toString()));
                        }
                    }
                    case "cd" -> {
                        sb.cwd = sb.dir.resolve(arg.replace("/tmp/doc/", "").replace("/tmp/doc", "")).normalize();
                        Files.createDirectories(sb.cwd);
                    }
                    case "background" -> {
                        if (arg.contains("fleetpki serve")) { // it says when it serves
                            String first = background(sb, sb.command(arg), 1);
                            if (!first.contains("serving")) {
                                wrong.add(doc + ":" + (i + 1) + ": background '" + arg + "' did not start: " + first);
                            }
                        } else { // another server (nginx with daemon off): started when it is still running a moment later
                            Process p = new ProcessBuilder("bash", "-c", "exec " + sb.command(arg)).directory(sb.cwd.toFile())
                                    .redirectErrorStream(true).redirectOutput(sb.dir.resolve(".background-" + sb.background.size()).toFile()).start();
                            sb.background.add(p);
                            if (p.waitFor(1500, TimeUnit.MILLISECONDS)) {
                                wrong.add(doc + ":" + (i + 1) + ": background '" + arg + "' ended at once: "
                                        + Files.readString(sb.dir.resolve(".background-" + (sb.background.size() - 1))));
                            }
                        }
                    }
                    case "await-crls" -> { // a server just started publishes its CRLs first: wait for them (at most 20 s)
                        String[] a = arg.split("\\s+");
                        StringBuilder test = new StringBuilder("true");
                        for (int c = 1; c < a.length; c++) {
                            test.append(" && echo \"$a\" | grep -q 'crl.generate *ca:").append(a[c]).append(" '");
                        }
                        Result r = shell(sb, "for i in $(seq 1 40); do a=$(" + sb.dir.resolve("fleetpki") + " audit list --last 50 --home " + a[0]
                                + "); if " + test + "; then exit 0; fi; sleep 0.5; done; exit 1", Duration.ofMinutes(1));
                        if (r.exit != 0) {
                            wrong.add(doc + ":" + (i + 1) + ": the server did not publish the CRLs of " + arg + " within 20 s: " + r.out);
                        }
                    }
                    case "setup" -> {
                        Result r = shell(sb, sb.command(arg), Duration.ofMinutes(2));
                        if (r.exit != 0) {
                            wrong.add(doc + ":" + (i + 1) + ": setup '" + arg + "' failed: " + r.out);
                        }
                    }
                    default -> {
                        pending = what;
                        pendingArg = arg;
                    }
                }
                continue;
            }
            if (line.startsWith("```") && pending == null) { // a block nobody said what to do with: it must hold no session
                int j = i + 1;
                for (; j < lines.size() && !lines.get(j).startsWith("```"); j++) {
                    if (lines.get(j).startsWith("$ ")) {
                        wrong.add(doc + ":" + (j + 1) + ": a session without a doc-test directive (run it, or skip it saying why)");
                        break;
                    }
                }
                for (i = i + 1; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
                    // to the block's end
                }
                continue;
            }
            if (line.startsWith("```") && pending != null) {
                List<String> block = new ArrayList<>();
                int start = i + 1;
                for (i = i + 1; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
                    block.add(lines.get(i));
                }
                if (sb == null) {
                    throw new IllegalStateException(doc + ": a doc-test block before any doc-test: sandbox");
                }
                switch (pending) {
                    case "file", "append" -> {
                        Path f = sb.cwd.resolve(pendingArg);
                        Files.createDirectories(f.getParent());
                        String text = String.join("\n", block) + "\n";
                        Files.writeString(f, sb.command(text), StandardCharsets.UTF_8, pending.equals("file") // its paths and ports as here
                                ? new java.nio.file.OpenOption[0] : new java.nio.file.OpenOption[] {java.nio.file.StandardOpenOption.APPEND});
                    }
                    case "run" -> runBlock(doc, start, block, sb, wrong);
                    case "skip" -> { }
                    default -> throw new IllegalStateException(doc + ": unknown doc-test directive '" + pending + "'");
                }
                pending = null;
            }
        }
    }

    record Result(int exit, String out) {}

    private static final Pattern ASSIGNS = Pattern.compile("^(?:export )?([A-Za-z_][A-Za-z0-9_]*)=");

    /**
     * Runs one command with bash in the sandbox's folder; shell variables a command sets ({@code
     * csrf=$(...)}) are kept for the commands after it, as in one terminal.
     */
    static Result shell(Sandbox sb, String command, Duration timeout) throws Exception {
        Path state = sb.dir.resolve(".doc-test-vars");
        Matcher m = ASSIGNS.matcher(command);
        String script = "[ -f '" + state + "' ] && . '" + state + "'\n" + command
                + (m.find() ? "\nprintf 'export %s=%q\\n' " + m.group(1) + " \"$" + m.group(1) + "\" >> '" + state + "'" : "");
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script).directory(sb.cwd.toFile()).redirectErrorStream(true);
        pb.environment().putAll(sb.env);
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return new Result(-1, "timed out: " + command);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    static void runBlock(String doc, int firstLine, List<String> block, Sandbox sb, List<String> wrong) throws Exception {
        for (int k = 0; k < block.size(); k++) {
            String line = block.get(k);
            if (!line.startsWith("$ ")) {
                continue;
            }
            StringBuilder cmd = new StringBuilder(line.substring(2));
            while (cmd.toString().endsWith("\\") && k + 1 < block.size()) { // continued lines
                cmd.setLength(cmd.length() - 1);
                cmd.append(' ').append(block.get(++k).strip());
            }
            List<String> expected = new ArrayList<>();
            while (k + 1 < block.size() && !block.get(k + 1).startsWith("$ ")) {
                expected.add(block.get(++k));
            }
            // "# ..." lines right above the next command introduce it, and blank lines separate: the doc's, not output
            while (!expected.isEmpty() && expected.getLast().startsWith("# ")) {
                expected.removeLast();
            }
            while (!expected.isEmpty() && expected.getLast().isBlank()) {
                expected.removeLast();
            }
            String where = doc + ":" + (firstLine + k + 1 - expected.size()) + " $ " + cmd;
            String command = sb.command(cmd.toString().strip());
            String actual;
            if (command.contains("fleetpki serve")) { // runs until the sandbox closes; its first lines are what the doc shows
                actual = background(sb, command.endsWith("&") ? command.substring(0, command.length() - 1).strip() : command,
                        Math.max(1, expected.size()));
            } else {
                Result r = shell(sb, command, Duration.ofMinutes(3));
                actual = r.out;
                Matcher cd = Pattern.compile("^cd (\\S+)").matcher(command);
                if (cd.find()) { // as in a terminal, the next commands run there
                    sb.cwd = sb.cwd.resolve(cd.group(1)).normalize();
                }
            }
            String mismatch = compare(expected, List.of(sb.undo(actual).split("\n", -1)));
            if (mismatch != null) {
                wrong.add(where + "\n    " + mismatch + "\n    printed:\n      " + sb.undo(actual).strip().replace("\n", "\n      "));
            }
        }
    }

    /** Starts a command in the background and returns its first {@code lines} lines (at most 60 s). */
    static String background(Sandbox sb, String command, int lines) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "exec " + command).directory(sb.cwd.toFile()).redirectErrorStream(true);
        pb.environment().putAll(sb.env);
        Process p = pb.start();
        sb.background.add(p);
        List<String> got = new ArrayList<>();
        var reader = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                for (String l = reader.readLine(); l != null; l = reader.readLine()) {
                    synchronized (got) {
                        got.add(l);
                    }
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        while (System.nanoTime() < until) {
            synchronized (got) {
                if (got.size() >= lines) {
                    break;
                }
            }
            if (!p.isAlive() && !t.isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        synchronized (got) {
            return String.join("\n", got);
        }
    }

    private static final Pattern HEX = Pattern.compile("\\b[0-9a-fA-F]{16,}\\b|\\b([0-9a-fA-F]{2}:){7,}[0-9a-fA-F]{2}\\b");
    private static final Pattern TIME = Pattern.compile("\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?Z?");
    private static final Pattern MS = Pattern.compile("\\b\\d+ ms\\b");
    /** openssl's dates: notAfter=Nov 24 01:33:55 2026 GMT */
    private static final Pattern OPENSSL_TIME = Pattern.compile("[A-Z][a-z]{2} +\\d{1,2} \\d{2}:\\d{2}:\\d{2} \\d{4} GMT");

    static String normal(String line) {
        String s = line.replaceAll("\\b(fp[ek])_[0-9a-f]{16}_[A-Za-z0-9_-]{20,}", "$1_<SECRET>"); // one-time secrets and tokens
        s = HEX.matcher(s).replaceAll("<HEX>");
        s = s.replaceAll("\\b\\d+ bytes\\b", "<N> bytes").replaceAll("\\b\\d+ B\\b", "<N> B"); // sizes follow the signatures' lengths, which vary
        s = TIME.matcher(s).replaceAll("<TIME>");
        s = OPENSSL_TIME.matcher(s).replaceAll("<TIME>");
        s = MS.matcher(s).replaceAll("<N> ms");
        s = s.replaceAll("[A-Z][a-z]{2}, \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT", "<TIME>"); // HTTP's Date
        s = s.replaceAll("\\b\\d+\\.\\d+E\\d+\\b|\\b\\d+\\.\\d{4,}\\b", "<F>"); // measured values and Unix times in metrics
        s = s.replaceAll("\\b\\d+\\.\\d+(ms|µs|s)\\b", "<N>$1"); // Go's durations: took=56.098748ms
        s = s.replaceAll("\\b\\d+(\\.\\d+)? s, [\\d.,]+ devices/s", "<N> s, <N> devices/s"); // a batch's time and rate
        s = s.replaceAll("\\bin \\d+\\.\\d s \\(\\d+ enrolled/s\\)", "in <N> s (<N> enrolled/s)") // the simulator's time, rate and latencies
                .replaceAll("\\b(p50|p95|p99|max) \\d+\\b", "$1 <N>");
        s = s.replaceAll("\\bdevice-[a-z0-9]{6,}\\.p8\\b", "device-<ID>.p8"); // a renewed key's file
        s = s.replaceAll("^\\d{4}/\\d{2}/\\d{2} \\d{2}:\\d{2}:\\d{2} \\[(\\w+)\\] \\d+#\\d+:", "<TIME> [$1] <PID>:"); // nginx's log lines
        s = s.replaceAll("\\b\\d{6,}\\b", "<N>");
        s = s.replaceAll("fleetpki-[0-9a-f]{8,}", "fleetpki-<BOUNDARY>");
        s = s.replaceAll("(apps/\\w+\\.c):\\d+:", "$1:<N>:"); // openssl's source lines in its messages differ between builds
        return s.strip().replaceAll("\\s+", " ");
    }

    /** Null when {@code actual} has the shape of {@code expected}; else what differs. */
    static String compare(List<String> expected, List<String> actual) {
        List<String> e = new ArrayList<>(pemless(expected).stream().filter(l -> !l.isBlank()).toList());
        List<String> a = new ArrayList<>(pemless(actual).stream().filter(l -> !l.isBlank()).toList());
        while (!a.isEmpty() && a.getLast().isBlank()) {
            a.removeLast();
        }
        int j = 0;
        for (int i = 0; i < e.size(); i++) {
            String want = e.get(i);
            if (want.strip().equals("...")) {
                if (i + 1 == e.size()) {
                    return null;
                }
                String next = normal(e.get(i + 1)); // (the line after ... is taken as it is, not as a shortened one)
                while (j < a.size() && !normal(a.get(j)).equals(next)) {
                    j++;
                }
                continue;
            }
            if (j >= a.size()) {
                return "missing line " + (i + 1) + ": " + want;
            }
            String w = normal(want);
            boolean shortened = w.length() > 3 && w.endsWith("..."); // the doc shows a long line's start
            if (shortened ? !normal(a.get(j)).startsWith(w.substring(0, w.length() - 3)) : !w.equals(normal(a.get(j)))) {
                return "line " + (i + 1) + " differs: expected '" + normal(want) + "', got '" + normal(a.get(j)) + "'";
            }
            j++;
        }
        return j < a.size() ? "more lines than the doc shows, from: " + a.get(j) : null;
    }

    /** Each PEM block as one line naming its kind (the doc may abbreviate its body). */
    static List<String> pemless(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.startsWith("-----BEGIN ")) {
                out.add("<PEM " + l.substring(11).replace("-----", "") + ">");
                while (i < lines.size() && !lines.get(i).startsWith("-----END ")) {
                    i++;
                }
                continue;
            }
            out.add(l);
        }
        return out;
    }
}
