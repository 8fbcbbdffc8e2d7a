package dev.mergeval.jobs;

import dev.mergeval.checkpoint.HadoopFs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.IOUtils;
import org.apache.parquet.format.ColumnChunk;
import org.apache.parquet.format.ColumnMetaData;
import org.apache.parquet.format.Encoding;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.RowGroup;
import org.apache.parquet.format.Util;

/**
 * Parquet directories that are the same bytes for the same rows. Spark names each part file after
 * its write job ({@code part-00000-<random uuid>-c000.snappy.parquet}) and, on a checksummed local
 * filesystem, writes {@code .crc} side files named after them; so two runs of the same sweep would
 * leave different listings. After Spark's write, the part files lose the job's id
 * ({@code part-00000-c000.snappy.parquet}) and the side files go; readers see the same table.
 * Parquet also lists each column chunk's encodings in its footer in the order of a {@code HashSet}
 * of enum constants, whose hash is the JVM's identity hash: so the footer of the same rows differs
 * from one JVM to the next. Those lists are sorted (by the encodings' numbers in the format).
 */
public final class ParquetDirs {
    private static final Pattern PART =
            Pattern.compile("part-(\\d+)-[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(-c\\d+)?(\\..*)");

    private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);

    /** The footer's length (4 bytes, little-endian) and the magic after it. */
    private static final int TAIL = 8;

    private ParquetDirs() {
    }

    /**
     * Renames the part files of the Parquet directory {@code dir} to names without the job's id,
     * with their footers' encoding lists sorted, and drops side files.
     */
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
                    Path target = new Path(path, stable);
                    if (!sortEncodings(fs, f, target) && !fs.rename(f.getPath(), target)) {
                        throw new IOException("cannot rename " + f.getPath() + " to " + stable);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot name the part files of " + dir, e);
        }
    }

    /**
     * Writes {@code part} to {@code target} with every column chunk's encodings sorted and deletes
     * it, when its footer lists some out of order; false (nothing written) when none is.
     */
    private static boolean sortEncodings(FileSystem fs, FileStatus part, Path target) throws IOException {
        long length = part.getLen();
        byte[] footer;
        long footerStart;
        try (FSDataInputStream in = fs.open(part.getPath())) {
            byte[] tail = new byte[TAIL];
            in.readFully(length - TAIL, tail);
            int footerLength = ByteBuffer.wrap(tail).order(ByteOrder.LITTLE_ENDIAN).getInt();
            footerStart = length - TAIL - footerLength;
            footer = new byte[footerLength];
            in.readFully(footerStart, footer);
        }
        FileMetaData metadata = Util.readFileMetaData(new ByteArrayInputStream(footer));
        boolean changed = false;
        for (RowGroup group : metadata.getRow_groups()) {
            for (ColumnChunk chunk : group.getColumns()) {
                ColumnMetaData column = chunk.getMeta_data();
                List<Encoding> sorted = new ArrayList<>(column.getEncodings());
                sorted.sort(Comparator.comparingInt(Encoding::getValue));
                if (!sorted.equals(column.getEncodings())) {
                    column.setEncodings(sorted);
                    changed = true;
                }
            }
        }
        if (!changed) {
            return false;
        }
        ByteArrayOutputStream sortedFooter = new ByteArrayOutputStream(footer.length);
        Util.writeFileMetaData(metadata, sortedFooter);
        // The same values in another order: the footer keeps its length, the data pages their offsets.
        try (FSDataInputStream in = fs.open(part.getPath()); OutputStream out = fs.create(target, true)) {
            IOUtils.copyBytes(in, out, footerStart, false);
            sortedFooter.writeTo(out);
            out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(sortedFooter.size()).array());
            out.write(MAGIC);
        }
        if (!fs.delete(part.getPath(), false)) {
            throw new IOException("cannot delete " + part.getPath() + " after writing " + target);
        }
        return true;
    }
}
