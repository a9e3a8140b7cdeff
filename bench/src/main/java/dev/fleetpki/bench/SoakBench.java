package dev.fleetpki.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * The soak: two {@code fleetpki serve} nodes on one PostgreSQL database, EST enrollments over
 * kept-alive connections (clients spread over both nodes). First the capacity (unpaced, after the
 * JIT has settled), then {@code --minutes} minutes paced at {@code --load} (0.8) of it, one row per
 * minute: enrollments/s, latency percentiles counted from when each request was due, each node's heap
 * (after the minute, from jcmd) and RSS, and the database's size. Writes a Markdown table and a PNG
 * chart of the run. Options: --minutes=10 --clients=64 --load=0.8 --out=bench/results/soak.md.
 */
public final class SoakBench {
    private SoakBench() {}

    record Minute(int minute, double perSecond, double p50, double p99, long errors, List<Long> heapKb, List<Long> rssKb, long storeBytes, long deadlocks, double machine) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = IssuanceBench.options(args);
        int minutes = Integer.parseInt(opt.getOrDefault("minutes", "10"));
        int clients = Integer.parseInt(opt.getOrDefault("clients", "64"));
        int nodes = Integer.parseInt(opt.getOrDefault("nodes", "2"));
        double load = Double.parseDouble(opt.getOrDefault("load", "0.8"));
        String serverJvm = opt.getOrDefault("server-jvm", "-Xmx512m");
        Path out = Path.of(opt.getOrDefault("out", "bench/results/soak.md"));
        String pg = opt.getOrDefault("pg", "jdbc:postgresql://127.0.0.1:5432/");
        String db = "fleetpki_soak_" + Long.toHexString(System.nanoTime());
        EstLoadBench.SECRET_DEVICES = 0;
        dev.fleetpki.kms.Crypto.init();
        try (Connection c = DriverManager.getConnection(pg + "postgres?user=postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        String url = pg + db + "?user=postgres";
        List<Minute> rows = new ArrayList<>();
        EstLoadBench.Row capacity;
        try (EstLoadBench.FleetpkiServer t = EstLoadBench.FleetpkiServer.start(IssuanceBench.p256Csrs(EstLoadBench.DEVICES), serverJvm, url)) {
            for (int n = 1; n < nodes; n++) {
                t.addNode(serverJvm);
            }
            EstLoadBench.progress("soak: " + nodes + " node(s) up, pids " + t.pids());
            capacity = EstLoadBench.run(t, EstLoadBench.Shape.KEPT_ALIVE, clients, 0, 30, 60, 300);
            double rate = capacity.perSecond() * load;
            EstLoadBench.progress(String.format(Locale.ROOT, "soak: capacity %,.0f/s; %d minutes at %,.0f/s", capacity.perSecond(), minutes, rate));
            for (int m = 1; m <= minutes; m++) {
                EstLoadBench.Row r = EstLoadBench.run(t, EstLoadBench.Shape.KEPT_ALIVE, clients, rate, 60, 0);
                List<Long> heap = new ArrayList<>();
                List<Long> rss = new ArrayList<>();
                for (long pid : t.pids()) {
                    heap.add(heapUsedKb(pid));
                    rss.add(EstLoadBench.rssKb(pid));
                }
                Minute row = new Minute(m, r.perSecond(), r.p50(), r.p99(), r.errors(), heap, rss, storeBytes(url, db), deadlocks(url, db), r.machine());
                rows.add(row);
                EstLoadBench.progress(String.format(Locale.ROOT, "soak: minute %d: %,.0f/s, p50 %.2f ms, p99 %.2f ms, heap %s MiB, RSS %s MiB, store %,d MiB",
                        m, row.perSecond(), row.p50(), row.p99(), mib(heap), mib(rss), row.storeBytes() >> 20));
            }
        } finally {
            try (Connection c = DriverManager.getConnection(pg + "postgres?user=postgres"); Statement s = c.createStatement()) {
                s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Path png = out.resolveSibling(out.getFileName().toString().replaceAll("\\.md$", "") + ".png");
        chart(rows, png, capacity.perSecond() * load);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Capacity first (64 kept-alive clients, unpaced, 30 s after the JIT settled): %,.0f enrollments/s, p99 %.1f ms. "
                + "Then %d minutes paced at %.0f%% of it (%,.0f/s), latency counted from when each request was due:%n%n",
                capacity.perSecond(), capacity.p99(), minutes, load * 100, capacity.perSecond() * load));
        b.append("| minute | enrollments/s | p50 ms | p99 ms | errors | heap used MiB (node 1, node 2) | RSS MiB (node 1, node 2) | database MiB | deadlocks so far | machine (openssl signs/s) |\n");
        b.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Minute r : rows) {
            b.append(String.format(Locale.ROOT, "| %d | %,.0f | %.2f | %.2f | %d | %s | %s | %,d | %d | %,.0f |%n", r.minute(), r.perSecond(), r.p50(), r.p99(), r.errors(),
                    mib(r.heapKb()), mib(r.rssKb()), r.storeBytes() >> 20, r.deadlocks(), r.machine()));
        }
        b.append("\n![soak chart](results/").append(png.getFileName()).append(")\n");
        Files.writeString(out, b.toString(), StandardCharsets.UTF_8);
        System.out.print(b);
    }

