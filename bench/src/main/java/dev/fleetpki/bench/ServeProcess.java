package dev.fleetpki.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code fleetpki serve} process of this benchmark's classpath on a home, on a port of its own
 * choosing (the one its first line names); its log goes to {@code server.log} in the home.
 */
record ServeProcess(Process process, int port) {
    private static final Pattern SERVING = Pattern.compile("fleetpki serving https://[^:]+:(\\d+)/");

    /** The command line: this JVM's java with {@code jvmOptions}, the benchmark's classpath, serve with {@code serveArgs}. */
    static List<String> command(Path home, List<String> jvmOptions, String... serveArgs) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), "dev.fleetpki.app.Main",
                "serve", "--home", home.toString(), "--port", "0"));
        cmd.addAll(List.of(serveArgs));
        return cmd;
    }

    /** Starts it and waits for the line naming its port; the rest of its output is read and dropped. */
    static ServeProcess start(Path home, List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectError(home.resolve("server.log").toFile()).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        for (String l = r.readLine(); l != null; l = r.readLine()) {
            Matcher m = SERVING.matcher(l);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
                break;
            }
        }
        if (port < 0) {
            p.destroyForcibly();
            throw new IllegalStateException("fleetpki serve did not start; see " + home.resolve("server.log"));
        }
        Thread.ofPlatform().daemon().start(() -> r.lines().forEach(l -> { }));
        return new ServeProcess(p, port);
    }
}
