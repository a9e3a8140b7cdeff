package dev.fleetpki.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.fleetpki.core.Dn;
import dev.fleetpki.core.Durations;
import dev.fleetpki.core.EnrollmentPolicy;
import dev.fleetpki.core.EnrollmentPolicy.Credential;
import dev.fleetpki.core.EnrollmentPolicy.FleetRule;
import dev.fleetpki.core.EnrollmentPolicy.Otherwise;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.IpRange;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.ProfileKind;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.KeyRef;
import dev.fleetpki.kms.SecretSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Reads {@code fleetpki.yaml}, applies a usable default to every field, and refuses unsafe or
 * inconsistent settings, reporting all of them at once with their path in the file.
 */
public final class ConfigLoader {
    public static final String FILE_NAME = "fleetpki.yaml";
    private static final Set<String> TOP = Set.of("store", "passphrase", "urls", "ceremony", "profiles", "enrollment", "revocation",
            "notifications", "dualControl");

    private final List<String> errors = new ArrayList<>();
    private final Path home;

    private ConfigLoader(Path home) {
        this.home = home;
    }

    public static FleetConfig load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new PkiException(ErrorKind.CONFIG, "no configuration at " + file
                    + "; run 'fleetpki quickstart' for a demo, or write one (see docs/ceremony.md)");
        }
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
        } catch (IOException e) {
            throw new PkiException(ErrorKind.CONFIG, file + " is not valid YAML: " + e.getMessage());
        }
        return new ConfigLoader(file.toAbsolutePath().getParent()).parse(root == null ? MissingNode.getInstance() : root, file);
    }

    private FleetConfig parse(JsonNode root, Path file) {
        unknown(root, TOP, "");
        JsonNode store = root.path("store");
        unknown(store, Set.of("url", "user", "password"), "store.");
        String url = text(store, "url", "store.url", "jdbc:sqlite:fleetpki.db");
        if (!url.startsWith("jdbc:sqlite:") && !url.startsWith("jdbc:postgresql:")) {
            errors.add("store.url: '" + url + "' is neither jdbc:sqlite:FILE nor jdbc:postgresql://HOST/DB");
        }
        String user = text(store, "user", "store.user", null);
        SecretSource password = secret(store, "password", "store.password", null);
        SecretSource passphrase = secret(root, "passphrase", "passphrase", "env:FLEETPKI_PASSPHRASE");

        JsonNode urls = root.path("urls");
        unknown(urls, Set.of("crl", "ocsp", "caIssuers"), "urls.");
        String crl = text(urls, "crl", "urls.crl", null);
        String ocsp = text(urls, "ocsp", "urls.ocsp", null);
        String caIssuers = text(urls, "caIssuers", "urls.caIssuers", null);
        for (String[] u : new String[][] {{"urls.crl", crl}, {"urls.ocsp", ocsp}, {"urls.caIssuers", caIssuers}}) {
            if (u[1] != null && !u[1].startsWith("http://") && !u[1].startsWith("https://")) {
                errors.add(u[0] + ": '" + u[1] + "' is not an http(s) URL");
            }
        }

        JsonNode ceremony = root.path("ceremony");
        unknown(ceremony, Set.of("root", "issuing", "ocsp", "codeSigning"), "ceremony.");
        CaSpec rootCa = ca(ceremony.path("root"), "ceremony.root", CaRole.ROOT, "root", passphrase, Duration.ofDays(365 * 20));
        List<CaSpec> issuing = new ArrayList<>();
        JsonNode iss = ceremony.path("issuing");
        if (iss.isMissingNode() || iss.isNull()) {
            issuing.add(ca(MissingNode.getInstance(), "ceremony.issuing[0]", CaRole.ISSUING,
                    "issuing", passphrase, Duration.ofDays(365 * 10)));
        } else if (!iss.isArray() || iss.isEmpty()) {
            errors.add("ceremony.issuing: must be a list of at least one issuing CA");
        } else {
            for (int i = 0; i < iss.size(); i++) {
                issuing.add(ca(iss.get(i), "ceremony.issuing[" + i + "]", CaRole.ISSUING, i == 0 ? "issuing" : "issuing-" + i,
                        passphrase, Duration.ofDays(365 * 10)));
            }
        }
        CaSpec ocspCa = ceremony.has("ocsp") ? ca(ceremony.path("ocsp"), "ceremony.ocsp", CaRole.OCSP, "ocsp", passphrase, Duration.ofDays(30)) : null;
        CaSpec codeCa = ceremony.has("codeSigning")
                ? ca(ceremony.path("codeSigning"), "ceremony.codeSigning", CaRole.CODE_SIGNING, "code-signing", passphrase, Duration.ofDays(365 * 10)) : null;
        List<CaSpec> all = new ArrayList<>();
        all.add(rootCa);
        all.addAll(issuing);
        if (ocspCa != null) {
            all.add(ocspCa);
        }
        if (codeCa != null) {
            all.add(codeCa);
        }
        Set<String> names = new HashSet<>();
        Set<String> keys = new HashSet<>();
        for (CaSpec c : all) {
            if (c == null) {
                continue;
            }
            if (!names.add(c.name())) {
                errors.add("ceremony: two CAs are named '" + c.name() + "'; CA names must be unique");
            }
            if (c.key() != null && !keys.add(c.key().uri())) {
                errors.add("ceremony: CA '" + c.name() + "' reuses key " + c.key() + "; every CA needs its own key");
            }
        }
        if (rootCa != null && rootCa.validity() != null) {
            for (CaSpec c : all) {
                if (c != null && c != rootCa && c.validity() != null && c.validity().compareTo(rootCa.validity()) > 0) {
                    errors.add("ceremony: CA '" + c.name() + "' validity " + Durations.format(c.validity())
                            + " is longer than the root's " + Durations.format(rootCa.validity()) + "; it may not outlive its issuer");
                }
            }
        }

        Map<String, KeyAlgorithm> caAlgorithms = new HashMap<>();
        all.stream().filter(Objects::nonNull).filter(c -> c.algorithm() != null).forEach(c -> caAlgorithms.put(c.name(), c.algorithm()));
        String defaultIssuer = issuing.isEmpty() || issuing.getFirst() == null ? null : issuing.getFirst().name();
        String codeSigningCa = codeCa == null ? null : codeCa.name();
        Map<String, Profile> profiles = profiles(root.path("profiles"), names, (kind, issuer) -> {
            String ca = issuer != null ? issuer : kind == ProfileKind.CODE_SIGNING && codeSigningCa != null ? codeSigningCa : defaultIssuer;
            return caAlgorithms.get(ca);
        });
        EnrollmentPolicy enrollment = enrollment(root.path("enrollment"), profiles);
        RevocationSettings revocation = revocation(root.path("revocation"));
        List<Webhook> webhooks = webhooks(root.path("notifications"));
        java.util.Set<dev.fleetpki.core.DualControl.Action> dualControl = java.util.EnumSet.noneOf(dev.fleetpki.core.DualControl.Action.class);
        JsonNode dual = root.path("dualControl");
        if (!dual.isMissingNode() && !dual.isNull()) {
            if (!dual.isArray()) {
                errors.add("dualControl: a list of the actions that need a second operator: [request-approve, ca-revoke, signer-revoke]");
            } else {
                for (JsonNode a : dual) {
                    try {
                        dualControl.add(dev.fleetpki.core.DualControl.Action.parse(a.asText()));
                    } catch (IllegalArgumentException e) {
                        errors.add("dualControl: " + e.getMessage());
                    }
                }
            }
        }
        if (revocation != null && revocation.crlShards() > 1 && (crl == null || !crl.contains("{shard}"))) {
            errors.add("revocation.crl.shards: " + revocation.crlShards() + " shards need a {shard} in urls.crl (for example "
                    + "http://pki.example.com/crl/{ca}/{shard}.crl), so each certificate names the CRL it is listed on");
        }
        if (!errors.isEmpty()) {
            throw new PkiException(ErrorKind.CONFIG, file + " has " + errors.size() + " error" + (errors.size() > 1 ? "s" : "")
                    + ":\n  - " + String.join("\n  - ", errors));
        }
        return new FleetConfig(home, url, user, password, crl, ocsp, caIssuers, rootCa, List.copyOf(issuing), ocspCa, codeCa, profiles, enrollment, revocation, webhooks,
                dualControl);
    }

    private CaSpec ca(JsonNode n, String path, CaRole role, String defaultName, SecretSource passphrase, Duration defaultValidity) {
        unknown(n, Set.of("name", "subject", "algorithm", "key", "passphrase", "validity", "nameConstraints"), path + ".");
        String name = text(n, "name", path + ".name", defaultName);
        if (name != null && !name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            errors.add(path + ".name: '" + name + "' may hold only letters, digits, '.', '_' and '-'");
        }
        String subject = text(n, "subject", path + ".subject", "CN=fleetpki " + (name == null ? defaultName : name) + " CA");
        try {
            Dn.parse(subject);
        } catch (IllegalArgumentException e) {
            errors.add(path + ".subject: '" + subject + "' is not a distinguished name like CN=Acme Root CA,O=Acme");
        }
        KeyAlgorithm alg = parse(n, "algorithm", path + ".algorithm", "ecdsa-p256", KeyAlgorithm::parse);
        KeyRef key = parse(n, "key", path + ".key", "file:keys/" + name + ".p8", KeyRef::parse);
        SecretSource pass = secret(n, "passphrase", path + ".passphrase", null);
        Duration validity = parse(n, "validity", path + ".validity", Durations.format(defaultValidity), Durations::parse);
        JsonNode nc = n.path("nameConstraints");
        unknown(nc, Set.of("permittedDns", "excludedDns", "permittedUris"), path + ".nameConstraints.");
        if (role != CaRole.ISSUING && !nc.isMissingNode()) {
            errors.add(path + ".nameConstraints: only issuing CAs carry name constraints");
        }
        return new CaSpec(name, role, subject, alg, key, pass == null ? passphrase : pass, validity,
                list(nc, "permittedDns"), list(nc, "excludedDns"), list(nc, "permittedUris"));
    }

    private Map<String, Profile> profiles(JsonNode n, Set<String> caNames,
                                          BiFunction<ProfileKind, String, KeyAlgorithm> issuerAlgorithm) {
        Map<String, Profile> out = new LinkedHashMap<>();
        Map<String, JsonNode> specs = new LinkedHashMap<>();
        for (ProfileKind k : ProfileKind.values()) {
            specs.put(k.configName(), MissingNode.getInstance());
        }
        if (!n.isMissingNode() && !n.isObject()) {
            errors.add("profiles: must be a map of profile name to settings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            var e = it.next();
            specs.put(e.getKey(), e.getValue());
        }
        for (var e : specs.entrySet()) {
            Profile p = profile(e.getKey(), e.getValue(), caNames, issuerAlgorithm);
            if (p != null) {
                out.put(e.getKey(), p);
            }
        }
        return Map.copyOf(out);
    }

    private Profile profile(String name, JsonNode n, Set<String> caNames,
                            BiFunction<ProfileKind, String, KeyAlgorithm> issuerAlgorithm) {
        String path = "profiles." + name;
        if (!n.isMissingNode() && !n.isObject()) {
            errors.add(path + ": must be a map of settings, like {kind: device, validity: 365d}");
            return null;
        }
        unknown(n, Set.of("kind", "validity", "backdate", "subject", "uriTemplate", "organization", "keyAlgorithms",
                "maxDerSize", "issuer", "dnsSuffixes", "ipRanges", "pathLength", "renewWithSameKey"), path + ".");
        String defaultKind = null;
        for (ProfileKind k : ProfileKind.values()) {
            if (k.configName().equals(name)) {
                defaultKind = name;
            }
        }
        if (defaultKind == null && !n.has("kind")) {
            errors.add(path + ".kind: missing; say what the profile is for (device, device-peer, server-tls, code-signing, "
                    + "ocsp-signing, scep-ra, sub-ca, cloud-verification)");
            return null;
        }
        ProfileKind kind = parse(n, "kind", path + ".kind", defaultKind, ProfileKind::parse);
        if (kind == null) {
            return null;
        }
        Duration validity = parse(n, "validity", path + ".validity", Durations.format(kind.defaultValidity()), Durations::parse);
        Duration backdate = parse(n, "backdate", path + ".backdate", "5m", Durations::parse);
        String subject = text(n, "subject", path + ".subject", "cn");
        Profile.SubjectSource source = switch (subject) {
            case "cn" -> Profile.SubjectSource.CN;
            case "uri-san" -> Profile.SubjectSource.URI_SAN;
            default -> {
                errors.add(path + ".subject: '" + subject + "' must be cn or uri-san");
                yield Profile.SubjectSource.CN;
            }
        };
        String uriTemplate = text(n, "uriTemplate", path + ".uriTemplate", "urn:fleetpki:device:{id}");
        String org = text(n, "organization", path + ".organization", null);
        Set<KeyAlgorithm> algs = EnumSet.noneOf(KeyAlgorithm.class);
        if (n.has("keyAlgorithms")) {
            for (String a : list(n, "keyAlgorithms")) {
                try {
                    algs.add(KeyAlgorithm.parse(a));
                } catch (IllegalArgumentException e) {
                    errors.add(path + ".keyAlgorithms: " + e.getMessage());
                }
            }
        } else {
            algs.addAll(Profile.DEFAULT_KEY_ALGORITHMS);
        }
        String issuer = text(n, "issuer", path + ".issuer", null);
        if (issuer != null && !caNames.contains(issuer)) {
            errors.add(path + ".issuer: no CA named '" + issuer + "' in the ceremony; CAs: " + caNames);
        }
        // ML-DSA-65 signatures alone are 3,309 bytes (FIPS 204): such an issuer gets a larger default budget.
        boolean pqIssuer = issuerAlgorithm.apply(kind, issuer) == KeyAlgorithm.ML_DSA_65;
        int defaultSize = pqIssuer ? 8192 : kind == ProfileKind.DEVICE || kind == ProfileKind.DEVICE_PEER ? 1200 : 4096;
        int maxDer = n.path("maxDerSize").asInt(defaultSize);
        if (pqIssuer && maxDer < 3600) {
            errors.add(path + ".maxDerSize: " + maxDer + " bytes cannot hold a certificate signed by an ML-DSA-65 CA "
                    + "(the signature alone is 3,309 bytes); raise it to at least 4096");
        }
        int pathLen = n.path("pathLength").asInt(0);
        if (validity == null || backdate == null) {
            return null;
        }
        List<String> problems = Profile.problems(kind, validity, backdate, uriTemplate, algs, maxDer, pathLen);
        problems.forEach(p -> errors.add(path + "." + p));
        boolean sameKey = n.path("renewWithSameKey").asBoolean(false);
        if (n.has("renewWithSameKey") && !n.path("renewWithSameKey").isBoolean()) {
            errors.add(path + ".renewWithSameKey: must be true or false");
        }
        List<IpRange> ipRanges = new ArrayList<>();
        for (String r : list(n, "ipRanges")) {
            try {
                ipRanges.add(IpRange.parse(r));
            } catch (IllegalArgumentException e) {
                errors.add(path + ".ipRanges: " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            return null;
        }
        return new Profile(name, kind, validity, backdate, source, uriTemplate, org, algs, maxDer, issuer, list(n, "dnsSuffixes"), ipRanges,
                pathLen, sameKey);
    }

    private EnrollmentPolicy enrollment(JsonNode n, Map<String, Profile> profiles) {
        EnrollmentPolicy d = EnrollmentPolicy.DEFAULT;
        if (n.isMissingNode() || n.isNull()) {
            return d;
        }
        if (!n.isObject()) {
            errors.add("enrollment: must be a map of settings, like {fleets: {'*': {accept: [secret, renewal]}}}");
            return d;
        }
        unknown(n, Set.of("fleets", "deviceRate", "stationRate", "ratePeriod", "secretValidity", "cmpImplicitConfirm"), "enrollment.");
        Map<String, FleetRule> fleets = new LinkedHashMap<>();
        JsonNode f = n.path("fleets");
        if (f.isObject()) {
            f.fields().forEachRemaining(e -> fleets.put(e.getKey(), fleetRule(e.getValue(), "enrollment.fleets." + e.getKey(), profiles)));
        } else if (!f.isMissingNode()) {
            errors.add("enrollment.fleets: must be a map of device model (or '*') to a rule");
        }
        fleets.putIfAbsent("*", EnrollmentPolicy.DEFAULT_RULE);
        int deviceRate = rate(n, "deviceRate", d.deviceRate());
        int stationRate = rate(n, "stationRate", d.stationRate());
        Duration period = parse(n, "ratePeriod", "enrollment.ratePeriod", "1m", Durations::parse);
        Duration secretValidity = parse(n, "secretValidity", "enrollment.secretValidity", "7d", Durations::parse);
        JsonNode implicit = n.path("cmpImplicitConfirm");
        if (!implicit.isMissingNode() && !implicit.isBoolean()) {
            errors.add("enrollment.cmpImplicitConfirm: must be true or false");
        }
        // every setting is checked before any is given up on, so that config check reports all errors at once
        if (secretValidity != null && (secretValidity.compareTo(EnrollmentPolicy.MAX_SECRET_VALIDITY) > 0
                || secretValidity.compareTo(Duration.ofMinutes(1)) < 0)) {
            errors.add("enrollment.secretValidity: " + Durations.format(secretValidity) + " is outside 1m.."
                    + Durations.format(EnrollmentPolicy.MAX_SECRET_VALIDITY) + "; a one-time secret is for the next enrollment, not a standing credential");
        }
        if (period == null || secretValidity == null) {
            return d;
        }
        return new EnrollmentPolicy(fleets, deviceRate, stationRate, period, secretValidity, implicit.asBoolean(false));
    }

    /** {@code notifications.webhooks}: registry notification endpoints (docs/cloud.md). */
    private List<Webhook> webhooks(JsonNode n) {
        unknown(n, Set.of("webhooks"), "notifications.");
        List<Webhook> out = new ArrayList<>();
        JsonNode list = n.path("webhooks");
        if (list.isMissingNode() || list.isNull()) {
            return out;
        }
        if (!list.isArray()) {
            errors.add("notifications.webhooks: must be a list of endpoints (- name: hub, url: https://...)");
            return out;
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode w = list.get(i);
            String path = "notifications.webhooks[" + i + "]";
            unknown(w, Set.of("name", "url", "events", "secret", "perMinute", "timeout", "attempts", "backoff", "trust"), path + ".");
            String name = text(w, "name", path + ".name", null);
            if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
                errors.add(path + ".name: '" + name + "' must be given, with only letters, digits, '.', '_' and '-'");
            } else if (!names.add(name)) {
                errors.add(path + ".name: '" + name + "' is used twice; each endpoint needs its own name (it keys its delivery state)");
            }
            String url = text(w, "url", path + ".url", null);
            java.net.URI uri = null;
            try {
                uri = url == null ? null : new java.net.URI(url);
                if (uri == null || uri.getHost() == null || !("https".equals(uri.getScheme()) || "http".equals(uri.getScheme()))) {
                    errors.add(path + ".url: '" + url + "' must be an https:// URL");
                    uri = null;
                } else if ("http".equals(uri.getScheme()) && !loopback(uri.getHost())) {
                    errors.add(path + ".url: '" + url + "' is plain http to another machine; events carry device ids and certificates "
                            + "and say which devices to trust: use https (http only to a receiver on this machine: localhost, 127.0.0.1, ::1)");
                    uri = null;
                }
            } catch (java.net.URISyntaxException e) {
                errors.add(path + ".url: '" + url + "' is not a URL: " + e.getMessage());
            }
            List<String> events = list(w, "events");
            if (events.isEmpty()) {
                events = Webhook.EVENTS;
            }
            for (String e : events) {
                if (!Webhook.EVENTS.contains(e)) {
                    errors.add(path + ".events: '" + e + "' is not an event; the events are " + Webhook.EVENTS);
                }
            }
            SecretSource secret = secret(w, "secret", path + ".secret", null);
            int perMinute = w.path("perMinute").asInt(Webhook.DEFAULT_PER_MINUTE);
            if (w.has("perMinute") && (!w.path("perMinute").canConvertToInt() || perMinute < 1 || perMinute > 100_000)) {
                errors.add(path + ".perMinute: '" + w.path("perMinute").asText() + "' must be a whole number from 1 to 100000");
            }
            int attempts = w.path("attempts").asInt(Webhook.DEFAULT_ATTEMPTS);
            if (w.has("attempts") && (!w.path("attempts").canConvertToInt() || attempts < 1 || attempts > 100)) {
                errors.add(path + ".attempts: '" + w.path("attempts").asText() + "' must be a whole number from 1 to 100");
            }
            Duration timeout = parse(w, "timeout", path + ".timeout", Durations.format(Webhook.DEFAULT_TIMEOUT), Durations::parse);
            if (timeout != null && (timeout.isZero() || timeout.compareTo(Duration.ofMinutes(5)) > 0)) {
                errors.add(path + ".timeout: must be more than 0 and at most 5m");
            }
            Duration backoff = parse(w, "backoff", path + ".backoff", Durations.format(Webhook.DEFAULT_BACKOFF), Durations::parse);
            if (backoff != null && (backoff.isNegative() || backoff.isZero() || backoff.compareTo(Webhook.MAX_BACKOFF) > 0)) {
                errors.add(path + ".backoff: must be more than 0 and at most 5m");
            }
            String trust = text(w, "trust", path + ".trust", null);
            java.nio.file.Path trustFile = trust == null ? null : home.resolve(trust);
            if (trustFile != null && !Files.isRegularFile(trustFile)) {
                errors.add(path + ".trust: no file at " + trustFile + " (a PEM file of the CA certificates the endpoint's certificate chains to)");
            }
            out.add(new Webhook(name, uri, new java.util.LinkedHashSet<>(events), secret, perMinute, timeout, attempts, backoff, trustFile));
        }
        return out;
    }

    private static boolean loopback(String host) {
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        return h.equals("localhost") || h.equals("::1") || h.startsWith("127.");
    }

    private RevocationSettings revocation(JsonNode n) {
        unknown(n, Set.of("crl", "ocsp"), "revocation.");
        JsonNode crl = n.path("crl");
        unknown(crl, Set.of("validity", "refresh", "shards", "maxEntries", "keepExpired"), "revocation.crl.");
        JsonNode ocsp = n.path("ocsp");
        unknown(ocsp, Set.of("validity", "refreshAhead", "cacheEntries", "unknownPerSecond"), "revocation.ocsp.");
        RevocationSettings d = RevocationSettings.DEFAULT;
        Duration crlValidity = parse(crl, "validity", "revocation.crl.validity", Durations.format(d.crlValidity()), Durations::parse);
        Duration crlRefresh = parse(crl, "refresh", "revocation.crl.refresh", Durations.format(d.crlRefresh()), Durations::parse);
        int shards = crl.path("shards").asInt(d.crlShards());
        if (crl.has("shards") && (!crl.path("shards").canConvertToInt() || shards < 1 || shards > 4096)) {
            errors.add("revocation.crl.shards: '" + crl.path("shards").asText() + "' must be a whole number from 1 to 4096");
        }
        long maxEntries = crl.path("maxEntries").asLong(d.crlMaxEntries());
        if (maxEntries < 1) {
            errors.add("revocation.crl.maxEntries: must be at least 1");
        }
        JsonNode keep = crl.path("keepExpired");
        if (!keep.isMissingNode() && !keep.isBoolean()) {
            errors.add("revocation.crl.keepExpired: '" + keep.asText() + "' must be true or false");
        }
        Duration ocspValidity = parse(ocsp, "validity", "revocation.ocsp.validity", Durations.format(d.ocspValidity()), Durations::parse);
        Duration ahead = parse(ocsp, "refreshAhead", "revocation.ocsp.refreshAhead", Durations.format(d.ocspRefreshAhead()), Durations::parse);
        int cacheEntries = ocsp.path("cacheEntries").asInt(d.ocspCacheEntries());
        if (ocsp.has("cacheEntries") && (!ocsp.path("cacheEntries").canConvertToInt() || cacheEntries < 0)) {
            errors.add("revocation.ocsp.cacheEntries: '" + ocsp.path("cacheEntries").asText() + "' must be a whole number >= 0 (0: no answers kept in memory)");
        }
        int unknownRate = ocsp.path("unknownPerSecond").asInt(d.ocspUnknownPerSecond());
        if (ocsp.has("unknownPerSecond") && (!ocsp.path("unknownPerSecond").canConvertToInt() || unknownRate < 1)) {
            errors.add("revocation.ocsp.unknownPerSecond: '" + ocsp.path("unknownPerSecond").asText() + "' must be a whole number >= 1 "
                    + "(answers for never-issued serials signed per second)");
        }
        if (crlValidity != null && crlRefresh != null && crlRefresh.compareTo(crlValidity) >= 0) {
            errors.add("revocation.crl.refresh: " + Durations.format(crlRefresh) + " must be shorter than revocation.crl.validity "
                    + Durations.format(crlValidity) + ", or relying parties hold a CRL past its nextUpdate");
        }
        if (ocspValidity != null && ahead != null && ahead.compareTo(ocspValidity) >= 0) {
            errors.add("revocation.ocsp.refreshAhead: " + Durations.format(ahead) + " must be shorter than revocation.ocsp.validity "
                    + Durations.format(ocspValidity));
        }
        return new RevocationSettings(crlValidity, crlRefresh, Math.max(1, shards), maxEntries, keep.asBoolean(false), ocspValidity, ahead,
                Math.max(0, cacheEntries), Math.max(1, unknownRate));
    }

    private int rate(JsonNode n, String field, int def) {
        JsonNode v = n.path(field);
        if (v.isMissingNode()) {
            return def;
        }
        if (!v.canConvertToInt() || v.asInt() < 0) {
            errors.add("enrollment." + field + ": must be a whole number >= 0 (enrollments per ratePeriod; 0: no limit)");
            return def;
        }
        return v.asInt();
    }

    private FleetRule fleetRule(JsonNode n, String path, Map<String, Profile> profiles) {
        unknown(n, Set.of("accept", "otherwise", "serverKeygen", "profiles"), path + ".");
        var def = EnrollmentPolicy.DEFAULT_RULE;
        Set<Credential> accept = n.has("accept") ? credentials(n, "accept", path) : def.accept();
        Set<Credential> keygen = n.has("serverKeygen") ? credentials(n, "serverKeygen", path) : def.serverKeygen();
        String otherwise = text(n, "otherwise", path + ".otherwise", "pending");
        Otherwise o = switch (otherwise) {
            case "pending" -> Otherwise.PENDING;
            case "refuse" -> Otherwise.REFUSE;
            default -> {
                errors.add(path + ".otherwise: '" + otherwise + "' must be pending (an operator decides) or refuse");
                yield Otherwise.REFUSE;
            }
        };
        return new FleetRule(accept, o, keygen, profileScopes(n.path("profiles"), path + ".profiles", profiles));
    }

    /**
     * {@code profiles: {secret: [device], station: [device, device-peer]}}: what each credential
     * kind may obtain. Only device-side profiles (kind device or device-peer) may be listed: server,
     * code-signing, CA, OCSP and cloud-verification certificates need an operator.
     */
    private Map<Credential, Set<String>> profileScopes(JsonNode n, String path, Map<String, Profile> profiles) {
        Map<Credential, Set<String>> out = new EnumMap<>(Credential.class);
        if (n.isMissingNode()) {
            return out;
        }
        if (!n.isObject()) {
            errors.add(path + ": must be a map of credential kind to profile names, like {secret: [device]}");
            return out;
        }
        n.fields().forEachRemaining(e -> {
            Credential kind;
            try {
                kind = Credential.parse(e.getKey());
            } catch (IllegalArgumentException ex) {
                errors.add(path + ": " + ex.getMessage());
                return;
            }
            Set<String> names = new LinkedHashSet<>();
            for (String name : list(n, e.getKey())) {
                Profile p = profiles.get(name);
                if (p == null) {
                    errors.add(path + "." + e.getKey() + ": no profile named '" + name + "'; profiles: " + new TreeSet<>(profiles.keySet()));
                } else if (!p.deviceSide()) {
                    errors.add(path + "." + e.getKey() + ": profile '" + name + "' is a " + p.kind().configName() + " profile; a "
                            + e.getKey() + " credential may obtain only device and device-peer profiles (" + p.kind().configName()
                            + " certificates are issued by an operator: fleetpki sign, or an admin API token)");
                } else {
                    names.add(name);
                }
            }
            out.put(kind, names);
        });
        return out;
    }

    private Set<Credential> credentials(JsonNode n, String field, String path) {
        Set<Credential> out = EnumSet.noneOf(Credential.class);
        for (String s : list(n, field)) {
            try {
                out.add(Credential.parse(s));
            } catch (IllegalArgumentException e) {
                errors.add(path + "." + field + ": " + e.getMessage());
            }
        }
        return out;
    }

    private void unknown(JsonNode n, Set<String> known, String prefix) {
        if (n.isObject()) {
            n.fieldNames().forEachRemaining(f -> {
                if (!known.contains(f)) {
                    errors.add(prefix + f + ": unknown setting; known here: " + new TreeSet<>(known));
                }
            });
        }
    }

    private String text(JsonNode n, String field, String path, String def) {
        JsonNode v = n.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return def;
        }
        if (!v.isValueNode()) {
            errors.add(path + ": must be a single value");
            return def;
        }
        return v.asText();
    }

    private SecretSource secret(JsonNode n, String field, String path, String def) {
        String t = text(n, field, path, def);
        if (t == null) {
            return null;
        }
        try {
            return SecretSource.parse(t, home);
        } catch (IllegalArgumentException e) {
            errors.add(path + ": " + e.getMessage());
            return null;
        }
    }

    private <T> T parse(JsonNode n, String field, String path, String def, Function<String, T> f) {
        String t = text(n, field, path, def);
        if (t == null) {
            return null;
        }
        try {
            return f.apply(t);
        } catch (IllegalArgumentException e) {
            errors.add(path + ": " + e.getMessage());
            return null;
        }
    }

    private static List<String> list(JsonNode n, String field) {
        List<String> out = new ArrayList<>();
        JsonNode v = n.path(field);
        if (v.isArray()) {
            v.forEach(x -> out.add(x.asText()));
        } else if (v.isValueNode() && !v.isNull()) {
            out.add(v.asText());
        }
        return out;
    }
}
