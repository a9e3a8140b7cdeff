package dev.fleetpki.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleetpki.core.Authorization;
import dev.fleetpki.core.DeviceImport;
import dev.fleetpki.core.EnrollmentAuthorizer;
import dev.fleetpki.core.EnrollmentCredential;
import dev.fleetpki.core.ErrorKind;
import dev.fleetpki.core.Failpoints;
import dev.fleetpki.core.IssuanceRequest;
import dev.fleetpki.core.IssuedCertificate;
import dev.fleetpki.core.PkiException;
import dev.fleetpki.core.Profile;
import dev.fleetpki.core.Station;
import dev.fleetpki.core.StationJournal;
import dev.fleetpki.core.StoredCertificate;
import dev.fleetpki.core.UntrustedCsr;
import dev.fleetpki.kms.KeyAlgorithm;
import dev.fleetpki.kms.Pem;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Production-line batches (docs/factory.md). */
@Command(name = "factory", mixinStandardHelpOptions = true, description = "Provision a batch of devices on the production line (docs/factory.md).",
        subcommands = {FactoryCommand.Run.class, FactoryCommand.Export.class, FactoryCommand.Sync.class})
final class FactoryCommand {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One device of the batch: its id, model, and what its key comes as (a CSR, a bare public key, or nothing: the server makes it). */
    record Item(int line, String id, String model, byte[] csrBytes, Path csrFile, PublicKey publicKey) {
        boolean hasCsr() {
            return csrBytes != null || csrFile != null;
        }

        /** The CSR, read from its file (in the thread that issues it: a batch's files are read in parallel) when the row names one. */
        byte[] csr() {
            return csrBytes != null ? csrBytes : csrFile != null ? Certs.read(csrFile, "CSR") : null;
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Issue certificates for a batch of devices as a factory station, and write each device's files.",
                "Per device (CSV columns id, model, csr, public_key, file paths relative to the input; or JSON lines {id, model, csr, publicKey} "
                    + "with PEM text): a CSR (proof of possession), a bare public key read from the device by the station, or neither: the key "
                    + "is made here, if the fleet rule's serverKeygen allows stations.",
                "Missing devices are registered first (model: the row's, else the station's fleet). Every certificate goes through the same "
                    + "authorization as the station's EST path. Rerunning after a crash at any point issues nothing twice and misses nothing.",
                "Writes DIR/ID/chain.pem, cert.der (and key.pem for made keys), optionally a PKCS#12 file, an ESP-IDF NVS image (encrypted "
                    + "with --nvs-encrypt or --nvs-keys) and an esp_secure_cert partition, DIR/manifest.sha256 (SHA-256 of every file) and "
                    + "DIR/report.txt.",
                "On an offline station (its CA certified with 'fleetpki station certify'), every batch is also appended to the station's "
                    + "journal for 'fleetpki factory export'."})
    static final class Run implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--station", required = true, paramLabel = "NAME", description = "the factory station doing this") String station;
        @Option(names = "--input", required = true, paramLabel = "FILE", description = "devices.csv or devices.jsonl") Path input;
        @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the per-device files go") Path out;
        @Option(names = "--profile", defaultValue = "device", description = "certificate profile (default: ${DEFAULT-VALUE})") String profile;
        @Option(names = "--json", description = "end with one JSON object instead of the summary lines: {\"input\", \"station\", \"devices\", "
                + "\"registered\", \"issued\", \"reused\", \"alreadyDone\", \"refused\": [...], \"out\", \"manifest\", \"report\"} "
                + "(exit 65 when any row was refused, as without it; progress still goes to standard error)") boolean json;
        @Option(names = "--threads", defaultValue = "32", description = "devices issued at once, 1 to 64 (default: ${DEFAULT-VALUE}; they mostly wait "
                + "for the store, which commits the certificates of all of them in one group: more at once, larger groups)") int threads;
        @Option(names = "--key-algorithm", defaultValue = "ecdsa-p256", description = "for keys made here (default: ${DEFAULT-VALUE})") String keyAlgorithm;
        @Option(names = "--pkcs12", description = "also write DIR/ID/ID.p12 (key and chain) for keys made here, each with a random password "
                + "written beside it encrypted (ID.p12-password.pem, opened by openssl cms -decrypt); needs --secrets-recipient or --secrets-passphrase")
        boolean pkcs12;
        @Option(names = "--secrets-recipient", paramLabel = "PEM", description = "encrypt PKCS#12 passwords to this certificate or public key (RSA or EC)")
        Path secretsRecipient;
        @Option(names = "--secrets-passphrase", paramLabel = "SOURCE", description = "encrypt PKCS#12 passwords with a passphrase: env:NAME, file:PATH, prompt")
        String secretsPassphrase;
        @Option(names = "--nvs", description = "also write DIR/ID/nvs.bin: an ESP-IDF NVS partition image holding the device id, its certificate "
                + "chain, the root and (for a key made here) its key") boolean nvs;
        @Option(names = "--nvs-namespace", defaultValue = "fleetpki", description = "the NVS namespace (default: ${DEFAULT-VALUE})") String nvsNamespace;
        @Option(names = "--nvs-size", defaultValue = "0x6000", description = "the NVS partition's size, as in partitions.csv (default: ${DEFAULT-VALUE})")
        String nvsSize;
        @Option(names = "--nvs-key", paramLabel = "WHAT=KEY", description = "the NVS key of device_id, cert, ca_cert or key (default: those names); "
                + "repeat for more") Map<String, String> nvsKeys = new LinkedHashMap<>();
        @Option(names = "--nvs-encrypt", description = "encrypt each nvs.bin (ESP-IDF NVS encryption, AES-XTS) with XTS keys made for that "
                + "device, written beside it as nvs_keys.bin (the nvs_keys partition image; flash it encrypted)") boolean nvsEncrypt;
        @Option(names = "--nvs-keys", paramLabel = "FILE", description = "encrypt every nvs.bin with the XTS keys of this nvs_keys partition image "
                + "(as nvs_partition_gen.py generate-key writes it) instead") Path nvsKeysFile;

