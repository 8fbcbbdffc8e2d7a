package dev.mergeval.common;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Digests ({@link FileDigest}) of local files remembered per file version, so that the inputs of a
 * merge (and of every point of a sweep, and of the next merge of the same models) are hashed once,
 * not on every run: hashing reads every byte (SHA-256 at about 1.6 GB/s per core, as much CPU as a
 * merge; XXH64 at about 10).
 *
 * <p>A file version is its absolute path, device, inode, size, modification time and change time
 * (all in nanoseconds). Any write to the file, and any metadata change, moves the change time,
 * which no user call can set back, so a changed file is never matched to an old digest. As git
 * does with its index, a digest is only remembered when the file's change time is at least
 * {@value #SETTLE_SECONDS} seconds older than the moment hashing began (a write within the same
 * timestamp tick could otherwise go unseen) and when the version is unchanged after hashing.
 *
 * <p>Entries live in memory and, unless {@code MERGEVAL_DIGEST_CACHE=off}, as one small file each
 * under {@code $MERGEVAL_DIGEST_CACHE}, else {@code $XDG_CACHE_HOME/mergeval/sha256}, else
 * {@code ~/.cache/mergeval/sha256} (the directory's name is historical: it holds every kind, each
 * entry keyed by kind and version), written atomically; a store that cannot be written is skipped.
 */
public final class DigestCache {

    static final long SETTLE_SECONDS = 2;

    private static final Map<String, String> MEMORY = new ConcurrentHashMap<>();
    private static final Path STORE = store();

    private DigestCache() {
    }

    /**
     * The {@code kind} digest (lower-case hex) of local file {@code file}: remembered, or computed
     * by {@code compute} and remembered when the file is settled.
     */
    public static String digest(FileDigest kind, Path file, Supplier<String> compute) {
        long started = System.currentTimeMillis();
        Optional<String> key = version(file);
        if (key.isEmpty()) {
            return compute.get();
        }
        String id = id(kind, key.get());
        String known = MEMORY.get(id);
        if (known == null) {
            known = load(kind, id);
        }
        if (known != null) {
            MEMORY.put(id, known);
            return known;
        }
        String digest = compute.get();
        if (settled(key.get(), started) && key.equals(version(file))) {
            MEMORY.put(id, digest);
            save(id, digest);
        }
        return digest;
    }

    /** Forgets {@code file}'s digests of every kind (benchmarks that time hashing), in memory and in the store. */
    public static void forget(Path file) {
        version(file).ifPresent(key -> {
            for (FileDigest kind : FileDigest.values()) {
                String id = id(kind, key);
                MEMORY.remove(id);
                if (STORE != null) {
                    try {
                        Files.deleteIfExists(STORE.resolve(id));
                    } catch (IOException e) {
                        // Nothing remembered there, or nothing to do about it.
                    }
                }
            }
        });
    }

    /** An entry's name: SHA-256 entries keep the names earlier versions gave them. */
    private static String id(FileDigest kind, String versionKey) {
        return Sha256.ofText(kind == FileDigest.SHA256 ? versionKey : kind.id() + "\n" + versionKey);
    }

    /** The version key of {@code file}, empty where the platform does not give inode and change time. */
    private static Optional<String> version(Path file) {
        try {
            Path abs = file.toAbsolutePath().normalize();
            Map<String, Object> a = Files.readAttributes(abs, "unix:dev,ino,size,lastModifiedTime,ctime");
            if (!Files.isRegularFile(abs)) {
                return Optional.empty();
            }
            return Optional.of("v1\n" + abs + "\n" + a.get("dev") + "\n" + a.get("ino") + "\n" + a.get("size") + "\n"
                    + nanos(a.get("lastModifiedTime")) + "\n" + nanos(a.get("ctime")));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static long nanos(Object time) {
        return ((FileTime) time).to(TimeUnit.NANOSECONDS);
    }

    private static boolean settled(String key, long startedMillis) {
        long ctimeNanos = Long.parseLong(key.substring(key.lastIndexOf('\n') + 1));
        return ctimeNanos / 1_000_000 + SETTLE_SECONDS * 1000 <= startedMillis;
    }

    private static String load(FileDigest kind, String id) {
        if (STORE == null) {
            return null;
        }
        try {
            String text = Files.readString(STORE.resolve(id), StandardCharsets.UTF_8).trim();
            return text.matches("[0-9a-f]{" + (kind == FileDigest.SHA256 ? 64 : 16) + "}") ? text : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void save(String id, String digest) {
        if (STORE == null) {
            return;
        }
        try {
            Files.createDirectories(STORE);
            Path tmp = Files.createTempFile(STORE, id, ".tmp");
            Files.writeString(tmp, digest + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, STORE.resolve(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException e) {
            // A cache that cannot be written only costs the next run a rehash.
        }
    }

    private static Path store() {
        String configured = System.getenv("MERGEVAL_DIGEST_CACHE");
        if ("off".equals(configured)) {
            return null;
        }
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path root = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return root.resolve("mergeval").resolve("sha256");
    }
}
