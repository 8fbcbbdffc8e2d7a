package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of valid checkpoints (byte flips, truncations, insertions and deletions in the
 * header, a changed length prefix; an index with mutated JSON): each must either open and read
 * every tensor it lists within the file, or fail with a {@link BadInputException} that names the
 * file. Any other exception (an index out of bounds, a number format error, Jackson's own, an
 * allocation sized by the file) is a bug the hand-written corpus of {@link MalformedInputTest}
 * missed.
 */
class HeaderFuzzTest {
    private static final int CASES = 3000;

    @TempDir
    Path tmp;

    private final Configuration conf = new Configuration();

    @Test
    void mutatedSafetensorsHeadersFailCleanly() throws IOException {
        byte[] valid = safetensors("""
                {"__metadata__":{"format":"pt"},\
                "model.embed_tokens.weight":{"dtype":"BF16","shape":[4,3],"data_offsets":[0,24]},\
                "model.layers.0.mlp.up_proj.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[24,48]},\
                "model.norm.weight":{"dtype":"F16","shape":[3],"data_offsets":[48,54]},\
                "lm_head.weight":{"dtype":"F32","shape":[4,3],"data_offsets":[54,102]}}""", 102);
        int headerEnd = 8 + (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
        SplittableRandom random = new SplittableRandom(20261206L);
        int opened = 0;
        for (int c = 0; c < CASES; c++) {
            byte[] bytes = mutate(valid, headerEnd, random);
            Path file = tmp.resolve("case" + c + ".safetensors");
            Files.write(file, bytes);
            opened += openAndReadAll(file) ? 1 : 0;
            Files.delete(file);
        }
        // Some mutations leave a readable file (a changed digit of a shape that still fits, a name).
        assertTrue(opened > 0 && opened < CASES, opened + " of " + CASES + " opened");
    }

    @Test
    void mutatedIndexesFailCleanly() throws IOException {
        Path model = tmp.resolve("sharded");
        Files.createDirectories(model);
        Files.write(model.resolve("a.safetensors"),
                safetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        Files.write(model.resolve("b.safetensors"),
                safetensors("{\"y\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12));
        byte[] index = """
                {"metadata": {"total_size": 20},
                 "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}}""".getBytes(StandardCharsets.UTF_8);
        SplittableRandom random = new SplittableRandom(7L);
        Path indexFile = model.resolve("model.safetensors.index.json");
        for (int c = 0; c < CASES / 3; c++) {
            Files.write(indexFile, mutateText(index, random));
            // A broken index names itself; one that parses but disagrees with a shard, the shard.
            openAndReadAll(model, "sharded/");
        }
    }

    private boolean openAndReadAll(Path file) {
        return openAndReadAll(file, file.getFileName().toString());
    }

    /** True when the checkpoint opened and read; false when it failed as bad input naming {@code named} (a path part). */
    private boolean openAndReadAll(Path location, String named) {
        try (Checkpoint checkpoint = Checkpoint.open(location.toString(), conf)) {
            for (String name : checkpoint.tensorNames()) {
                TensorInfo info = checkpoint.info(name);
                float[] values = checkpoint.readFloats(name);
                assertEquals(info.numElements(), values.length, name);
            }
            return true;
        } catch (BadInputException e) {
            assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' names " + named);
            assertTrue(!e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
            return false;
        } catch (RuntimeException e) {
            throw new AssertionError("not a bad-input error for " + location, e);
        } catch (Exception e) {
            fail("closing " + location, e);
            return false;
        }
    }

    private static byte[] mutate(byte[] valid, int headerEnd, SplittableRandom random) {
        byte[] bytes = valid.clone();
        switch (random.nextInt(5)) {
            case 0 -> {
                for (int flips = 1 + random.nextInt(3), i = 0; i < flips; i++) {
                    bytes[8 + random.nextInt(headerEnd - 8)] = (byte) random.nextInt(256);
                }
            }
            case 1 -> {
                byte[] shorter = new byte[random.nextInt(bytes.length)];
                System.arraycopy(bytes, 0, shorter, 0, shorter.length);
                return shorter;
            }
            case 2 -> {
                long length = headerEnd - 8;
                long changed = switch (random.nextInt(3)) {
                    case 0 -> length + random.nextInt(-16, 17);
                    case 1 -> random.nextLong();
                    default -> length ^ (1L << random.nextInt(64));
                };
                ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, changed);
            }
            case 3 -> {
                return splice(bytes, 8 + random.nextInt(headerEnd - 8), random);
            }
            default -> {
                // A digit changed: shapes and offsets that parse but disagree with the file.
                int at = 8 + random.nextInt(headerEnd - 8);
                while (at < headerEnd && !Character.isDigit(bytes[at])) {
                    at++;
                }
                if (at < headerEnd) {
                    bytes[at] = (byte) ('0' + random.nextInt(10));
                }
            }
        }
        return bytes;
    }

    /** A byte deleted, inserted or replaced at {@code at} (the length prefix left as it was). */
    private static byte[] splice(byte[] bytes, int at, SplittableRandom random) {
        byte[] pool = "{}[]\",:0123456789-.eE \\u\u00e9".getBytes(StandardCharsets.UTF_8);
        byte b = pool[random.nextInt(pool.length)];
        return switch (random.nextInt(3)) {
            case 0 -> concat(slice(bytes, 0, at), slice(bytes, at + 1, bytes.length));
            case 1 -> concat(slice(bytes, 0, at), new byte[] {b}, slice(bytes, at, bytes.length));
            default -> {
                byte[] copy = bytes.clone();
                copy[at] = b;
                yield copy;
            }
        };
    }

    private static byte[] mutateText(byte[] text, SplittableRandom random) {
        byte[] bytes = text;
        for (int edits = 1 + random.nextInt(2), i = 0; i < edits; i++) {
            bytes = splice(bytes, random.nextInt(bytes.length), random);
        }
        return bytes;
    }

    private static byte[] safetensors(String json, int dataBytes) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        for (int i = 0; i < dataBytes; i++) {
            b.put((byte) (i * 37));
        }
        return b.array();
    }

    private static byte[] slice(byte[] bytes, int from, int to) {
        byte[] out = new byte[to - from];
        System.arraycopy(bytes, from, out, 0, out.length);
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] p : parts) {
            length += p.length;
        }
        ByteBuffer out = ByteBuffer.allocate(length);
        for (byte[] p : parts) {
            out.put(p);
        }
        return out.array();
    }
}
