package dev.mergeval.checkpoint;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

/** Test inputs written over in place, as a training run saving to the same path would. */
public final class WrittenOver {

    private WrittenOver() {
    }

    /**
     * Changes values in the second half of {@code file} (the low bit of every fourth byte), keeping
     * its length, and moves its modification time five seconds on.
     */
    public static void writeOver(Path file) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            for (int i = bytes.length / 2; i < bytes.length; i += 4) {
                bytes[i] ^= 1;
            }
            FileTime before = Files.getLastModifiedTime(file);
            Files.write(file, bytes);
            Files.setLastModifiedTime(file, FileTime.fromMillis(before.toMillis() + 5000));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
