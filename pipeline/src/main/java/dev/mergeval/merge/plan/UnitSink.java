package dev.mergeval.merge.plan;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/** Where a unit's encoded output bytes go: its part file, or straight into the shards. */
interface UnitSink extends Closeable {

    /**
     * Writes the remaining bytes of {@code bytes} (consuming them) as bytes
     * {@code [tensorByteOffset, tensorByteOffset + remaining)} of {@code tensor}'s data. A unit calls
     * this in its slices' order, with offsets that follow on within each slice.
     */
    void write(OutputTensor tensor, long tensorByteOffset, ByteBuffer bytes) throws IOException;
}