        @Option(names = "--esp-secure-cert", description = "also write DIR/ID/esp_secure_cert.bin: the esp_secure_cert partition (TLV format) "
                + "with the device's certificate chain, the root and (for a key made here) its key") boolean espSecureCert;

        /** The XTS keys of --nvs-keys, read once. */
        private byte[] sharedNvsKeys;

        /** A recipient for each PKCS#12 password file (a new one each time: fresh ephemeral key or salt). */
        private java.util.function.Supplier<org.bouncycastle.cms.RecipientInfoGenerator> passwordRecipient;

        /** Writes the device folders, one at a time. */
        private FileWriter writer;

        /**
         * The one thread that writes device folders: each file and folder made in DIR takes a lock
         * in the kernel that many threads at once spin on (ext4: more than half a batch's time went
         * there with 16 writing threads); one writer keeps up with the signing threads. A bounded
         * queue holds the folders waiting (so memory stays bounded when the disk is slower).
         */
        private final class FileWriter {
            private final java.util.concurrent.BlockingQueue<Runnable> queue = new java.util.concurrent.ArrayBlockingQueue<>(256);
            private final Thread thread;
            private final List<String> failures;
            private volatile boolean stop;
            private volatile Throwable broken;

            interface Job {
                void run() throws IOException;
            }

            FileWriter(List<String> failures) {
                this.failures = failures;
                this.thread = Thread.ofPlatform().name("fleetpki-factory-files").start(this::loop);
            }

            void put(Item it, Job job) {
                try {
                    queue.put(() -> {
                        try {
                            job.run();
                        } catch (IOException | RuntimeException e) {
                            failures.add("line " + it.line() + " (" + it.id() + "): cannot write its files: " + e.getMessage());
                        }
                    });
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PkiException(ErrorKind.INTERNAL, "interrupted");
                }
            }

            private void loop() {
                while (!stop || !queue.isEmpty()) {
                    Runnable r;
                    try {
                        r = queue.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (r == null) {
                        continue;
                    }
                    if (broken != null) {
                        continue; // taken, so no issuing thread waits forever on a full queue; reported below
                    }
                    try {
                        r.run();
                    } catch (Throwable e) { // an Error (out of memory): the rest are not written, and the run says so
                        broken = e;
                        failures.add("the file writer stopped (" + e + "); devices after this one have their certificates "
                                + "stored but no files: run the batch again to write them");
                    }
                }
            }

            /** Waits until every folder put is written. */
            void finish() throws InterruptedException {
                stop = true;
                thread.join();
            }
        }

        /** The device folders complete before this run (listed once), and the SHA-256 of each file this run wrote, by path under DIR. */
        private final java.util.Set<String> finishedBefore = ConcurrentHashMap.newKeySet();
        private final Map<String, String> sums = new ConcurrentHashMap<>();

        /** Devices this run registered (they have no certificate to look for). */
        private final java.util.Set<String> registeredNow = ConcurrentHashMap.newKeySet();
        /** The chain above each issuing CA, as PEM, read once per run. */
        private final Map<String, Above> aboves = new ConcurrentHashMap<>();

