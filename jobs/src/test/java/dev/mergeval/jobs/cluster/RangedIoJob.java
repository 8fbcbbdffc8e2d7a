package dev.mergeval.jobs.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A Spark job that writes files through Hadoop FileSystem on executors and reads byte ranges of
 * them back by positional reads, the access pattern of the distributed merge. Contents are a pure
 * function of (file index, byte offset), so any reader can check any range without the file.
 */
public final class RangedIoJob {

    /** A range read back: which file, where, and the bytes found there. */
    public record Range(int file, long offset, byte[] bytes) implements java.io.Serializable {
    }

    private RangedIoJob() {
    }

    /** The byte at {@code offset} of file {@code file}. */
    public static byte expected(int file, long offset) {
        long z = (offset + 1) * 0x9E3779B97F4A7C15L + file * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        return (byte) (z ^ (z >>> 31));
    }

    /** Writes {@code files} files of {@code size} bytes under {@code dir}, one task each. */
    public static void write(JavaSparkContext sc, String dir, int files, int size, Map<String, String> conf) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            ids.add(i);
        }
        sc.parallelize(ids, files).foreach(i -> writeOne(new Path(dir, "part-" + i), i, size, conf));
    }

    /** Reads {@code ranges} random ranges of up to {@code maxLength} bytes from each file, on executors. */
    public static List<Range> readRanges(JavaSparkContext sc, String dir, int files, int size, int ranges,
            int maxLength, Map<String, String> conf) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            ids.add(i);
        }
        return sc.parallelize(ids, files)
                .flatMap(i -> readOne(new Path(dir, "part-" + i), i, size, ranges, maxLength, conf).iterator())
                .collect();
    }

    private static void writeOne(Path path, int file, int size, Map<String, String> settings) {
        byte[] chunk = new byte[64 * 1024];
        try (FSDataOutputStream out = FileSystem.get(path.toUri(), conf(settings)).create(path, true)) {
            for (long at = 0; at < size; at += chunk.length) {
                int n = (int) Math.min(chunk.length, size - at);
                for (int k = 0; k < n; k++) {
                    chunk[k] = expected(file, at + k);
                }
                out.write(chunk, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Range> readOne(Path path, int file, int size, int ranges, int maxLength,
            Map<String, String> settings) {
        SplittableRandom random = new SplittableRandom(file);
        List<Range> out = new ArrayList<>();
        try (FSDataInputStream in = FileSystem.get(path.toUri(), conf(settings)).open(path)) {
            for (int r = 0; r < ranges; r++) {
                long offset = random.nextLong(size);
                byte[] bytes = new byte[(int) Math.min(1 + random.nextInt(maxLength), size - offset)];
                in.readFully(offset, bytes);
                out.add(new Range(file, offset, bytes));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static Configuration conf(Map<String, String> settings) {
        Configuration conf = new Configuration();
        settings.forEach(conf::set);
        return conf;
    }
}
