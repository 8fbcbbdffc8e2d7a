package dev.mergeval.eval.datasets;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FilterReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Opens dataset files through the Hadoop FileSystem API, so a suite may name local paths or any
 * scheme the cluster is configured for ({@code s3a://}, {@code hdfs://}), with the job's Hadoop
 * settings ({@link HadoopFs#defaults()}).
 */
public final class DatasetFiles {

    private DatasetFiles() {
    }

    /**
     * A UTF-8 reader of the file, with a leading byte-order mark removed. Bytes that are not UTF-8
     * are bad input naming the line they are on (a Latin-1 file read as UTF-8 would turn each
     * accented letter into U+FFFD, silently changing prompts and answers).
     */
    public static BufferedReader open(String path) {
        return open(path, HadoopFs.defaults());
    }

    /** {@link #open(String)} with the job's Hadoop settings {@code conf}. */
    public static BufferedReader open(String path, Configuration conf) {
        Path p = new Path(path);
        try {
            FileSystem fs = p.getFileSystem(conf);
            if (!fs.exists(p)) {
                throw new BadInputException(path + ": file not found");
            }
            if (fs.getFileStatus(p).isDirectory()) {
                throw new BadInputException(path + ": is a directory, expected a file");
            }
            BufferedReader r = new BufferedReader(new Utf8Lines(path, new InputStreamReader(fs.open(p),
                    StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT))));
            r.mark(1);
            if (r.read() != '\uFEFF') {
                r.reset();
            }
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + path, e);
        }
    }

    /** Reports bytes that are not UTF-8 as bad input naming their line (found by reading the file again). */
    private static final class Utf8Lines extends FilterReader {
        private final String path;

        Utf8Lines(String path, Reader in) {
            super(in);
            this.path = path;
        }

        @Override
        public int read(char[] buf, int off, int len) throws IOException {
            try {
                return super.read(buf, off, len);
            } catch (CharacterCodingException e) {
                throw new BadInputException(path + ":" + firstBadLine(path) + ": not UTF-8 text (a byte sequence"
                        + " that is not UTF-8; convert the file, e.g. iconv -f latin1 -t utf-8)");
            }
        }

        @Override
        public int read() throws IOException {
            char[] one = new char[1];
            return read(one, 0, 1) < 0 ? -1 : one[0];
        }

        /** The 1-based line of the file's first byte sequence that is not UTF-8 (the decoder reads ahead). */
        private static long firstBadLine(String path) throws IOException {
            Path p = new Path(path);
            try (InputStream in = new BufferedInputStream(
                    p.getFileSystem(HadoopFs.defaults()).open(p))) {
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                long number = 1;
                for (int b; (b = in.read()) >= 0; ) {
                    if (b != '\n') {
                        line.write(b);
                        continue;
                    }
                    if (!utf8(line.toByteArray())) {
                        return number;
                    }
                    line.reset();
                    number++;
                }
                return number;
            }
        }

        private static boolean utf8(byte[] bytes) {
            try {
                StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
                return true;
            } catch (CharacterCodingException e) {
                return false;
            }
        }
    }

    /** The files directly inside {@code dir} whose names end with {@code suffix}, sorted by name. */
    public static List<String> list(String dir, String suffix) {
        Path p = new Path(dir);
        try {
            FileSystem fs = p.getFileSystem(HadoopFs.defaults());
            if (!fs.exists(p) || !fs.getFileStatus(p).isDirectory()) {
                throw new BadInputException(dir + ": not a directory");
            }
            List<String> out = new ArrayList<>();
            for (FileStatus s : fs.listStatus(p)) {
                if (s.isFile() && s.getPath().getName().endsWith(suffix)) {
                    out.add(s.getPath().toString());
                }
            }
            out.sort(null);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    /** The file name without directory and extension: the default id prefix and category. */
    public static String stem(String path) {
        String name = new Path(path).getName();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
