package dev.fleetpki.cli;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.assertj.core.api.Assertions.assertThat;

import com.microsoft.playwright.Browser;
import com.microsoft.playwright.BrowserContext;
import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import dev.fleetpki.core.EnrollmentRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console in a real browser: Debian's chromium (/usr/bin/chromium, nothing downloaded) driven
 * by Playwright against the HTTPS server. An issuer signs in, finds a device, opens its
 * certificate and revokes it, and the CA's next CRL (read by openssl) lists it; an approver
 * approves a pending request; an auditor reads and verifies the audit log; the approver is refused
 * the audit page and, from the page's own script, the revocation API. Every page is kept as a
 * screenshot in target/console-screenshots (docs/console.md shows them).
 */
class ConsoleBrowserTest {
    static final Path CHROMIUM = Paths.get("/usr/bin/chromium");
    static final Path SHOTS = Paths.get("target", "console-screenshots");

    @TempDir static Path dir;
    static TestServer ts;
    static Playwright playwright;
    static Browser browser;
    static String serial;

    @BeforeAll
    static void start() throws Exception {
        assertThat(Files.isExecutable(CHROMIUM)).as("Debian's chromium at " + CHROMIUM + " (./run-tests installs it: apt-get install -y chromium)")
                .isTrue();
        ts = TestServer.start(dir, null, """
                enrollment:
                  fleets:
                    gateway:
                      accept: []
                      otherwise: pending
                """);
        for (int i = 1; i <= 24; i++) {
            String id = String.format("sensor-%03d", i);
            assertThat(Cli.run(ts.home, "device", "add", id, "--model", "sensor").exit()).isZero();
        }
        for (String id : List.of("sensor-012", "sensor-013", "sensor-020")) {
            Path csr = TestHome.opensslCsr(dir, id, "ec", "/CN=" + id, "-pkeyopt", "ec_paramgen_curve:P-256");
            Cli.Result signed = Cli.run(ts.home, "sign", "--csr", csr.toString(), "--device", id, "--json");
            assertThat(signed.exit()).as(signed.all()).isZero();
            if (id.equals("sensor-012")) {
                serial = new com.fasterxml.jackson.databind.ObjectMapper().readTree(signed.out()).path("serial").asText();
            }
        }
        // a gateway's enrollment the fleet rule keeps for an operator
        Cli.Result gw = Cli.run(ts.home, "device", "add", "gateway-7", "--model", "gateway", "--enrollment-secret");
        assertThat(gw.exit()).as(gw.all()).isZero();
        String[] lines = gw.out().trim().split("\n");
        EstCurl curl = EstCurl.of(ts, dir);
        curl.est("/simpleenroll", curl.csr("gw", "gateway-7"), "-u gateway-7:" + lines[lines.length - 1]);
        assertThat(ts.fleet.store().requests().pendingRequest("gateway-7", "device")).isPresent();
        for (String[] op : new String[][] {{"iris", "issuer"}, {"otto", "approver"}, {"aude", "auditor"}}) {
            Path pw = dir.resolve(op[0] + ".password");
            Files.writeString(pw, ConsoleTest.password(op[0]) + "\n");
            assertThat(Cli.run(ts.home, "operator", "add", op[0], "--role", op[1], "--password-file", pw.toString()).exit()).isZero();
        }
        Files.createDirectories(SHOTS);
        playwright = Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        browser = playwright.chromium().launch(new BrowserType.LaunchOptions().setExecutablePath(CHROMIUM).setHeadless(true)
                .setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync")));
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
        }
        if (playwright != null) {
            playwright.close();
        }
        if (ts != null) {
            ts.close();
        }
    }

    /** A fresh browser (no cookies) signed in as this operator, on the dashboard. */
    static Page signedIn(String name) {
        // the server's certificate names pki.fleet.example, which the test reaches as 127.0.0.1
        BrowserContext context = browser.newContext(new Browser.NewContextOptions().setIgnoreHTTPSErrors(true).setViewportSize(1280, 900));
        Page page = context.newPage();
        page.navigate(ts.base + "/console/devices");
        assertThat(page).hasURL(Pattern.compile(".*/console/login\\?next=.*"));
        page.fill("input[name=name]", name);
        page.fill("input[name=password]", ConsoleTest.password(name));
        page.click("button[type=submit]");
        assertThat(page).hasURL(Pattern.compile(".*/console/devices$"));
        return page;
    }

    static void shot(Page page, String name) {
        page.screenshot(new Page.ScreenshotOptions().setPath(SHOTS.resolve(name + ".png")).setFullPage(true));
    }

