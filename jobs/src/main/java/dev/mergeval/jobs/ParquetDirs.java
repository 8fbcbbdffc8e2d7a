package dev.mergeval.jobs;

import dev.mergeval.checkpoint.HadoopFs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Parquet directories that are the same bytes for the same rows. Spark names each part file after
 * its write job ({@code part-00000-<random uuid>-c000.snappy.parquet}) and, on a checksummed local
 * filesystem, writes {@code .crc} side files named after them; so two runs of the same sweep would
 * leave different listings. After Spark's write, the part files lose the job's id
 * ({@code part-00000-c000.snappy.parquet}) and the side files go; readers see the same table.
 */
public final class ParquetDirs {
    private static final Pattern PART =
            Pattern.compile("part-(\\d+)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(-c\\d+)?(\\..*)");

    private ParquetDirs() {
    }

    /** Renames the part files of the Parquet directory {@code dir} to names without the job's id, and drops side files. */
    public static void normalize(String dir, Configuration conf) {
        Path path = new Path(dir);
        FileSystem fs = HadoopFs.get(path, conf);
        try {
            for (FileStatus f : fs.listStatus(path)) {
                String name = f.getPath().getName();
                if (name.startsWith(".") && name.endsWith(".crc")) {
                    fs.delete(f.getPath(), false);
                    continue;
                }
                Matcher m = PART.matcher(name);
                if (m.matches()) {
                    String stable = "part-" + m.group(1) + (m.group(2) == null ? "" : m.group(2)) + m.group(3);
                    if (!fs.rename(f.getPath(), new Path(path, stable))) {
                        throw new IOException("cannot rename " + f.getPath() + " to " + stable);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot name the part files of " + dir, e);
        }
    }
}
