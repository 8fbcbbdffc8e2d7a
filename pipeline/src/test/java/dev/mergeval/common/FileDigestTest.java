package dev.mergeval.common;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import net.jpountz.xxhash.XXHashFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The digests are the published algorithms, streamed in any cut, and kept apart in the cache. */
class FileDigestTest {

    @TempDir
    Path dir;

    private static String xxh64(byte[] bytes) {
        FileDigest.Stream s = FileDigest.XXH64.open();
        s.update(bytes, 0, bytes.length);
        return s.hex();
    }

    @Test
    void xxh64MatchesThePublishedVectors() {
        // The reference values of xxHash's own documentation and tests (seed 0).
        assertEquals("ef46db3751d8e999", xxh64(new byte[0]));
        assertEquals("44bc2cf5ad770999", xxh64("abc".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void streamingInUnevenPiecesEqualsThePortableOneShot() {
        byte[] bytes = new byte[3_000_017];
        new SplittableRandom(7).nextBytes(bytes);
        FileDigest.Stream s = FileDigest.XXH64.open();
        SplittableRandom cuts = new SplittableRandom(8);
        for (int off = 0; off < bytes.length; ) {
            int n = Math.min(bytes.length - off, 1 + cuts.nextInt(100_000));
            s.update(bytes, off, n);
            off += n;
        }
        long portable = XXHashFactory.safeInstance().hash64().hash(bytes, 0, bytes.length, 0);
        assertEquals(String.format("%016x", portable), s.hex());
    }

    @Test
    void filesAreHashedWholeAndEachKindIsRememberedApart() throws Exception {
        Path file = dir.resolve("a.bin");
        byte[] bytes = new byte[(1 << 20) * 3 + 5];
        new SplittableRandom(1).nextBytes(bytes);
        Files.write(file, bytes);
        Thread.sleep(DigestCache.SETTLE_SECONDS * 1000 + 200);
        FileSystem fs = FileSystem.getLocal(new Configuration());
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(file.toUri());
        // The second round reads both from the cache: each kind must get its own entry back.
        for (int round = 0; round < 2; round++) {
            assertEquals(xxh64(bytes), FileDigest.XXH64.of(fs, p));
            assertEquals(Sha256.of(bytes), FileDigest.SHA256.of(fs, p));
        }
    }

    @Test
    void namesParseAndABadOneNamesItsField() {
        assertEquals(FileDigest.SHA256, FileDigest.parse("SHA256", "--digest"));
        assertEquals(FileDigest.XXH64, FileDigest.parse("xxh64", "--digest"));
        BadInputException e = assertThrows(BadInputException.class, () -> FileDigest.parse("md5", "--digest"));
        assertEquals("--digest: unknown digest 'md5' (expected xxh64 or sha256)", e.getMessage());
    }
}
