package dev.mergeval.eval.datasets;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.BadInputException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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

    /** A UTF-8 reader of the file, with a leading byte-order mark removed. */
    public static BufferedReader open(String path) {
        Path p = new Path(path);
        try {
            FileSystem fs = p.getFileSystem(HadoopFs.defaults());
            if (!fs.exists(p)) {
                throw new BadInputException(path + ": file not found");
            }
            if (fs.getFileStatus(p).isDirectory()) {
                throw new BadInputException(path + ": is a directory, expected a file");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(p), StandardCharsets.UTF_8));
            r.mark(1);
            if (r.read() != '\uFEFF') {
                r.reset();
            }
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + path, e);
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
