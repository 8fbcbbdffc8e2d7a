package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A digest is reused only for the same, settled version of a file: a file changed in place (same
 * size, same path) is hashed again, and a file written moments ago is not remembered.
 */
class DigestCacheTest {

    @TempDir
    Path dir;

    @Test
    void settledFileIsHashedOnceAndAChangedOneAgain() throws Exception {
        Path file = dir.resolve("a.bin");
        byte[] bytes = new byte[1 << 16];
        new java.util.Random(1).nextBytes(bytes);
        Files.write(file, bytes);
        Thread.sleep(DigestCache.SETTLE_SECONDS * 1000 + 200);

        AtomicInteger computed = new AtomicInteger();
        Supplier<String> compute = () -> {
            computed.incrementAndGet();
            try {
                return Sha256.of(Files.readAllBytes(file));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        String first = DigestCache.digest(FileDigest.SHA256, file, compute);
        String second = DigestCache.digest(FileDigest.SHA256, file, compute);
        assertEquals(Sha256.of(bytes), first);
        assertEquals(first, second);
        assertEquals(1, computed.get(), "the settled, unchanged file is read once");

        String store = System.getenv("MERGEVAL_DIGEST_CACHE");
        if (store != null && !store.equals("off")) {
            try (var entries = Files.list(Path.of(store))) {
                assertTrue(entries.anyMatch(p -> readQuietly(p).equals(first)), "remembered in " + store);
            }
        }

        // Same size, same path, one byte different: never matched to the old digest.
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(100);
            raf.write(bytes[100] ^ 1);
        }
        FileSystem fs = FileSystem.getLocal(new Configuration());
        String changed = Sha256.of(fs, new org.apache.hadoop.fs.Path(file.toUri()));
        assertNotEquals(first, changed);
        assertEquals(Sha256.of(Files.readAllBytes(file)), changed);
        assertEquals(changed, DigestCache.digest(FileDigest.SHA256, file, compute));
        assertEquals(2, computed.get(), "a file written moments ago is hashed again, not remembered");
    }

    @Test
    void forgottenDigestIsComputedAgain() throws Exception {
        Path file = dir.resolve("b.bin");
        Files.writeString(file, "mergeval");
        Thread.sleep(DigestCache.SETTLE_SECONDS * 1000 + 200);
        AtomicInteger computed = new AtomicInteger();
        Supplier<String> compute = () -> {
            computed.incrementAndGet();
            return Sha256.ofText("mergeval");
        };
        DigestCache.digest(FileDigest.SHA256, file, compute);
        DigestCache.forget(file);
        assertEquals(Sha256.ofText("mergeval"), DigestCache.digest(FileDigest.SHA256, file, compute));
        assertEquals(2, computed.get());
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