        @Override
        public Integer call() throws Exception {
            long started = System.nanoTime();
            if (threads < 1 || threads > 64) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--threads must be 1 to 64");
            }
            KeyAlgorithm made = KeyAlgorithm.parse(keyAlgorithm);
            if (pkcs12) {
                if ((secretsRecipient == null) == (secretsPassphrase == null)) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--pkcs12 needs exactly one of --secrets-recipient or --secrets-passphrase: "
                            + "each file's password is written encrypted, never in plain text");
                }
                if (secretsRecipient != null) {
                    SecretsFile.recipient(secretsRecipient); // checked before anything is issued
                    passwordRecipient = () -> SecretsFile.recipient(secretsRecipient);
                } else {
                    char[] pass = dev.fleetpki.kms.SecretSource.parse(secretsPassphrase, null).read();
                    SecretsFile.passphrase(pass);
                    passwordRecipient = () -> SecretsFile.passphrase(pass);
                }
            } else if (secretsRecipient != null || secretsPassphrase != null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--secrets-recipient and --secrets-passphrase go with --pkcs12");
            }
            if (nvs) {
                for (String k : nvsKeys.keySet()) {
                    if (!List.of("device_id", "cert", "ca_cert", "key").contains(k)) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--nvs-key " + k + "=...: what is named is device_id, cert, ca_cert or key");
                    }
                }
                nvsImage("check", "", "", null); // bad namespace, key names or size are refused before anything is issued
                if (nvsEncrypt && nvsKeysFile != null) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, "give --nvs-encrypt (keys made per device) or --nvs-keys FILE (one set of keys), not both");
                }
                if (nvsKeysFile != null) {
                    sharedNvsKeys = NvsImage.keysOf(Files.readAllBytes(nvsKeysFile), nvsKeysFile.toString());
                }
            } else if (nvsEncrypt || nvsKeysFile != null) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--nvs-encrypt and --nvs-keys go with --nvs");
            }
            List<String> refused = new ArrayList<>();
            List<Item> items = read(input, refused);
            try (Fleet f = home.open()) {
                Profile issuing = f.config().profile(profile).orElseThrow(() -> new PkiException(ErrorKind.NOT_FOUND, "no profile named '"
                        + profile + "'; profiles: " + String.join(", ", new java.util.TreeSet<>(f.config().profiles().keySet()))));
                Station st = f.store().credentials().station(station).filter(Station::active).orElseThrow(() -> new PkiException(
                        ErrorKind.NOT_AUTHORIZED, "'" + station + "' is not an active factory station; register one with: fleetpki station add "
                        + station + " --certificate FILE --fleet MODEL"));
                Files.createDirectories(out);
                finishedBefore.addAll(finished(out));
                Progress progress = new Progress(items.size(), started);
                AtomicInteger issued = new AtomicInteger();
                AtomicInteger reused = new AtomicInteger();
                AtomicInteger done = new AtomicInteger();
                List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
                writer = new FileWriter(failures);
                // at most a few devices per thread waiting: no queue (or list of futures) as long as the batch
                java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(threads * 4);
                int registered = 0;
                // the CA key opened (a file key's PBKDF2: a few hundred ms) while the first devices are registered
                String issuer = f.pipeline().issuerFor(issuing);
                java.util.concurrent.CompletableFuture<?> caOpened = java.util.concurrent.CompletableFuture.runAsync(() -> f.cas().get(issuer));
                try (ExecutorService pool = Executors.newFixedThreadPool(threads); ExecutorService registrar = Executors.newSingleThreadExecutor()) {
                    // the missing devices registered a chunk at a time (each chunk one transaction, as device import does),
                    // one chunk ahead of issuance, so registering and issuing overlap
                    java.util.concurrent.Future<Integer> next = registrar.submit(() -> register(f, st, chunk(items, 0), failures));
                    for (int from = 0; from < items.size(); from += REGISTER_CHUNK) {
                        registered += next.get();
                        if (from + REGISTER_CHUNK < items.size()) {
                            List<Item> following = chunk(items, from + REGISTER_CHUNK);
                            next = registrar.submit(() -> register(f, st, following, failures));
                        }
                        if (from == 0) {
                            try {
                                caOpened.join();
                            } catch (java.util.concurrent.CompletionException e) {
                                // nothing issued (the devices registered so far stay registered, as a rerun would register them)
                                throw e.getCause() instanceof Exception x ? x : e;
                            }
                        }
                        for (Item it : chunk(items, from)) {
                            inFlight.acquire();
                            pool.execute(() -> {
                                try {
                                    String o = provision(f, st, it, made);
                                    (o.equals("issued") ? issued : o.equals("reused") ? reused : done).incrementAndGet();
                                } catch (PkiException e) {
                                    failures.add("line " + it.line() + " (" + it.id() + "): " + e.detail());
                                } catch (IOException e) {
                                    failures.add("line " + it.line() + " (" + it.id() + "): cannot write its files: "
                                            + dev.fleetpki.kms.FileFailure.reason(e));
                                } catch (dev.fleetpki.kms.KeyStoreFailure e) { // a file named by the row that cannot be read
                                    failures.add("line " + it.line() + " (" + it.id() + "): " + e.getMessage());
                                } catch (RuntimeException e) {
                                    failures.add("line " + it.line() + " (" + it.id() + "): " + e);
                                } finally {
                                    progress.step();
                                    inFlight.release();
                                }
                            });
                        }
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof Exception x ? x : e;
                } finally { // the pool's close waited for every device
                    writer.finish();
                }
                progress.finish();
                refused.addAll(failures);
                journal(f, issuer);
                writeManifest(out, sums, finishedBefore);
                String summary = "Batch from " + input.getFileName() + " by station '" + station + "': " + items.size() + (items.size() == 1 ? " device" : " devices") + "; registered "
                        + registered + ", issued " + issued.get() + ", already issued (files rewritten) " + reused.get() + ", already done "
                        + done.get() + ", refused " + refused.size() + "; " + progress.rateLine();
                StringBuilder report = new StringBuilder(summary).append('\n');
                refused.stream().sorted().forEach(x -> report.append("refused ").append(x).append('\n'));
                Files.writeString(out.resolve("report.txt"), report);
                if (json) {
                    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                    m.put("input", input.toString());
                    m.put("station", station);
                    m.put("devices", items.size());
                    m.put("registered", registered);
                    m.put("issued", issued.get());
                    m.put("reused", reused.get());
                    m.put("alreadyDone", done.get());
                    m.put("refused", refused.stream().sorted().toList());
                    m.put("out", out.toString());
                    m.put("manifest", out.resolve("manifest.sha256").toString());
                    m.put("report", out.resolve("report.txt").toString());
                    Certs.printJson(m);
                    return refused.isEmpty() ? 0 : 65;
                }
                System.out.println(summary);
                refused.stream().sorted().forEach(x -> System.err.println("  refused " + x));
                System.out.println("Files in " + out + "; SHA-256 of each in " + out.resolve("manifest.sha256") + " (sha256sum -c), report in "
                        + out.resolve("report.txt"));
                return refused.isEmpty() ? 0 : 65;
            }
        }

        /** Devices registered per transaction while the batch runs. */
        static final int REGISTER_CHUNK = 2048;

        private static List<Item> chunk(List<Item> items, int from) {
            return items.subList(from, Math.min(items.size(), from + REGISTER_CHUNK));
        }

        /** Registers the chunk's devices not registered yet (device import passes over those that are); returns how many, refusals into {@code failures}. */
        private int register(Fleet f, Station st, List<Item> chunk, List<String> failures) {
            if (chunk.isEmpty()) {
                return 0;
            }
            List<DeviceImport.Row> rows = new ArrayList<>(chunk.size());
            for (Item it : chunk) {
                rows.add(new DeviceImport.Row(it.line(), it.id(), it.model() != null ? it.model() : st.fleet(), Map.of("station", station), null));
            }
            DeviceImport.Result r = DeviceImport.run(new DeviceImport.Parsed(rows, List.of()), new DeviceImport.Options(true, true, null),
                    f.store().devices(), null, home.actor(), f.clock().instant());
            r.errors().forEach(e -> failures.add(e.toString()));
            registeredNow.addAll(r.imported());
            return r.imported().size();
        }

        /**
         * One device: nothing if its folder is there; else the certificate already stored for its
         * key (a run cut short after issuing), else a new one through the station's authorization;
         * then its files, written in {@code DIR/.ID.partial} and that folder renamed to
         * {@code DIR/ID} (a crash leaves the whole folder or none of it).
         */
        private String provision(Fleet f, Station st, Item it, KeyAlgorithm made) throws IOException {
            String name = safe(it.id());
            if (finishedBefore.contains(name)) {
                return "done";
            }
            Path dir = out.resolve("." + name + ".partial"); // a crashed run's: its key.pem and nvs_keys.bin are used again
            PublicKey key;
            java.security.PrivateKey privateKey = null;
            EnrollmentAuthorizer.Purpose purpose;
            IssuanceRequest req;
            if (it.hasCsr()) {
                UntrustedCsr csr = UntrustedCsr.parse(it.csr()); // its signature checked: proof of possession; its CN checked by the pipeline
                key = csr.publicKey();
                purpose = EnrollmentAuthorizer.Purpose.ENROLL;
                req = IssuanceRequest.fromCsr(csr, it.id(), profile, "factory");
            } else if (it.publicKey() != null) {
                key = it.publicKey();
                purpose = EnrollmentAuthorizer.Purpose.BARE_KEY;
                req = IssuanceRequest.fromBareKey(key, it.id(), profile, "factory");
            } else {
                folder(dir);
                KeyPair kp = madeKey(dir, made);
                privateKey = kp.getPrivate();
                key = kp.getPublic();
                purpose = EnrollmentAuthorizer.Purpose.SERVER_KEYGEN;
                req = new IssuanceRequest(it.id(), profile, key, it.id(), List.of(), true, "factory", null, null);
            }
            String o = "issued";
            IssuedCertificate issued;
            // decided first, also for a certificate already stored: a station outside the device's fleet gets neither a new one nor the old one's files
            Authorization auth = switch (f.authorizer().decide(new EnrollmentCredential.FactoryStation(st), it.id(), profile, purpose, "factory")) {
                case EnrollmentAuthorizer.Allowed a -> a.authorization();
                case EnrollmentAuthorizer.NeedsApproval n -> throw new PkiException(ErrorKind.NOT_AUTHORIZED, n.reason());
            };
            // a device registered by this run has no certificate yet; one registered before may (a run cut short after issuing)
            Optional<StoredCertificate> existing = registeredNow.contains(it.id()) ? Optional.empty()
                    : f.store().certificates().certificates(it.id(), f.clock().instant(), null, 50).stream()
                    .filter(c -> !c.revoked() && c.issued().profile().equals(profile))
                    .filter(c -> Arrays.equals(c.issued().certificate().getPublicKey().getEncoded(), key.getEncoded())).findFirst();
            if (existing.isPresent()) {
                issued = existing.get().issued();
                o = "reused";
            } else {
                issued = f.pipeline().issue(req, auth);
                Failpoints.hit("factory.issued");
            }
            List<OutFile> files = new ArrayList<>();
            // the files are made from the DER and the issuing CA's chain, read once per CA
            Above above = aboves.computeIfAbsent(issued.caName(), n -> Above.of(f.cas().chainFrom(f.store().ca(n).orElseThrow())));
            String chainPem = Pem.encode("CERTIFICATE", issued.der()) + above.chainPem();
            files.add(new OutFile("chain.pem", chainPem.getBytes(StandardCharsets.US_ASCII), false));
            files.add(new OutFile("cert.der", issued.der(), false));
            if (pkcs12 && privateKey != null) {
                // the password first, encrypted like the enrollment secrets, then the file it opens
                char[] password = Pkcs12Bundle.password();
                files.add(new OutFile(name + ".p12-password.pem", SecretsFile.encrypt(new String(password).getBytes(StandardCharsets.US_ASCII),
                        passwordRecipient.get()).getBytes(StandardCharsets.US_ASCII), false));
                List<X509Certificate> chain = new ArrayList<>();
                chain.add(issued.certificate());
                chain.addAll(above.certificates());
                files.add(new OutFile(name + ".p12", Pkcs12Bundle.build(privateKey, chain, it.id(), password), true));
                Arrays.fill(password, '\0');
            }
            // the key made here, as key.pem holds it, for the images that carry it (read once for both)
            Path keyFile = dir.resolve("key.pem");
            String keyPem = (nvs || espSecureCert) && !it.hasCsr() && it.publicKey() == null && Files.exists(keyFile) ? Files.readString(keyFile) : null;
            if (nvs) {
                byte[] image = nvsImage(it.id(), chainPem, above.rootPem(), keyPem);
                byte[] keys = nvsEncrypt ? nvsKeys(dir) : sharedNvsKeys;
                if (keys != null) {
                    image = NvsImage.encrypt(image, keys);
                }
                files.add(new OutFile("nvs.bin", image, keyPem != null)); // 0600 also when encrypted: its keys may be beside it
            }
            if (espSecureCert) {
                EspSecureCert part = new EspSecureCert()
                        .add(EspSecureCert.DEV_CERT, (chainPem + "\0").getBytes(StandardCharsets.US_ASCII))
                        .add(EspSecureCert.CA_CERT, (above.rootPem() + "\0").getBytes(StandardCharsets.US_ASCII));
                if (keyPem != null) {
                    part.add(EspSecureCert.PRIV_KEY, (keyPem + "\0").getBytes(StandardCharsets.US_ASCII));
                }
                files.add(new OutFile("esp_secure_cert.bin", part.build(), keyPem != null));
            }
            writer.put(it, () -> {
                folder(dir);
                for (OutFile x : files) {
                    file(dir, x.name(), x.content(), x.secret());
                }
                Failpoints.hit("factory.files");
                synchronized (outLock) {
                    Files.move(dir, out.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                }
            });
            return o;
        }

        /** A device file to write. */
        private record OutFile(String name, byte[] content, boolean secret) {}

        /**
         * The device's NVS partition image: its id as a string; as blobs of PEM text ending with a
         * NUL (how Mbed TLS's PEM parsers, esp-tls among them, want it): {@code cert}, what the device
         * presents (its certificate and the CAs between it and the root: esp-tls's clientcert),
         * {@code ca_cert}, the root it verifies servers against (esp-tls's cacert), and {@code key},
         * its private key when made here.
         */
        byte[] nvsImage(String id, String chainPem, String rootPem, String keyPem) {
            NvsImage img = new NvsImage(nvsNamespace);
            img.string(nvsKeys.getOrDefault("device_id", "device_id"), id);
            img.blob(nvsKeys.getOrDefault("cert", "cert"), (chainPem + "\0").getBytes(StandardCharsets.US_ASCII));
            img.blob(nvsKeys.getOrDefault("ca_cert", "ca_cert"), (rootPem + "\0").getBytes(StandardCharsets.US_ASCII));
            if (keyPem != null) {
                img.blob(nvsKeys.getOrDefault("key", "key"), (keyPem + "\0").getBytes(StandardCharsets.US_ASCII));
            }
            int size;
            try {
                size = nvsSize.toLowerCase(java.util.Locale.ROOT).startsWith("0x") ? Integer.parseInt(nvsSize.substring(2), 16) : Integer.parseInt(nvsSize);
            } catch (NumberFormatException e) {
                throw new PkiException(ErrorKind.MALFORMED_REQUEST, "--nvs-size must be a number of bytes, like 0x6000 or 24576");
            }
            return img.build(size);
        }

        /** The device's NVS XTS keys: its nvs_keys.bin, made (and written, mode 0600) before its first image, so a rerun uses the same keys. */
        private byte[] nvsKeys(Path dir) throws IOException {
            Path file = dir.resolve("nvs_keys.bin");
            if (Files.exists(file)) {
                byte[] part = Files.readAllBytes(file);
                kept(dir, file, part);
                return NvsImage.keysOf(part, file.toString());
            }
            byte[] keys = new byte[NvsImage.KEYS];
            new java.security.SecureRandom().nextBytes(keys);
            byte[] part = NvsImage.keysPartition(keys);
            write(file, part, true);
            kept(dir, file, part);
            return keys;
        }

        /** A file kept across reruns (written beside and renamed, as a rerun reads it back), its SHA-256 kept for the manifest. */
        private void kept(Path dir, Path file, byte[] content) {
            String folder = dir.getFileName().toString(); // .ID.partial: the file's place once the folder is renamed to ID
            sums.put(folder.substring(1, folder.length() - ".partial".length()) + "/" + file.getFileName(),
                    HexFormat.of().formatHex(sha256(content)));
        }

        /** The key made for a device, kept in its folder before anything is issued for it (so a rerun certifies the same key). */
        private KeyPair madeKey(Path dir, KeyAlgorithm alg) throws IOException {
            Path file = dir.resolve("key.pem");
            if (Files.exists(file)) {
                try {
                    String pem = Files.readString(file);
                    kept(dir, file, pem.getBytes(StandardCharsets.US_ASCII));
                    var parser = new org.bouncycastle.openssl.PEMParser(new java.io.StringReader(pem));
                    var info = (org.bouncycastle.asn1.pkcs.PrivateKeyInfo) parser.readObject();
                    var priv = new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter().getPrivateKey(info);
                    return new KeyPair(publicOf(priv), priv);
                } catch (IOException | ClassCastException | java.security.GeneralSecurityException e) {
                    throw new PkiException(ErrorKind.MALFORMED_REQUEST, file + " is not the key this command made; move it away to make a new one");
                }
            }
            KeyPair kp = alg.generate();
            byte[] pem = Pem.encode("PRIVATE KEY", kp.getPrivate().getEncoded()).getBytes(StandardCharsets.US_ASCII);
            write(file, pem, true);
            kept(dir, file, pem);
            return kp;
        }

        private static PublicKey publicOf(java.security.PrivateKey priv) throws java.security.GeneralSecurityException {
            if (priv instanceof java.security.interfaces.ECPrivateKey ec) {
                var spec = ec.getParams();
                var bcSpec = org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util.convertSpec(spec);
                var q = bcSpec.getG().multiply(ec.getS()).normalize();
                var pub = new java.security.spec.ECPublicKeySpec(new java.security.spec.ECPoint(q.getAffineXCoord().toBigInteger(),
                        q.getAffineYCoord().toBigInteger()), spec);
                return java.security.KeyFactory.getInstance("EC").generatePublic(pub);
            }
            if (priv instanceof java.security.interfaces.RSAPrivateCrtKey rsa) {
                return java.security.KeyFactory.getInstance("RSA").generatePublic(new java.security.spec.RSAPublicKeySpec(rsa.getModulus(),
                        rsa.getPublicExponent()));
            }
            throw new java.security.InvalidKeyException("a " + priv.getAlgorithm() + " key");
        }

        /** Written beside, then renamed into place (a crash leaves the old file or none, never half of one). */
        static void write(Path file, byte[] content, boolean secret) throws IOException {
            Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
            if (secret) {
                Pem.writePrivateFile(tmp, content);
            } else {
                Files.write(tmp, content);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }

        /** A device file in its folder being made (no rename needed: the folder is renamed when complete), its SHA-256 kept for the manifest. */
        private void file(Path dir, String name, byte[] content, boolean secret) throws IOException {
            Path f = dir.resolve(name);
            if (secret) {
                Files.deleteIfExists(f);
                Pem.writePrivateFile(f, content);
            } else {
                Files.write(f, content);
            }
            kept(dir, f, content);
        }

        /**
         * Folders made in and renamed into DIR one at a time: each takes DIR's lock in the kernel, on
         * which many threads at once spin (ext4: most of a batch's time went there).
         */
        private final Object outLock = new Object();

        private void folder(Path dir) throws IOException {
            synchronized (outLock) {
                try {
                    Files.createDirectory(dir); // DIR exists; one call, no look first
                } catch (java.nio.file.FileAlreadyExistsException e) {
                    if (!Files.isDirectory(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        throw new IOException(dir + " is there and is not a folder; move it away", e);
                    }
                }
            }
        }

        /** The device folders already in DIR (complete: a folder being made is DIR/.ID.partial). */
        private static java.util.Set<String> finished(Path out) throws IOException {
            try (var list = Files.list(out)) {
                return list.filter(Files::isDirectory).map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
                        .collect(java.util.stream.Collectors.toSet());
            }
        }

        /**
         * DIR/manifest.sha256: every device file's SHA-256, in sha256sum's format, for all runs into
         * DIR: this run's from what it wrote, earlier runs' from the manifest they left (a folder that
         * manifest does not cover is read and hashed).
         */
        private static void writeManifest(Path out, Map<String, String> written, java.util.Set<String> before) throws IOException {
            TreeMap<String, String> all = new TreeMap<>();
            Path manifest = out.resolve("manifest.sha256");
            java.util.Set<String> covered = new java.util.HashSet<>();
            if (Files.exists(manifest)) {
                for (String line : Files.readAllLines(manifest, StandardCharsets.UTF_8)) {
                    int sp = line.indexOf("  ");
                    if (sp == 64 && line.indexOf('/') > sp) {
                        String name = line.substring(sp + 2);
                        all.put(name, line.substring(0, 64));
                        covered.add(name.substring(0, name.indexOf('/')));
                    }
                }
            }
            for (String folder : before) {
                if (!covered.contains(folder)) {
                    try (var files = Files.list(out.resolve(folder))) {
                        for (Path p : files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith(".")).toList()) {
                            all.put(folder + "/" + p.getFileName(), HexFormat.of().formatHex(sha256(Files.readAllBytes(p))));
                        }
                    }
                }
            }
            all.putAll(written);
            StringBuilder sb = new StringBuilder();
            all.forEach((name, sum) -> sb.append(sum).append("  ").append(name).append('\n'));
            write(manifest, sb.toString().getBytes(StandardCharsets.UTF_8), false);
        }

        private static byte[] sha256(byte[] b) {
            try {
                return MessageDigest.getInstance("SHA-256").digest(b);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        /**
         * A device id as a folder name: '/', ':' and '@' written as %2F, %3A and %40 (ids hold no
         * '%', so two ids never share a folder).
         */
        static String safe(String id) {
            return id.replace("/", "%2F").replace(":", "%3A").replace("@", "%40");
        }
    }

    /** The journal of an offline station's CA (HOME/journal/CA.jsonl), or null: {@code ca} is not a station CA. */
    static Path journalFile(Fleet f, String ca) {
        var rec = f.store().ca(ca).orElse(null);
        if (rec == null || rec.keyRef() == null || dev.fleetpki.core.StationPolicy.of(rec.certificate()).isEmpty()) {
            return null;
        }
        return f.config().home().resolve("journal").resolve(ca + ".jsonl");
    }

    /** Brings the journal of station CA {@code ca} up to date with the store (nothing if it is not a station CA). */
    static List<StationJournal.Entry> journal(Fleet f, String ca) {
        Path file = journalFile(f, ca);
        if (file == null) {
            return null;
        }
        return StationJournal.update(file, f.store().certificates().signedBy(ca),
                id -> f.store().devices().deviceNow(id).map(dev.fleetpki.core.Device::model).orElse("?"));
    }

    @Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false, description = {
        "On an offline station: write its journal, signed by its CA's key, for 'fleetpki factory sync' on the central CA.",
        "The journal (HOME/journal/CA.jsonl) holds every certificate the station CA signed, each entry hash-chained to the one before; "
            + "it only grows. The export carries all of it, so exporting again after more batches is always right."})
    static final class Export implements Callable<Integer> {
        @Mixin HomeOption home;
        @Option(names = "--station", required = true, paramLabel = "NAME", description = "this station's name, as certified") String station;
        @Option(names = "--ca", paramLabel = "NAME", description = "the station CA (default: the one station CA of this home)") String ca;
        @Option(names = "--out", required = true, paramLabel = "FILE", description = "where to write the signed export (CMS, DER)") Path out;

        @Override
        public Integer call() throws Exception {
            try (Fleet f = home.open()) {
                String name = ca;
                if (name == null) {
                    List<String> mine = f.store().cas().stream().filter(c -> journalFile(f, c.name()) != null).map(dev.fleetpki.core.CaRecord::name).toList();
                    if (mine.size() != 1) {
                        throw new PkiException(ErrorKind.MALFORMED_REQUEST, mine.isEmpty()
                                ? "this home has no offline station CA (one certified with 'fleetpki station certify' and imported with 'fleetpki ca import')"
                                : "this home has station CAs " + mine + "; name one with --ca");
                    }
                    name = mine.getFirst();
                }
                if (journalFile(f, name) == null) {
                    throw new PkiException(ErrorKind.NOT_FOUND, "'" + name + "' is not an offline station CA of this home");
                }
                List<StationJournal.Entry> entries = journal(f, name);
                var authority = f.cas().get(name);
                byte[] der = StationJournal.export(station, name, entries, authority.key(), authority.certificate(), authority.chain());
                Run.write(out, der, false);
                System.out.println("Exported the journal of station CA '" + name + "' (" + entries.size() + " certificates, last entry "
                        + (entries.isEmpty() ? "-" : entries.getLast().hash().substring(0, 16)) + ") to " + out);
                System.out.println("Next: on the central CA, 'fleetpki factory sync " + out.getFileName() + "'.");
            }
            return 0;
        }
    }

    @Command(name = "sync", mixinStandardHelpOptions = true, sortOptions = false, description = {
        "On the central CA: take an offline station's signed export into this store (docs/factory.md).",
        "Checks the export's signature (a station CA this store's root certified, not revoked), that the journal holds what earlier "
            + "syncs took unchanged, and each new certificate; takes the new ones (registering missing devices), counts those already "
            + "here, and reports conflicts (a serial taken by another certificate, a device of another model or not active here, one "
            + "key on two devices, past the quota) without taking them. Exit 65 when there are conflicts."})
    static final class Sync implements Callable<Integer> {
        @Mixin HomeOption home;
        @picocli.CommandLine.Parameters(paramLabel = "FILE", description = "the export from 'fleetpki factory export'") Path file;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(file)) {
                throw new PkiException(ErrorKind.NOT_FOUND, "no file " + file);
            }
            byte[] der = Files.readAllBytes(file);
            try (Fleet f = home.open()) {
                var r = new dev.fleetpki.core.StationSync(f.store(), f.store(), f.store().certificates(), f.store().devices())
                        .run(der, home.actor(), f.clock().instant());
                System.out.println(r.summary());
                r.conflicts().forEach(c -> System.err.println("  conflict " + c));
                return r.conflicts().isEmpty() ? 0 : 65;
            }
        }
    }

    /** The CAs above an issuing CA: the part of chain.pem after the device's certificate (up to, not including, the root), and the root. */
    record Above(List<X509Certificate> certificates, String chainPem, String rootPem) {
        static Above of(List<X509Certificate> above) {
            List<X509Certificate> sent = Certs.sent(above);
            StringBuilder chain = new StringBuilder();
            sent.forEach(c -> chain.append(Certs.pem(c)));
            return new Above(sent, chain.toString(), above.isEmpty() ? "" : Certs.pem(above.getLast()));
        }
    }

    /** The batch's rows; bad rows are added to {@code refused}. */
    static List<Item> read(Path input, List<String> refused) throws IOException {
        if (!Files.isRegularFile(input)) {
            throw new PkiException(ErrorKind.NOT_FOUND, "no file " + input);
        }
        List<Item> items = new ArrayList<>();
        Path base = input.toAbsolutePath().getParent();
        boolean jsonl = input.toString().endsWith(".jsonl") || input.toString().endsWith(".ndjson");
        try (BufferedReader r = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
            List<String> columns = null;
            String line;
            int n = 0;
            java.util.Set<String> ids = new java.util.HashSet<>();
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    Map<String, String> row = new LinkedHashMap<>();
                    if (jsonl) {
                        JsonNode o = JSON.readTree(line);
                        o.fieldNames().forEachRemaining(k -> {
                            if (!List.of("id", "model", "csr", "publicKey").contains(k)) {
                                throw new IllegalArgumentException("unknown field '" + k + "'; the fields are id, model, csr, publicKey");
                            }
                            row.put(k, o.path(k).asText());
                        });
                    } else if (columns == null) {
                        columns = DeviceImport.csvFields(line);
                        for (String c : columns) {
                            if (!List.of("id", "model", "csr", "public_key").contains(c)) {
                                throw new PkiException(ErrorKind.MALFORMED_REQUEST, input + " line 1: unknown column '" + c
                                        + "'; the columns are id, model, csr, public_key");
                            }
                        }
                        continue;
                    } else {
                        List<String> f = DeviceImport.csvFields(line);
                        if (f.size() != columns.size()) {
                            throw new IllegalArgumentException(f.size() + " fields where the header has " + columns.size());
                        }
                        for (int i = 0; i < f.size(); i++) {
                            if (!f.get(i).isEmpty()) {
                                row.put(columns.get(i).equals("public_key") ? "publicKey" : columns.get(i), f.get(i));
                            }
                        }
                    }
                    String id = row.get("id");
                    dev.fleetpki.core.Device.checkId(id);
                    if (!ids.add(id)) {
                        throw new IllegalArgumentException("the id appears twice in the input");
                    }
                    byte[] csr = null;
                    Path csrFile = null;
                    PublicKey pub = null;
                    if (row.containsKey("csr")) {
                        String v = row.get("csr");
                        if (jsonl) {
                            csr = v.getBytes(StandardCharsets.US_ASCII);
                        } else {
                            csrFile = base.resolve(v);
                        }
                    }
                    if (row.containsKey("publicKey")) {
                        if (csr != null || csrFile != null) {
                            throw new IllegalArgumentException("give a csr or a public key, not both");
                        }
                        String v = row.get("publicKey");
                        pub = IssueCommand.parse(jsonl ? v.getBytes(StandardCharsets.US_ASCII) : Files.readAllBytes(base.resolve(v)));
                    }
                    items.add(new Item(n, id, row.get("model"), csr, csrFile, pub));
                } catch (PkiException e) {
                    if (columns == null && !jsonl) {
                        throw e;
                    }
                    refused.add("line " + n + ": " + e.detail());
                } catch (IllegalArgumentException | IOException e) {
                    refused.add("line " + n + ": " + e.getMessage());
                }
            }
        }
        return items;
    }

    /** A progress bar on standard error (only on a terminal, and at most five times a second) and the batch's rate. */
    static final class Progress {
        private final int total;
        private final long start;
        private final AtomicInteger count = new AtomicInteger();
        private final boolean tty = System.console() != null;
        private volatile long lastDraw;

        /** @param start when the command started (System.nanoTime): the rate is the whole batch's, reading and registering included */
        Progress(int total, long start) {
            this.total = total;
            this.start = start;
        }

        void step() {
            int c = count.incrementAndGet();
            long now = System.nanoTime();
            if (tty && (now - lastDraw > 200_000_000L || c == total)) {
                lastDraw = now;
                int width = 30;
                int filled = total == 0 ? width : (int) ((long) c * width / total);
                System.err.printf("\r[%s%s] %d/%d %3d%% %,.0f/s", "#".repeat(filled), ".".repeat(width - filled), c, total,
                        total == 0 ? 100 : c * 100 / total, c / Math.max(1e-9, (now - start) / 1e9));
            }
        }

        void finish() {
            if (tty) {
                System.err.println();
            }
        }

        String rateLine() {
            double s = (System.nanoTime() - start) / 1e9;
            double rate = count.get() / Math.max(1e-9, s);
            return String.format(rate < 10 ? "%.1f s, %,.1f devices/s" : "%.1f s, %,.0f devices/s", s, rate); // a small batch: not "0 devices/s"
        }
    }

    private FactoryCommand() {}
}