    static String mib(List<Long> kb) {
        return String.join(", ", kb.stream().map(k -> String.valueOf(k >> 10)).toList());
    }

    private static final Pattern HEAP = Pattern.compile("heap\\s+total[^\\n]*?used (\\d+)K");

    /** Heap in use right now (jcmd GC.heap_info), in KiB; 0 when jcmd cannot tell. */
    static long heapUsedKb(long pid) {
        try {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(pid), "GC.heap_info")
                    .redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            Matcher m = HEAP.matcher(text);
            return m.find() ? Long.parseLong(m.group(1)) : 0;
        } catch (IOException e) {
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /** Deadlocks PostgreSQL has broken in the database so far (each stalls the transactions in it for deadlock_timeout, 1 s). */
    static long deadlocks(String url, String db) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT deadlocks FROM pg_stat_database WHERE datname = '" + db + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static long storeBytes(String url, String db) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_database_size('" + db + "')")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Two panels: latency (p50, p99) and rate per minute; heap and RSS of each node and the database size per minute. */
    static void chart(List<Minute> rows, Path png, double target) throws IOException {
        int w = 1000;
        int h = 700;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        panel(g, rows, 70, 40, w - 110, 260, "latency ms (p50 blue, p99 red); rate/s (grey, right axis; target dashed)",
                List.of(Minute::p50, Minute::p99), List.of(new Color(40, 90, 200), new Color(200, 40, 40)), Minute::perSecond, target);
        List<ToDoubleFunction<Minute>> mem = new ArrayList<>();
        List<Color> memColors = new ArrayList<>();
        int nodes = rows.isEmpty() ? 0 : rows.getFirst().rssKb().size();
        Color[] heapC = {new Color(40, 140, 60), new Color(120, 180, 60)};
        Color[] rssC = {new Color(120, 60, 160), new Color(200, 120, 200)};
        for (int n = 0; n < nodes; n++) {
            int k = n;
            mem.add(r -> r.heapKb().get(k) / 1024.0);
            memColors.add(heapC[n % 2]);
            mem.add(r -> r.rssKb().get(k) / 1024.0);
            memColors.add(rssC[n % 2]);
        }
        mem.add(r -> r.storeBytes() / 1048576.0);
        memColors.add(Color.DARK_GRAY);
        panel(g, rows, 70, 380, w - 110, 260, "MiB: heap used (greens), RSS (purples) per node; database size (dark grey)", mem, memColors, null, 0);
        g.dispose();
        ImageIO.write(img, "png", png.toFile());
    }

    private static void panel(Graphics2D g, List<Minute> rows, int x, int y, int w, int h, String title, List<ToDoubleFunction<Minute>> series,
                              List<Color> colors, ToDoubleFunction<Minute> right, double rightTarget) {
        g.setColor(Color.BLACK);
        g.drawString(title, x, y - 12);
        g.drawRect(x, y, w, h);
        double max = 1;
        for (ToDoubleFunction<Minute> f : series) {
            for (Minute r : rows) {
                max = Math.max(max, f.applyAsDouble(r));
            }
        }
        max *= 1.1;
        int n = Math.max(rows.size(), 2);
        for (int i = 0; i <= 4; i++) {
            int yy = y + h - i * h / 4;
            g.setColor(new Color(225, 225, 225));
            g.drawLine(x + 1, yy, x + w - 1, yy);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.0f", max * i / 4), x - 55, yy + 4);
        }
        for (int i = 0; i < rows.size(); i++) {
            g.drawString(Integer.toString(rows.get(i).minute()), x + i * w / (n - 1) - 4, y + h + 16);
        }
        g.setStroke(new BasicStroke(2f));
        for (int s = 0; s < series.size(); s++) {
            g.setColor(colors.get(s));
            line(g, rows, series.get(s), x, y, w, h, max, n);
        }
        if (right != null) {
            double rmax = rightTarget * 1.3;
            for (Minute r : rows) {
                rmax = Math.max(rmax, right.applyAsDouble(r) * 1.1);
            }
            g.setColor(Color.GRAY);
            line(g, rows, right, x, y, w, h, rmax, n);
            g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 6f}, 0f));
            int ty = y + h - (int) (rightTarget / rmax * h);
            g.drawLine(x, ty, x + w, ty);
            g.setStroke(new BasicStroke(2f));
            for (int i = 0; i <= 4; i++) {
                g.drawString(String.format(Locale.ROOT, "%.0f", rmax * i / 4), x + w + 4, y + h - i * h / 4 + 4);
            }
        }
        g.setColor(Color.BLACK);
        g.drawString("minute", x + w / 2 - 20, y + h + 32);
    }

    private static void line(Graphics2D g, List<Minute> rows, ToDoubleFunction<Minute> f, int x, int y, int w, int h, double max, int n) {
        for (int i = 1; i < rows.size(); i++) {
            int x0 = x + (i - 1) * w / (n - 1);
            int x1 = x + i * w / (n - 1);
            int y0 = y + h - (int) (f.applyAsDouble(rows.get(i - 1)) / max * h);
            int y1 = y + h - (int) (f.applyAsDouble(rows.get(i)) / max * h);
            g.drawLine(x0, y0, x1, y1);
        }
        if (rows.size() == 1) {
            int y0 = y + h - (int) (f.applyAsDouble(rows.getFirst()) / max * h);
            g.fillOval(x - 3, y0 - 3, 6, 6);
        }
    }
}