    @Test
    void anIssuerFindsADeviceAndRevokesItsCertificateWhichTheNextCrlLists() throws Exception {
        BrowserContext context = browser.newContext(new Browser.NewContextOptions().setIgnoreHTTPSErrors(true).setViewportSize(1280, 900));
        Page login = context.newPage();
        login.navigate(ts.base + "/console/");
        assertThat(login.locator("h1")).hasText("fleetpki");
        login.fill("input[name=name]", "iris");
        login.fill("input[name=password]", "wrong password, twice over");
        login.click("button[type=submit]");
        assertThat(login.locator(".flash.error")).containsText("Wrong name or password");
        shot(login, "01-sign-in");
        context.close();

        Page page = signedIn("iris");
        page.navigate(ts.base + "/console/");
        assertThat(page.locator("h1")).hasText("Dashboard");
        assertThat(page.locator(".card").first()).containsText("devices active");
        assertThat(page.locator("svg.chart")).hasCount(2);
        shot(page, "02-dashboard");

        page.click("nav >> text=Devices");
        page.fill("input[name=q]", "sensor-01");
        page.click("form.filters button");
        assertThat(page.locator("tbody tr")).hasCount(10); // sensor-010 .. sensor-019
        shot(page, "03-devices");
        page.click("text=sensor-012");
        assertThat(page.locator("h1")).hasText("Device sensor-012");
        shot(page, "04-device");

        page.click("a[href='/console/certificates/" + serial + "']");
        assertThat(page.locator("h1")).containsText(serial);
        assertThat(page.locator("dl")).containsText("CN=sensor-012");
        shot(page, "05-certificate");
        page.onDialog(d -> d.accept());
        page.selectOption("select[name=reason]", "key-compromise");
        page.click("text=Revoke certificate");
        assertThat(page.locator("#flash")).hasText("Certificate revoked.");
        assertThat(page.locator("dd .badge").first()).hasText("revoked");
        assertThat(ts.fleet.store().certificates().certificate(serial).orElseThrow().revoked()).isTrue();

        // the CA's next CRL, as openssl reads it, lists the serial
        Cli.Result crl = Cli.run(ts.home, "crl", "generate");
        assertThat(crl.exit()).as(crl.all()).isZero();
        Path der = dir.resolve("issuing.crl");
        Files.write(der, ts.fleet.store().revocation().crl("issuing", 0).orElseThrow().der());
        String text = Proc.ok(dir, "openssl", "crl", "-inform", "DER", "-in", der.toString(), "-noout", "-text");
        assertThat(text.toUpperCase(java.util.Locale.ROOT)).contains(serial.toUpperCase(java.util.Locale.ROOT)).contains("KEY COMPROMISE");
    }

    @Test
    void anApproverApprovesAPendingRequestAndIsRefusedWhatTheirRoleMayNotDo() {
        Page page = signedIn("otto");
        page.click("nav >> text=Requests");
        assertThat(page.locator("tbody tr")).hasCount(1);
        assertThat(page.locator("tbody")).containsText("gateway-7");
        shot(page, "06-requests");
        page.click("button:has-text('Approve')");
        assertThat(page.locator("#flash")).containsText("approved: certificate issued");
        EnrollmentRequest r = ts.fleet.store().requests().requests(null, 10).stream().filter(x -> x.deviceId().equals("gateway-7")).findFirst().orElseThrow();
        assertThat(r.status()).isEqualTo(EnrollmentRequest.Status.ISSUED);
        assertThat(r.decidedBy().toString()).isEqualTo("operator:otto");

        // the audit page is the auditor's: refused in the page
        page.navigate(ts.base + "/console/audit");
        assertThat(page.locator(".flash.error")).containsText("this page needs auditor");
        assertThat(page.locator("nav")).not().containsText("Audit log");
        shot(page, "07-refused");
        // and in the API, even when the page's own script asks with the session's CSRF token
        Object status = page.evaluate("async (url) => (await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json', "
                + "'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}, body: '{}'})).status",
                "/api/v1/certificates/" + ts.fleet.store().certificates().certificates("sensor-013", java.time.Instant.now(), null, 1).getFirst()
                        .issued().serialHex() + "/revoke");
        assertThat(((Number) status).intValue()).isEqualTo(403);
    }

    @Test
    void anAuditorFiltersVerifiesAndReadsTheCas() {
        Page page = signedIn("aude");
        page.click("nav >> text=Audit log");
        page.selectOption("select[name=action]", "device.add");
        page.click("form.filters button");
        assertThat(page.locator("tbody tr").first()).containsText("device.add");
        shot(page, "08-audit");
        page.click("text=Verify the chain");
        assertThat(page.locator(".flash.ok")).containsText("Intact");
        page.click("nav >> text=CAs");
        assertThat(page.locator("ul.tree")).containsText("root");
        assertThat(page.locator("ul.tree ul")).containsText("issuing");
        shot(page, "09-cas");
        // an auditor reads certificates but is offered no revocation
        page.navigate(ts.base + "/console/certificates/" + ts.fleet.store().certificates().certificates("sensor-020", java.time.Instant.now(), null, 1)
                .getFirst().issued().serialHex());
        assertThat(page.locator("h1")).containsText("Certificate");
        assertThat(page.locator("text=Revoke certificate")).hasCount(0);
    }
}
