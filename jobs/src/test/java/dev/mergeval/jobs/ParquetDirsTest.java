package dev.mergeval.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.Encoding;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.Util;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetDirsTest {

    private static final String PART = "part-00000-0b6c1e1c-8d3c-4d0e-9a51-3c1c2b3a4d5e-c000.snappy.parquet";
    private static final String STABLE = "part-00000-c000.snappy.parquet";

    /**
     * Parquet lists a column's encodings in a HashSet's order, which follows the JVM's identity
     * hashes: the same rows written by another JVM have another footer. Normalized, they are the same bytes.
     */
    @Test
    void footersListingEncodingsInAnotherOrderGiveTheSameBytes(@TempDir Path dir) throws IOException {
        Path one = Files.createDirectories(dir.resolve("one"));
        Path other = Files.createDirectories(dir.resolve("other"));
        write(one.resolve(PART));
        byte[] written = Files.readAllBytes(one.resolve(PART));
        Files.write(other.resolve(PART), reverseEncodings(written));
        assertNotEquals(Arrays.toString(written), Arrays.toString(Files.readAllBytes(other.resolve(PART))));

        ParquetDirs.normalize(one.toString(), new Configuration());
        ParquetDirs.normalize(other.toString(), new Configuration());

        assertEquals(List.of(STABLE), list(other));
        byte[] normalized = Files.readAllBytes(one.resolve(STABLE));
        assertArrayEquals(normalized, Files.readAllBytes(other.resolve(STABLE)));
        assertEquals(written.length, normalized.length);
        assertEquals(List.of("a 0", "b 1", "a 2"), read(other.resolve(STABLE)));
    }

    private static void write(Path file) throws IOException {
        MessageType schema = MessageTypeParser.parseMessageType(
                "message m { optional binary name (UTF8); required int64 n; }");
        try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
                .withType(schema).withDictionaryEncoding(true).build()) {
            SimpleGroupFactory rows = new SimpleGroupFactory(schema);
            for (int i = 0; i < 3; i++) {
                w.write(rows.newGroup().append("name", i % 2 == 0 ? "a" : "b").append("n", (long) i));
            }
        }
    }

    private static List<String> read(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                new org.apache.hadoop.fs.Path(file.toUri())).build()) {
            for (Group g = r.read(); g != null; g = r.read()) {
                out.add(g.getString("name", 0) + " " + g.getLong("n", 0));
            }
        }
        return out;
    }

    /** The file with every column chunk's encodings listed in reverse, as another JVM may list them. */
    private static byte[] reverseEncodings(byte[] file) throws IOException {
        int length = ByteBuffer.wrap(file, file.length - 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int start = file.length - 8 - length;
        FileMetaData metadata = Util.readFileMetaData(new ByteArrayInputStream(file, start, length));
        for (ColumnChunk c : metadata.getRow_groups().get(0).getColumns()) {
            List<Encoding> encodings = new ArrayList<>(c.getMeta_data().getEncodings());
            Collections.reverse(encodings);
            c.getMeta_data().setEncodings(encodings);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(file, 0, start);
        Util.writeFileMetaData(metadata, out);
        out.write(file, file.length - 8, 8);
        return out.toByteArray();
    }

    private static List<String> list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }
}
