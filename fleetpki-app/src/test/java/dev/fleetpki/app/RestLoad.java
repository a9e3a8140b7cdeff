package dev.fleetpki.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;

/**
 * REST clients that register devices and have them certified, one after the other each, until
 * closed; every {@code revokeEvery}-th certificate is revoked. A 503 with Retry-After is counted and
 * the client waits 200 ms; any other failure is wrong. {@link #mark()} starts counting what is
 * issued after a moment (a restart, a promotion).
 */
final class RestLoad implements AutoCloseable {
    final Map<String, String> received = new ConcurrentHashMap<>();
    final List<String> revoked = Collections.synchronizedList(new ArrayList<>());
    final List<String> wrong = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger unavailable = new AtomicInteger();
    final AtomicInteger afterMark = new AtomicInteger();
    private final AtomicBoolean marked = new AtomicBoolean();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<Thread> threads = new ArrayList<>();

    static RestLoad start(HttpClient http, String base, String token, String prefix, int clients, int revokeEvery) {
        RestLoad l = new RestLoad();
        for (int t = 0; t < clients; t++) {
            int thread = t;
            l.threads.add(Thread.ofPlatform().start(() -> l.run(http, base, token, prefix + "-" + thread + "-", revokeEvery)));
        }
        return l;
    }

    private void run(HttpClient http, String base, String token, String prefix, int revokeEvery) {
        for (int i = 0; i < 100_000 && !stop.get(); i++) {
            String id = prefix + i;
            try {
                HttpResponse<String> added = MultiNodeTest.post(http, base + "/api/v1/devices", token, "{\"id\":\"" + id + "\"}");
                if (!answered(added, 201)) {
                    Thread.sleep(200);
                    continue;
                }
                HttpResponse<String> cert = MultiNodeTest.post(http, base + "/api/v1/certificate-requests", token,
                        "{\"device\":\"" + id + "\",\"csr\":\"" + MultiNodeTest.csrPem(id) + "\"}");
                if (!answered(cert, 201)) {
                    Thread.sleep(200);
                    continue;
                }
                Matcher m = MultiNodeTest.SERIAL.matcher(cert.body());
                assertThat(m.find()).isTrue();
                received.put(m.group(1), id);
                if (marked.get()) {
                    afterMark.incrementAndGet();
                }
                if (revokeEvery > 0 && i % revokeEvery == 0) {
                    HttpResponse<String> rv = MultiNodeTest.post(http, base + "/api/v1/certificates/" + m.group(1) + "/revoke", token, "{}");
                    if (answered(rv, 200)) {
                        revoked.add(m.group(1));
                    }
                }
            } catch (Exception | AssertionError e) {
                wrong.add(id + ": " + e);
            }
        }
    }

    /** True for the expected status; a 503 with Retry-After is counted; anything else is wrong. */
    private boolean answered(HttpResponse<String> r, int expected) {
        if (r.statusCode() == expected) {
            return true;
        }
        if (r.statusCode() == 503 && r.headers().firstValue("Retry-After").isPresent()) {
            unavailable.incrementAndGet();
        } else {
            wrong.add(r.statusCode() + " " + r.body());
        }
        return false;
    }

    void mark() {
        marked.set(true);
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(60_000);
        }
    }
}
